import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '@vigil/core';

/** When a monitor runs: every `everyMs`, or on a node-cron expression (with seconds). */
export type Schedule = { everyMs: number } | { cron: string };

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
    const first = this.now();
    this.tick(first);
    const { schedule } = this.options;
    if ('everyMs' in schedule) this.armInterval(first + schedule.everyMs, schedule.everyMs);
    else this.startCron(schedule.cron);
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

  private startCron(expression: string): void {
    this.task = cron.createTask(expression, (context) => this.tick(context.date.getTime()), {
      // Overlap is handled here, where skipped ticks are counted, rather than inside node-cron.
      noOverlap: false,
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

/** Routes node-cron's own messages into the service log. */
function cronLogger(logger: Logger) {
  return {
    info: (message: string) => logger.info(message),
    warn: (message: string) => logger.warn(message),
    error: (message: string | Error, err?: Error) => logger.error({ err: err ?? message }, 'scheduler error'),
    debug: (message: string | Error) => logger.debug(String(message)),
  };
}
