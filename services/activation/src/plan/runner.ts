import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration, type StepRecord } from '@vigil/core';
import { stepKindOf, type AttemptOutcome, type PlanStep, type StepContext } from './steps/index.js';

/** Receives each step's record as it starts and ends, to persist and audit it before the plan moves on. */
export interface PlanObserver {
  stepStarted(record: StepRecord): Promise<void>;
  stepFinished(record: StepRecord, durationMs: number): Promise<void>;
}

export interface RunOptions {
  /** Wall clock in ms, for the records' times. */
  now: () => number;
  /** Graceful stop: no further step or retry starts once it aborts. */
  stop: AbortSignal;
  /** Hard stop: the attempt in flight is abandoned. */
  abort: AbortSignal;
  /** Handed to every step (its activation, epoch, the alerting channels). */
  context: StepContext;
  /** Index of the first step to run: a plan resumed after a restart skips what completed. */
  startAt?: number;
}

export type PlanResult =
  | { status: 'succeeded' }
  | { status: 'failed'; step: string }
  /** Shutdown cut the plan short; what the last step did is unknown. */
  | { status: 'stopped'; step?: string };

/** Longest wait between two attempts, however many retries a step allows. */
export const MAX_RETRY_DELAY_MS = 60_000;

/**
 * Runs the steps in order; the first step that fails (after its retries) aborts the plan,
 * unless it says `onFailure: continue`. The runner owns what every step kind shares: timeout
 * per attempt, retries with doubling delay, timing and the step record.
 */
export async function runPlan(plan: readonly PlanStep[], observer: PlanObserver, options: RunOptions): Promise<PlanResult> {
  for (const step of plan.slice(options.startAt ?? 0)) {
    if (options.stop.aborted) return { status: 'stopped' };
    const record: StepRecord = { name: step.name, kind: step.kind, status: 'running', startedAt: iso(options.now()), attempts: 0 };
    await observer.stepStarted({ ...record });
    const started = performance.now();
    const { outcome, attempts, stopped } = await runStep(step, options);
    const continued = !outcome.ok && !stopped && step.onFailure === 'continue';
    const finished: StepRecord = {
      ...record,
      ...(continued && { continued }),
      status: outcome.ok ? 'succeeded' : 'failed',
      endedAt: iso(options.now()),
      attempts,
      ...(outcome.responseStatus !== undefined && { responseStatus: outcome.responseStatus }),
      ...(outcome.output !== undefined && { output: outcome.output }),
    };
    await observer.stepFinished(finished, performance.now() - started);
    if (stopped) return { status: 'stopped', step: step.name };
    if (!outcome.ok && !continued) return { status: 'failed', step: step.name };
  }
  return { status: 'succeeded' };
}

async function runStep(step: PlanStep, options: RunOptions): Promise<{ outcome: AttemptOutcome; attempts: number; stopped: boolean }> {
  for (let attempts = 1; ; attempts++) {
    const { outcome, abandoned } = await attemptOnce(step, options.abort, options.context);
    if (abandoned) return { outcome, attempts, stopped: true };
    if (outcome.ok || !outcome.retryable || attempts > step.retries) return { outcome, attempts, stopped: false };
    const delay = Math.min(step.retryDelay * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS);
    if (!(await pause(delay, options.stop))) {
      return { outcome: { ...outcome, output: `${outcome.output ?? 'failed'}; not retried: the service is shutting down` }, attempts, stopped: true };
    }
  }
}

/** One attempt, bounded by the step's timeout even if the step kind ignores its signal. */
async function attemptOnce(step: PlanStep, abort: AbortSignal, context: StepContext): Promise<{ outcome: AttemptOutcome; abandoned: boolean }> {
  const timeout = AbortSignal.timeout(step.timeout);
  const signal = AbortSignal.any([timeout, abort]);
  const stopWaiting = whenAborted(signal);
  try {
    const outcome = await Promise.race([safely(() => stepKindOf(step).attempt(step, signal, context)), stopWaiting.promise]);
    if (outcome !== undefined) return { outcome, abandoned: false };
    if (timeout.aborted) return { outcome: { ok: false, retryable: true, output: `timed out after ${formatDuration(step.timeout)}` }, abandoned: false };
    return { outcome: { ok: false, retryable: false, output: 'abandoned: the service shut down during the attempt' }, abandoned: true };
  } finally {
    stopWaiting.dispose();
  }
}

/** Step kinds should not throw; if one does, that is a failed attempt rather than a crashed plan. */
async function safely(attempt: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
  try {
    return await attempt();
  } catch (err) {
    return { ok: false, retryable: true, output: `step error: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function whenAborted(signal: AbortSignal): { promise: Promise<undefined>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** Waits `ms`; false when `stop` aborted first. */
async function pause(ms: number, stop: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: stop });
    return true;
  } catch {
    return false;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
