import { setTimeout as delay } from 'node:timers/promises';
import type { Alert, DeliveryResult, Notifier } from './alert.js';

/**
 * Retry as a stage around any notifier, with an explicit budget: a notification is tried at
 * most `maxAttempts` times, never "until cancelled", and a final failure stops it at once.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before the first retry. */
  initialBackoffMs: number;
  /** Upper bound of any computed backoff. */
  maxBackoffMs: number;
  /** Growth of the backoff per retry. */
  multiplier: number;
  /**
   * `full`: uniform in [0, exponential backoff]. `decorrelated`: uniform in
   * [initialBackoffMs, multiplier × previous delay]. Both keep many watchdogs that failed
   * together from retrying in lockstep.
   */
  jitter: 'none' | 'full' | 'decorrelated';
  /** Upper bound on a receiver's Retry-After; a longer request is waited for only this long. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: 5,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  multiplier: 2,
  jitter: 'full',
  maxRetryAfterMs: 60_000,
};

/** Why retrying stopped. */
export type RetryOutcome = 'delivered' | 'rejected' | 'exhausted' | 'cancelled';

export interface RetryResult {
  delivered: boolean;
  outcome: RetryOutcome;
  attempts: number;
  lastResult: DeliveryResult;
}

export interface AttemptInfo {
  attempt: number;
  result: DeliveryResult;
  /** Set when another attempt follows after this delay. */
  nextDelayMs?: number;
}

export interface RetryOptions {
  signal: AbortSignal;
  /** Waits `ms` or until `signal` aborts; never rejects. Injected by tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), like Math.random. Injected by tests. */
  random?: () => number;
  onAttempt?: (info: AttemptInfo) => void;
}

const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => undefined);

const NOT_ATTEMPTED: DeliveryResult = { ok: false, retryable: true, error: 'cancelled before the first attempt' };

/** Delivers `alert` through `notifier`, retrying per `policy`. Never throws. */
export async function deliverWithRetry(
  notifier: Notifier,
  alert: Alert,
  policy: Partial<RetryPolicy>,
  options: RetryOptions,
): Promise<RetryResult> {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...policy };
  const maxAttempts = Math.max(1, Math.floor(p.maxAttempts));
  const { signal, sleep = sleepUnlessAborted, random = Math.random } = options;

  let lastResult = NOT_ATTEMPTED;
  let previousDelayMs = 0;
  // Every path through an attempt returns or sleeps; the last attempt never retries.
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) return { delivered: false, outcome: 'cancelled', attempts: attempt - 1, lastResult };
    lastResult = await attemptOnce(notifier, alert, signal);

    const retrying = !lastResult.ok && lastResult.retryable && attempt < maxAttempts && !signal.aborted;
    const nextDelayMs = retrying ? retryDelay(p, attempt, previousDelayMs, random, lastResult) : undefined;
    report(options.onAttempt, { attempt, result: lastResult, ...(nextDelayMs !== undefined && { nextDelayMs }) });

    if (lastResult.ok) return { delivered: true, outcome: 'delivered', attempts: attempt, lastResult };
    if (!lastResult.retryable) return { delivered: false, outcome: 'rejected', attempts: attempt, lastResult };
    if (nextDelayMs === undefined) {
      return { delivered: false, outcome: signal.aborted ? 'cancelled' : 'exhausted', attempts: attempt, lastResult };
    }
    previousDelayMs = nextDelayMs;
    await sleep(nextDelayMs, signal);
  }
}

/**
 * The wait before retry number `retry` (1 for the first retry). A receiver's Retry-After is a
 * floor: the computed backoff is kept when it is longer.
 */
export function retryDelay(policy: RetryPolicy, retry: number, previousDelayMs: number, random: () => number, result?: DeliveryResult): number {
  const backoff = backoffDelay(policy, retry, previousDelayMs, random);
  const retryAfterMs = result && !result.ok ? result.retryAfterMs : undefined;
  return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/** The computed backoff before retry number `retry`, jitter applied, never above maxBackoffMs. */
export function backoffDelay(policy: RetryPolicy, retry: number, previousDelayMs: number, random: () => number): number {
  const { initialBackoffMs: base, maxBackoffMs: cap, multiplier } = policy;
  const exponential = Math.min(cap, base * multiplier ** (retry - 1));
  switch (policy.jitter) {
    case 'none':
      return exponential;
    case 'full':
      return Math.round(random() * exponential);
    case 'decorrelated': {
      const upper = Math.max(base, (previousDelayMs || base) * multiplier);
      return Math.min(cap, Math.round(base + random() * (upper - base)));
    }
  }
}

/** One attempt; a notifier that throws despite its contract counts as a retryable failure. */
export async function attemptOnce(notifier: Notifier, alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
  try {
    return await notifier.notify(alert, signal);
  } catch (err) {
    // Notifiers must not throw; if one does, the alert still gets its remaining attempts.
    const reason = err instanceof Error ? err.name : typeof err;
    return { ok: false, retryable: true, error: `${notifier.channel} notifier failed unexpectedly (${reason})` };
  }
}

function report(onAttempt: RetryOptions['onAttempt'], info: AttemptInfo): void {
  try {
    onAttempt?.(info);
  } catch {
    // An observer's failure must not change whether the alert is delivered.
  }
}
