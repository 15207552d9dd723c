import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

/** A run that stays in progress until released. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}

describe('Scheduler (interval)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function scheduler(overrides: Partial<SchedulerOptions> = {}) {
    const runs: number[] = [];
    const skips: number[] = [];
    const lags: number[] = [];
    const s = new Scheduler({
      schedule: { everyMs: 1000 },
      run: () => {
        runs.push(Date.now());
        return Promise.resolve();
      },
      onSkip: (at) => skips.push(at),
      onLag: (ms) => lags.push(ms),
      ...overrides,
    });
    return { s, runs, skips, lags };
  }

  it('runs at once on start, then once per interval on a fixed grid', async () => {
    const { s, runs, lags } = scheduler();
    const t0 = Date.now();
    s.start();
    expect(runs).toEqual([t0]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(runs).toEqual([t0, t0 + 1000, t0 + 2000, t0 + 3000]);
    expect(lags.every((lag) => lag === 0)).toBe(true);
    await s.close();
  });

  it('never overlaps runs: ticks during a run are skipped and counted', async () => {
    const slow = gate();
    let calls = 0;
    const { s, skips } = scheduler({
      run: () => {
        calls++;
        return calls === 1 ? slow.done : Promise.resolve();
      },
    });
    const t0 = Date.now();
    s.start();
    await vi.advanceTimersByTimeAsync(3500);
    expect(calls).toBe(1);
    expect(s.skippedTicks).toBe(3);
    expect(skips).toEqual([t0 + 1000, t0 + 2000, t0 + 3000]);

    slow.release();
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(2);
    await s.close();
  });

  it('keeps running after a run fails, and reports the failure', async () => {
    const errors: unknown[] = [];
    const { s } = scheduler({ run: () => Promise.reject(new Error('boom')), onError: (err) => errors.push(err) });
    s.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(errors).toHaveLength(3);
    await s.close();
  });

  it('records how late a run started and counts slots lost to a stalled event loop', async () => {
    let offset = 0;
    const { s, runs, lags } = scheduler({ now: () => Date.now() + offset });
    s.start();
    // The next timer fires 3.25 intervals late, as after a long synchronous stall.
    offset = 3250;
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toHaveLength(2);
    expect(lags.at(-1)).toBe(3250);
    expect(s.skippedTicks).toBe(3);
    await s.close();
  });

  it('stops on close and waits for the run in progress', async () => {
    const slow = gate();
    let finished = false;
    const { s, runs } = scheduler({
      run: async () => {
        runs.push(Date.now());
        await slow.done;
        finished = true;
      },
    });
    s.start();
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false);
    slow.release();
    await closing;
    expect(finished).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toHaveLength(1);
  });
});

describe('Scheduler (cron)', () => {
  it('runs at once, then on each cron slot, without overlap', async () => {
    const starts: number[] = [];
    const slow = gate();
    const s = new Scheduler({
      schedule: { cron: '* * * * * *' },
      run: () => {
        starts.push(Date.now());
        // the second run hangs until released, so later slots must be skipped
        return starts.length === 2 ? slow.done : Promise.resolve();
      },
    });
    s.start();
    expect(starts).toHaveLength(1);
    // Real time: generous bounds so a loaded machine does not make this flaky.
    await vi.waitFor(() => expect(starts).toHaveLength(2), { timeout: 5000, interval: 20 });
    await vi.waitFor(() => expect(s.skippedTicks).toBeGreaterThanOrEqual(1), { timeout: 5000, interval: 20 });
    expect(starts).toHaveLength(2);
    slow.release();
    await s.close();
    const after = starts.length;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(starts).toHaveLength(after);
  });
});
