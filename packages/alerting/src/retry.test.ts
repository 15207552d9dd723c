import { describe, expect, it } from 'vitest';
import type { DeliveryResult, Notifier } from './alert.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, deliverWithRetry, type RetryPolicy } from './retry.js';
import { sampleAlert } from './testkit/conformance.js';

const OK: DeliveryResult = { ok: true, status: 200 };
const UNAVAILABLE: DeliveryResult = { ok: false, retryable: true, error: 'answered HTTP 503', status: 503 };
const REJECTED: DeliveryResult = { ok: false, retryable: false, error: 'answered HTTP 400', status: 400 };

/** A notifier that answers from a script (the last answer repeats) and counts its calls. */
function scripted(...answers: DeliveryResult[]): Notifier & { calls: number } {
  return {
    channel: 'test',
    name: 'scripted',
    calls: 0,
    notify() {
      const answer = answers[Math.min(this.calls, answers.length - 1)]!;
      this.calls++;
      return Promise.resolve(answer);
    },
  };
}

/** Runs deliverWithRetry without waiting; returns the outcome and the delays it asked for. */
async function run(notifier: Notifier, policy: Partial<RetryPolicy>, random = () => 0.5, signal = new AbortController().signal) {
  const delays: number[] = [];
  const outcome = await deliverWithRetry(notifier, sampleAlert(), policy, {
    signal,
    random,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  });
  return { ...outcome, delays };
}

