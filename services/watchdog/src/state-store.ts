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
  /** The write in progress, and the one that will follow it with every change made meanwhile. */
  private writing: Promise<void> | undefined;
  private nextWrite: Promise<void> | undefined;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private urgent = false;
  private hurry: (() => void) | undefined;

  constructor(
    dataDir: string,
    /** Writes that nothing waits for are at least this far apart: thousands of monitors flapping cost one write per period. */
    private readonly minGapMs = 1_000,
  ) {
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

  /**
   * Records one monitor's state; resolves once a snapshot holding it is durable. Changes share
   * snapshots (group commit). An `urgent` save — an alert or activation waits for it — is written
   * as soon as the write in progress ends; others wait for `minGapMs` after the previous write.
   */
  save(name: string, state: MonitorState, urgent = false): Promise<void> {
    this.states.set(name, state);
    this.nextWrite ??= this.afterCurrentWrite();
    if (urgent) {
      this.urgent = true;
      this.hurry?.();
    }
    return this.nextWrite;
  }

  /** Writes pending changes now (shutdown). */
  async flush(): Promise<void> {
    if (!this.nextWrite) return;
    this.urgent = true;
    this.hurry?.();
    await this.nextWrite;
  }

  private async afterCurrentWrite(): Promise<void> {
    await this.writing?.catch(() => undefined);
    const wait = this.urgent ? 0 : this.lastWriteAt + this.minGapMs - Date.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.hurry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.hurry = undefined;
    this.urgent = false;
    this.nextWrite = undefined;
    this.lastWriteAt = Date.now();
    this.writing = this.file.save({ version: 1, monitors: Object.fromEntries(this.states) });
    return this.writing;
  }
}
