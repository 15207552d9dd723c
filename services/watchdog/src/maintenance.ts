import { join } from 'node:path';
import { JsonFile, Type, type Static } from '@vigil/core';
import cron, { type ScheduledTask } from 'node-cron';
import Value from 'typebox/value';

export interface MaintenanceWindowConfig {
  name: string;
  cron: string;
  duration: number;
  timezone?: string | undefined;
  /** monitors concerned; all when absent */
  monitors?: string[] | undefined;
}

/**
 * One recurring maintenance window: open from each cron match for `duration`. Answers for a given
 * time without timers: it walks the cron matches between the last question and this one (one step
 * per second, per minute for five-field expressions), so a window already open at start is seen.
 */
class Window {
  private readonly matcher: ScheduledTask;
  private readonly stepMs: number;
  private scannedUpTo: number | undefined;
  private openUntil = Number.NEGATIVE_INFINITY;

  constructor(readonly config: MaintenanceWindowConfig) {
    // A task never started: used only for its matcher (with the time zone).
    this.matcher = cron.createTask(config.cron, () => undefined, config.timezone ? { timezone: config.timezone } : {});
    this.stepMs = config.cron.trim().split(/\s+/).length === 6 ? 1000 : 60_000;
  }

  appliesTo(monitor: string): boolean {
    return this.config.monitors === undefined || this.config.monitors.includes(monitor);
  }

  activeAt(now: number): boolean {
    const floor = Math.floor(now / this.stepMs) * this.stepMs;
    // Only matches within one duration of now can still be open.
    let t = Math.max(this.scannedUpTo === undefined ? -Infinity : this.scannedUpTo + this.stepMs, floor - Math.ceil(this.config.duration / this.stepMs) * this.stepMs);
    for (; t <= floor; t += this.stepMs) {
      if (this.matcher.match(new Date(t))) this.openUntil = t + this.config.duration;
    }
    this.scannedUpTo = Math.max(this.scannedUpTo ?? floor, floor);
    return now < this.openUntil;
  }

  close(): void {
    void this.matcher.destroy();
  }
}

const StoredPauses = Type.Object({
  version: Type.Literal(1),
  paused: Type.Record(
    Type.String(),
    Type.Object({
      since: Type.String(),
      /** the pause ends by itself at this time (a pause without one lasts until resumed) */
      until: Type.Optional(Type.String()),
      reason: Type.Optional(Type.String()),
      operator: Type.Optional(Type.String()),
    }),
  ),
});
type StoredPauses = Static<typeof StoredPauses>;
export type Pause = StoredPauses['paused'][string];

/**
 * When monitors are in maintenance: configured windows, and pauses set through the API (kept in
 * `dataDir/pauses.json`, so a restart does not end a pause).
 */
export class Maintenance {
  private readonly windows: Window[];
  private readonly file: JsonFile<StoredPauses>;
  private readonly paused: Map<string, Pause>;

  constructor(windows: readonly MaintenanceWindowConfig[], dataDir: string) {
    this.windows = windows.map((w) => new Window(w));
    this.file = new JsonFile(join(dataDir, 'pauses.json'));
    const stored = this.file.load();
    if (stored !== undefined && !Value.Check(StoredPauses, stored)) {
      throw new Error(`pause file ${this.file.path} is not one this version understands; move it aside to start afresh`);
    }
    this.paused = new Map(Object.entries(stored?.paused ?? {}));
  }

  /**
   * Whether `monitor` is paused or inside one of its maintenance windows at `now`. A pause past its
   * `until` no longer counts, even before `expire` removes it: expiry does not depend on a timer.
   */
  activeFor(monitor: string, now: number): boolean {
    return this.pauseOf(monitor, now) !== undefined || this.windows.some((w) => w.appliesTo(monitor) && w.activeAt(now));
  }

  /** The monitor's pause in force at `now` (any pause when `now` is not given). */
  pauseOf(monitor: string, now?: number): Pause | undefined {
    const pause = this.paused.get(monitor);
    if (pause === undefined || (now !== undefined && expired(pause, now))) return undefined;
    return pause;
  }

  /**
   * Removes the pauses whose `until` has passed at `now` and returns them (with their monitor), so
   * the caller can log and audit each once. Called on a sweep and at start, so a restart after the
   * expiry time resumes the monitor.
   */
  async expire(now: number): Promise<{ monitor: string; pause: Pause }[]> {
    const ended: { monitor: string; pause: Pause }[] = [];
    for (const [monitor, pause] of this.paused) {
      if (expired(pause, now)) ended.push({ monitor, pause });
    }
    if (ended.length === 0) return ended;
    for (const { monitor } of ended) this.paused.delete(monitor);
    await this.save();
    return ended;
  }

  async pause(monitor: string, pause: Pause): Promise<void> {
    this.paused.set(monitor, pause);
    await this.save();
  }

  async resume(monitor: string): Promise<boolean> {
    const was = this.paused.delete(monitor);
    if (was) await this.save();
    return was;
  }

  close(): void {
    for (const w of this.windows) w.close();
  }

  private save(): Promise<void> {
    return this.file.save({ version: 1, paused: Object.fromEntries(this.paused) });
  }
}

function expired(pause: Pause, now: number): boolean {
  return pause.until !== undefined && Date.parse(pause.until) <= now;
}