describe('deliverWithRetry', () => {
  it('delivers at once when the first attempt succeeds', async () => {
    expect(await run(scripted(OK), {})).toEqual({ delivered: true, outcome: 'delivered', attempts: 1, lastResult: OK, delays: [] });
  });

  it('retries retryable failures until one succeeds', async () => {
    const result = await run(scripted(UNAVAILABLE, UNAVAILABLE, OK), { jitter: 'none' });
    expect(result).toMatchObject({ delivered: true, attempts: 3, delays: [500, 1_000] });
  });

  it('grows the backoff by the multiplier and caps it at maxBackoffMs', async () => {
    const notifier = scripted(UNAVAILABLE);
    const result = await run(notifier, { maxAttempts: 8, initialBackoffMs: 100, multiplier: 3, maxBackoffMs: 5_000, jitter: 'none' });
    expect(result.delays).toEqual([100, 300, 900, 2_700, 5_000, 5_000, 5_000]);
    expect(result).toMatchObject({ delivered: false, outcome: 'exhausted', attempts: 8, lastResult: UNAVAILABLE });
  });

  it('makes exactly maxAttempts attempts', async () => {
    for (const maxAttempts of [1, 2, 5]) {
      const notifier = scripted(UNAVAILABLE);
      const result = await run(notifier, { maxAttempts });
      expect(notifier.calls).toBe(maxAttempts);
      expect(result.attempts).toBe(maxAttempts);
      expect(result.delays).toHaveLength(maxAttempts - 1);
    }
  });

  it('stops at a final failure without waiting', async () => {
    const notifier = scripted(UNAVAILABLE, REJECTED, OK);
    expect(await run(notifier, {})).toMatchObject({ delivered: false, outcome: 'rejected', attempts: 2, lastResult: REJECTED });
    expect(notifier.calls).toBe(2);
  });

  it('waits at least as long as Retry-After asks', async () => {
    const busy: DeliveryResult = { ...UNAVAILABLE, retryAfterMs: 7_000 };
    const result = await run(scripted(busy, busy, OK), { jitter: 'none', initialBackoffMs: 500 });
    expect(result.delays).toEqual([7_000, 7_000]);
  });

  it('keeps its own backoff when it is longer than Retry-After', async () => {
    const busy: DeliveryResult = { ...UNAVAILABLE, retryAfterMs: 100 };
    expect((await run(scripted(busy, OK), { jitter: 'none', initialBackoffMs: 2_000 })).delays).toEqual([2_000]);
  });

  it('caps Retry-After at maxRetryAfterMs', async () => {
    const busy: DeliveryResult = { ...UNAVAILABLE, retryAfterMs: 3_600_000 };
    expect((await run(scripted(busy, OK), { jitter: 'none', maxRetryAfterMs: 20_000 })).delays).toEqual([20_000]);
  });

  it('turns a throwing notifier into a retryable failure', async () => {
    const notifier: Notifier = { channel: 'test', name: 'broken', notify: () => Promise.reject(new TypeError('boom whsec_abc')) };
    const result = await run(notifier, { maxAttempts: 2 });
    expect(result).toMatchObject({ delivered: false, outcome: 'exhausted', attempts: 2 });
    expect(result.lastResult.ok ? '' : result.lastResult.error).not.toContain('whsec_');
  });

  it('stops when the signal aborts between attempts', async () => {
    const controller = new AbortController();
    const notifier = scripted(UNAVAILABLE);
    const outcome = await deliverWithRetry(notifier, sampleAlert(), {}, {
      signal: controller.signal,
      sleep: () => {
        controller.abort();
        return Promise.resolve();
      },
    });
    expect(outcome).toMatchObject({ delivered: false, outcome: 'cancelled', attempts: 1, lastResult: UNAVAILABLE });
    expect(notifier.calls).toBe(1);
  });

  it('makes no attempt when already cancelled', async () => {
    const notifier = scripted(OK);
    const result = await run(notifier, {}, Math.random, AbortSignal.abort());
    expect(result).toMatchObject({ delivered: false, outcome: 'cancelled', attempts: 0 });
    expect(notifier.calls).toBe(0);
  });

  it('reports every attempt, with the delay before the next', async () => {
    const seen: unknown[] = [];
    await deliverWithRetry(scripted(UNAVAILABLE, OK), sampleAlert(), { jitter: 'none' }, {
      signal: new AbortController().signal,
      sleep: () => Promise.resolve(),
      onAttempt: (info) => {
        seen.push(info);
        throw new Error('an observer failing must not matter');
      },
    });
    expect(seen).toEqual([
      { attempt: 1, result: UNAVAILABLE, nextDelayMs: 500 },
      { attempt: 2, result: OK },
    ]);
  });

  it('waits for real with the default sleep', async () => {
    const started = performance.now();
    const result = await deliverWithRetry(scripted(UNAVAILABLE, OK), sampleAlert(), { initialBackoffMs: 50, jitter: 'none' }, { signal: new AbortController().signal });
    expect(result.delivered).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe('backoffDelay', () => {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, initialBackoffMs: 100, maxBackoffMs: 1_000, multiplier: 2 };
  const randoms = [0, 0.25, 0.5, 0.999_999];

  it('full jitter stays within [0, exponential backoff]', () => {
    for (const retry of [1, 2, 3, 4, 5, 10]) {
      const ceiling = Math.min(1_000, 100 * 2 ** (retry - 1));
      for (const r of randoms) {
        const ms = backoffDelay({ ...policy, jitter: 'full' }, retry, 0, () => r);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(ceiling);
      }
      expect(backoffDelay({ ...policy, jitter: 'full' }, retry, 0, () => 0.5)).toBe(Math.round(ceiling / 2));
    }
  });

  it('decorrelated jitter stays within [initial, multiplier × previous] and under the cap', () => {
    for (const previous of [0, 100, 300, 800, 1_000]) {
      const upper = Math.min(1_000, Math.max(100, (previous || 100) * 2));
      for (const r of randoms) {
        const ms = backoffDelay({ ...policy, jitter: 'decorrelated' }, 3, previous, () => r);
        expect(ms).toBeGreaterThanOrEqual(100);
        expect(ms).toBeLessThanOrEqual(upper);
      }
    }
  });

  it('decorrelated jitter grows over a run of retries', async () => {
    const result = await run(scripted(UNAVAILABLE), { ...policy, jitter: 'decorrelated', maxAttempts: 8 }, () => 0.999_999);
    expect(result.delays).toEqual([200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });
});
