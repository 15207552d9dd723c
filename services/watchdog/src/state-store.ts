import { join } from 'node:path';
import { JsonFile, Type, type Static } from '@vigil/core';
import Value from 'typebox/value';
import { MonitorState } from './decision.js';

const StoredMonitors = Type.Object({
  version: Type.Literal(1),
  monitors: Type.Record(Type.String(), MonitorState),
});
type StoredMonitors = Static<typeof StoredMonitors>;

/**
 * Every monitor's decision state in `dataDir/monitors.json`, so that a restart resumes an open
 * incident instead of raising it (and asking for activation) a second time.
 */
export class MonitorStateStore {
  private readonly file: JsonFile<StoredMonitors>;
  private readonly states = new Map<string, MonitorState>();

  constructor(dataDir: string) {
    this.file = new JsonFile(join(dataDir, 'monitors.json'));
  }

  /** Loads the stored states of the configured monitors; state of monitors no longer configured is dropped. */
  load(names: readonly string[]): ReadonlyMap<string, MonitorState> {
    const stored = this.file.load();
    if (stored !== undefined && !Value.Check(StoredMonitors, stored)) {
      throw new Error(`state file ${this.file.path} does not hold monitor states this version understands; move it aside to start afresh`);
    }
    for (const name of names) {
      const state = stored?.monitors[name];
      if (state) this.states.set(name, state);
    }
    return this.states;
  }

  /** Records one monitor's state and writes the whole snapshot; resolves once it is durable. */
  save(name: string, state: MonitorState): Promise<void> {
    this.states.set(name, state);
    return this.file.save({ version: 1, monitors: Object.fromEntries(this.states) });
  }
}
