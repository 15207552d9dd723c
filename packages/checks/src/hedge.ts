import type { CheckResult } from './check.js';
import { abortText, errorText, fail } from './outcome.js';

/**
 * How one probe spreads its attempts over its timeout. A probe that rests on one TCP connection
 * fails whenever that connection is stuck in retransmission backoff (a lost segment waits at least
 * 200 ms, a lost SYN 1 s, then twice as long each time), which on a lossy link is often, and in
 * runs. Later attempts go over fresh connections, whose losses are independent of the first's.
 */
export interface HedgePolicy {
  /** The whole probe, every attempt included. */
  timeoutMs: number;
  /** Attempts at most; 1 is a plain single request. */
  attempts: number;
  /** The next attempt starts when none has answered this long after the previous one started. */
  hedgeDelayMs: number;
}

/**
 * The probing defaults the watchdog's monitors and the activation service's confirmation probe
 * share: chosen by `npm run bench:detection-quality` (README, "Detection under loss").
 */
export const PROBE_DEFAULTS = { timeoutMs: 1900, attempts: 4, hedgeDelayMs: 250 } as const;

/** One attempt. Index 0 may reuse a kept-alive connection; later ones should open their own. Honours `signal`. */
export type Attempt = (index: number, signal: AbortSignal) => Promise<CheckResult>;

/** A failure the target itself reported (an HTTP answer): another attempt would hear the same. */
export const answeredByTarget = (result: CheckResult): boolean => result.httpStatus !== undefined;

/**
 * Runs attempts until one passes or the target answers, each started `hedgeDelayMs` after the
 * previous one or at once when every attempt so far failed without an answer (refused, reset), so
 * a dead target still fails fast. Never throws. The result is the deciding attempt's, with the
 * number of attempts started and the probe's whole duration; attempts still running are aborted.
 */
export function runHedged(
  attempt: Attempt,
  policy: HedgePolicy,
  parentSignal?: AbortSignal,
  conclusive: (result: CheckResult) => boolean = answeredByTarget,
): Promise<CheckResult> {
  const started = performance.now();
  const controllers: AbortController[] = [];
  const failures: CheckResult[] = [];
  let running = 0;
  let settled = false;
  let hedgeTimer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;

  return new Promise<CheckResult>((resolve) => {
    const finish = (result: CheckResult, reason?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(hedgeTimer);
      parentSignal?.removeEventListener('abort', onParentAbort);
      for (const controller of controllers) controller.abort(reason ?? new Error('another attempt decided the probe'));
      resolve({ ...result, attempts: controllers.length, durationMs: performance.now() - started });
    };
    const onParentAbort = () => finish({ ...fail(abortText(parentSignal!)), timedOut: true }, parentSignal!.reason);

    const launch = () => {
      clearTimeout(hedgeTimer);
      if (settled || controllers.length >= policy.attempts) return;
      const index = controllers.length;
      const controller = new AbortController();
      controllers.push(controller);
      running++;
      if (controllers.length < policy.attempts) hedgeTimer = setTimeout(launch, policy.hedgeDelayMs);
      void guarded(attempt, index, controller.signal).then((result) => {
        running--;
        if (settled) return;
        if (result.status !== 'fail' || conclusive(result)) return finish(result);
        failures.push(result);
        // Failed without an answer: hand over to the next attempt now rather than at its hedge time.
        if (controllers.length < policy.attempts) launch();
        else if (running === 0) finish(allFailed(failures));
      });
    };

    if (parentSignal?.aborted) return onParentAbort();
    parentSignal?.addEventListener('abort', onParentAbort, { once: true });
    deadline = setTimeout(() => {
      const timedOut = new Error(`timed out after ${policy.timeoutMs}ms`);
      const output = controllers.length > 1 ? `${timedOut.message} (${controllers.length} attempts, none answered)` : timedOut.message;
      finish({ ...fail(output), timedOut: true }, timedOut);
    }, policy.timeoutMs);
    launch();
  });
}

async function guarded(attempt: Attempt, index: number, signal: AbortSignal): Promise<CheckResult> {
  try {
    return await attempt(index, signal);
  } catch (err) {
    return fail(errorText(err));
  }
}

/** Every attempt failed without an answer: one output naming each distinct reason. */
function allFailed(failures: readonly CheckResult[]): CheckResult {
  const last = failures.at(-1)!;
  if (failures.length === 1) return last;
  const reasons = [...new Set(failures.map((f) => f.output ?? 'failed'))];
  return { ...last, output: `${failures.length} attempts failed: ${reasons.join('; ')}` };
}
