import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckResult } from './check.js';
import { PROBE_DEFAULTS, runHedged, type Attempt } from './hedge.js';
import { fail, pass } from './outcome.js';

/** Attempts scripted by index: each resolves after `afterMs` (fake time) with its result, or never. */
function scripted(plan: Record<number, { afterMs: number; result: CheckResult } | 'silent'>) {
  const started: { index: number; at: number; signal: AbortSignal }[] = [];
  const attempt: Attempt = (index, signal) => {
    started.push({ index, at: Date.now(), signal });
    const step = plan[index] ?? 'silent';
    if (step === 'silent') return new Promise(() => undefined);
    return new Promise((resolve) => setTimeout(() => resolve(step.result), step.afterMs));
  };
  return { attempt, started };
}

const policy = { timeoutMs: 1000, attempts: 4, hedgeDelayMs: 250 };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'], now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runHedged', () => {
  it('sends one request when the first answers within the hedge delay', async () => {
    const { attempt, started } = scripted({ 0: { afterMs: 5, result: pass('HTTP 200') } });
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'pass', output: 'HTTP 200', attempts: 1, durationMs: 5 });
    expect(started.map((s) => s.index)).toEqual([0]);
  });

  it('starts a fresh attempt each hedge delay while none answered, and the first pass wins', async () => {
    const { attempt, started } = scripted({ 0: 'silent', 1: 'silent', 2: { afterMs: 40, result: pass('HTTP 200') } });
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'pass', attempts: 3, durationMs: 540 });
    expect(started.map((s) => [s.index, s.at])).toEqual([[0, 0], [1, 250], [2, 500]]);
    // The losers are aborted: a stuck kept-alive connection is not kept.
    expect(started.map((s) => s.signal.aborted)).toEqual([true, true, true]);
  });

  it('ends at once on a failure the target answered (another attempt would hear the same)', async () => {
    const { attempt, started } = scripted({ 0: { afterMs: 10, result: fail('HTTP 503', { httpStatus: 503 }) } });
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'fail', output: 'HTTP 503', httpStatus: 503, attempts: 1, durationMs: 10 });
    expect(started).toHaveLength(1);
  });

  it('hands over at once when an attempt fails unanswered, so a refused target fails fast', async () => {
    const refused = { afterMs: 1, result: fail('connect ECONNREFUSED 10.0.0.1:8081') };
    const { attempt, started } = scripted({ 0: refused, 1: refused, 2: refused, 3: refused });
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'fail', output: '4 attempts failed: connect ECONNREFUSED 10.0.0.1:8081', attempts: 4, durationMs: 4 });
    expect(started.map((s) => s.at)).toEqual([0, 1, 2, 3]);
  });

  it('names every distinct reason when all attempts fail', async () => {
    const { attempt } = scripted({ 0: { afterMs: 300, result: fail('socket hang up') }, 1: { afterMs: 10, result: fail('connect ECONNRESET') } });
    const run = runHedged(attempt, { ...policy, attempts: 2 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'fail', output: '2 attempts failed: connect ECONNRESET; socket hang up', attempts: 2, durationMs: 300 });
  });

  it('fails at the timeout when nothing answers, every attempt started and aborted', async () => {
    const { attempt, started } = scripted({});
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'fail', output: 'timed out after 1000ms (4 attempts, none answered)', timedOut: true, attempts: 4, durationMs: 1000 });
    expect(started.map((s) => s.at)).toEqual([0, 250, 500, 750]);
    expect(started.every((s) => s.signal.aborted && (s.signal.reason as Error).message === 'timed out after 1000ms')).toBe(true);
  });

  it('with one attempt, says what a plain check says', async () => {
    const { attempt, started } = scripted({});
    const run = runHedged(attempt, { ...policy, attempts: 1 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await run).toMatchObject({ status: 'fail', output: 'timed out after 1000ms', timedOut: true, attempts: 1 });
    expect(started).toHaveLength(1);
  });

  it('turns a throwing attempt into an unanswered failure', async () => {
    const run = runHedged((index) => (index === 0 ? Promise.reject(new Error('boom')) : Promise.resolve(pass('HTTP 200'))), policy);
    await vi.advanceTimersByTimeAsync(10);
    expect(await run).toMatchObject({ status: 'pass', attempts: 2 });
  });

  it('stops with the caller’s reason when its signal aborts', async () => {
    const parent = new AbortController();
    const { attempt, started } = scripted({});
    const run = runHedged(attempt, policy, parent.signal);
    await vi.advanceTimersByTimeAsync(300);
    parent.abort(new Error('shutting down'));
    expect(await run).toMatchObject({ status: 'fail', output: 'shutting down', timedOut: true, attempts: 2 });
    expect(started.every((s) => s.signal.aborted)).toBe(true);
    expect(await runHedged(attempt, policy, parent.signal)).toMatchObject({ status: 'fail', output: 'shutting down', attempts: 0 });
  });

  it('leaves no listener on a long-lived caller signal', async () => {
    const parent = new AbortController();
    const { attempt } = scripted({ 0: { afterMs: 1, result: pass() } });
    for (let i = 0; i < 1_000; i++) {
      const run = runHedged(attempt, policy, parent.signal);
      await vi.advanceTimersByTimeAsync(1);
      await run;
    }
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('defaults leave room for a retransmitted SYN and start every attempt well inside the timeout', () => {
    // Linux retransmits a lost SYN after 1 s: the timeout must outlast it.
    expect(PROBE_DEFAULTS.timeoutMs).toBeGreaterThan(1_000);
    expect(PROBE_DEFAULTS.hedgeDelayMs * (PROBE_DEFAULTS.attempts - 1)).toBeLessThan(PROBE_DEFAULTS.timeoutMs);
  });
});

describe('runHedged, by property', () => {
  type Outcome = 'pass' | 'refused' | 'http 503' | 'silent';
  const script = fc.array(fc.record({ outcome: fc.constantFrom<Outcome>('pass', 'refused', 'http 503', 'silent'), afterMs: fc.integer({ min: 0, max: 1_500 }) }), {
    minLength: 1,
    maxLength: 6,
  });
  const hedging = fc.record({ timeoutMs: fc.integer({ min: 100, max: 2_000 }), attempts: fc.integer({ min: 1, max: 6 }), hedgeDelayMs: fc.integer({ min: 1, max: 800 }) });
  const resultOf = (outcome: Outcome): CheckResult =>
    outcome === 'pass' ? pass('HTTP 200', { httpStatus: 200 }) : outcome === 'http 503' ? fail('HTTP 503', { httpStatus: 503 }) : fail('connect ECONNREFUSED');

  /** Runs one script under fake time; `starts` records when each attempt began. */
  async function play(steps: readonly { outcome: Outcome; afterMs: number }[], policy: { timeoutMs: number; attempts: number; hedgeDelayMs: number }) {
    const starts: number[] = [];
    const t0 = Date.now();
    const attempt: Attempt = (index) => {
      starts.push(Date.now() - t0);
      const step = steps[index % steps.length]!;
      if (step.outcome === 'silent') return new Promise(() => undefined);
      return new Promise((resolve) => setTimeout(() => resolve(resultOf(step.outcome)), step.afterMs));
    };
    const run = runHedged(attempt, policy);
    await vi.advanceTimersByTimeAsync(policy.timeoutMs + 10);
    return { result: await run, starts };
  }

  it('passes only on an attempt that passed in time, fails only when every attempt failed, the target answered or time ran out', async () => {
    await fc.assert(
      fc.asyncProperty(script, hedging, async (steps, policy) => {
        const { result, starts } = await play(steps, policy);
        expect(result.attempts).toBe(starts.length);
        expect(starts.length).toBeLessThanOrEqual(policy.attempts);
        expect(result.durationMs).toBeLessThanOrEqual(policy.timeoutMs);
        const ended = starts.map((at, i) => ({ ...steps[i % steps.length]!, endsAt: at + steps[i % steps.length]!.afterMs }));
        const inTime = ended.filter((e) => e.outcome !== 'silent' && e.endsAt <= policy.timeoutMs);
        if (result.status === 'pass') expect(inTime.some((e) => e.outcome === 'pass')).toBe(true);
        else if (result.timedOut) expect(result.durationMs).toBe(policy.timeoutMs);
        else if (result.httpStatus !== 503) {
          // Unanswered failures only: every attempt ran and failed before the deadline.
          expect(starts.length).toBe(policy.attempts);
          expect(inTime.every((e) => e.outcome === 'refused')).toBe(true);
          expect(inTime).toHaveLength(policy.attempts);
        }
        // Every attempt started no later than the hedge delay after the previous one.
        starts.forEach((at, i) => i > 0 && expect(at - starts[i - 1]!).toBeLessThanOrEqual(policy.hedgeDelayMs));
      }),
      { numRuns: 300 },
    );
  });

  it('never turns a pass into a failure when an attempt that failed unanswered passes instead', async () => {
    await fc.assert(
      fc.asyncProperty(script, hedging, fc.nat(5), async (steps, policy, which) => {
        const i = which % steps.length;
        fc.pre(steps[i]!.outcome === 'refused' || steps[i]!.outcome === 'silent');
        const before = await play(steps, policy);
        const after = await play(
          steps.map((s, j) => (j === i ? { ...s, outcome: 'pass' as const } : s)),
          policy,
        );
        if (before.result.status === 'pass') expect(after.result.status).toBe('pass');
      }),
      { numRuns: 300 },
    );
  });
});
