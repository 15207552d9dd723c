import type { Check, CheckResult } from './check.js';
import { abortText, errorText, fail } from './outcome.js';

/**
 * Runs one check with a timeout, timing it. Never throws: a throw, a timeout or an abort of
 * `parentSignal` (a deadline, a shutdown) is a `fail` whose output says why, marked `timedOut`.
 * The result is ready at the timeout even when the check ignores its signal.
 */
export async function runCheck<C>(check: Check<C>, config: C, timeoutMs: number, parentSignal?: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  // Our own timer rather than AbortSignal.timeout, so that it can be cleared once the check is done.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${timeoutMs}ms`)), timeoutMs);
  const signal = parentSignal ? AbortSignal.any([timeout.signal, parentSignal]) : timeout.signal;
  try {
    const result = await Promise.race([attempt(check, config, signal), aborted(signal)]);
    // A check that notices the abort reports it in its own words; the abort reason is the clearer output.
    const found = signal.aborted ? { ...fail(abortText(signal)), timedOut: true } : result;
    return { ...found, durationMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

async function attempt<C>(check: Check<C>, config: C, signal: AbortSignal): Promise<CheckResult> {
  try {
    return await check.run(config, signal);
  } catch (err) {
    return fail(errorText(err));
  }
}

function aborted(signal: AbortSignal): Promise<CheckResult> {
  if (signal.aborted) return Promise.resolve(fail(abortText(signal)));
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(fail(abortText(signal))), { once: true }));
}
