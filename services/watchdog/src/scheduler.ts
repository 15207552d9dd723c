import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '@vigil/core';

/** First runs of monitors with an offset are spread over at most this long after start. */
const START_SPREAD_MS = 5_000;

/**
 * When a monitor runs: every `everyMs`, or on a node-cron expression (with seconds, in `timezone`).
 * With `offsetMs`, interval slots sit on the wall-clock grid `k × everyMs + offsetMs`: different
 * offsets spread many monitors over the interval, and the same offset keeps a monitor's slots where
 * they were across restarts.
 */
export type Schedule = { everyMs: number; offsetMs?: number } | { cron: string; timezone?: string };

/** A stable offset in [0, everyMs) for a monitor name (FNV-1a), so that monitors do not all probe at once. */
export function stableOffset(name: string, everyMs: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return hash % Math.max(1, Math.floor(everyMs));
}

export interface SchedulerOptions {
  schedule: Schedule;
  /** One run (a probe cycle). Rejections are reported through `onError`, never thrown into a timer. */
  run: () => Promise<void>;
  /** A tick found the previous run still going and was dropped. */
  onSkip?: (intendedAtMs: number) => void;
  /** How late a run started compared with its slot. */
  onLag?: (lagMs: number) => void;
  onError?: (err: unknown) => void;
  logger?: Logger;
  now?: () => number;
}

/**
 * Runs one monitor on its schedule: the first run at once, then on every slot, never two runs of
 * the same monitor at a time — a slot that finds the previous run still going is skipped, so a
 * hung target cannot pile up probes.
 */
export class Scheduler {
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private task: ScheduledTask | undefined;
  private stopped = false;
  private skipped = 0;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  get skippedTicks(): number {
    return this.skipped;
  }

  start(): void {
    const { schedule } = this.options;
    // With an offset, the first run is spread over the first seconds too: thousands of monitors
    // starting together would otherwise queue behind each other and time out.
    const delay = 'everyMs' in schedule && schedule.offsetMs !== undefined ? schedule.offsetMs % Math.min(schedule.everyMs, START_SPREAD_MS) : 0;
    if (delay === 0) this.begin();
    else this.timer = setTimeout(() => this.begin(), delay);
  }

  private begin(): void {
    if (this.stopped) return;
    const first = this.now();
    this.tick(first);
    const { schedule } = this.options;
    if ('everyMs' in schedule) this.armInterval(firstSlot(first, schedule.everyMs, schedule.offsetMs), schedule.everyMs);
    else this.startCron(schedule.cron, schedule.timezone);
  }

  /** Stops ticking and waits for a run in progress to finish. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.task) await this.task.destroy();
    await this.inFlight;
  }

  private tick(intendedAtMs: number): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.skipped++;
      this.options.onSkip?.(intendedAtMs);
      return;
    }
    this.options.onLag?.(Math.max(0, this.now() - intendedAtMs));
    this.inFlight = this.runOnce().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async runOnce(): Promise<void> {
    try {
      await this.options.run();
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  /**
   * Slots stay on the grid `start + k × interval` (a slow run does not shift later ones). After a
   * stall longer than an interval, the missed slots count as skipped and the next one is in the future.
   */
  private armInterval(slot: number, everyMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick(slot);
      let nextSlot = slot + everyMs;
      const now = this.now();
      while (nextSlot <= now) {
        this.skipped++;
        this.options.onSkip?.(nextSlot);
        nextSlot += everyMs;
      }
      this.armInterval(nextSlot, everyMs);
    }, Math.max(0, slot - this.now()));
  }

  private startCron(expression: string, timezone: string | undefined): void {
    this.task = cron.createTask(expression, (context) => this.tick(context.date.getTime()), {
      // Overlap is handled here, where skipped ticks are counted, rather than inside node-cron.
      noOverlap: false,
      ...(timezone !== undefined && { timezone }),
      ...(this.options.logger && { logger: cronLogger(this.options.logger) }),
    });
    // Slots node-cron could not serve in time (event loop stalled) are skipped ticks too.
    this.task.on('execution:missed', (context) => {
      this.skipped++;
      this.options.onSkip?.(context.date.getTime());
    });
    void this.task.start();
  }
}

/**
 * The slot after the run at start: one interval later without an offset; with one, the first grid
 * slot at least half an interval away (so that it does not find the first run still going).
 */
function firstSlot(start: number, everyMs: number, offsetMs: number | undefined): number {
  if (offsetMs === undefined) return start + everyMs;
  const from = start + everyMs / 2;
  const phase = (((from - offsetMs) % everyMs) + everyMs) % everyMs;
  return phase === 0 ? from : from - phase + everyMs;
}

/** The typical (median) gap between a cron expression's next runs: how often it runs, for staleness. */
export function typicalCronGap(expression: string, timezone?: string): number {
  const task = cron.createTask(expression, () => undefined, timezone ? { timezone } : {});
  try {
    const runs = task.getNextRuns(25).map((d) => d.getTime());
    const gaps = runs.slice(1).map((t, i) => t - runs[i]!).sort((a, b) => a - b);
    return gaps[Math.floor(gaps.length / 2)] ?? 1000;
  } finally {
    void task.destroy();
  }
}

/** Routes node-cron's own messages into the service log. */
function cronLogger(logger: Logger) {
  return {
    info: (message: string) => logger.info(message),
    warn: (message: string) => logger.warn(message),
    error: (message: string | Error, err?: Error) => logger.error({ err: err ?? message }, 'scheduler error'),
    debug: (message: string | Error) => logger.debug(String(message)),
  };
}
