import { checks, measurementOf, runConfiguredCheck, type CheckResult } from '@vigil/checks';
import { formatDuration, worseStatus, type HealthCheckEntry, type HealthResponse, type HealthStatus } from '@vigil/core';
import type { DetailLevel, HealthCheckConfig, HealthCheckItem } from './config.js';

export interface CheckOutcome {
  check: HealthCheckItem;
  result: CheckResult;
  /** When the check finished. */
  time: Date;
}

export interface Evaluation {
  status: HealthStatus;
  outcomes: CheckOutcome[];
  /** The full health+json document. */
  response: HealthResponse;
  /** Checks that did not finish within their timeout or the deadline. */
  slow: string[];
  /** Date.now() when the evaluation finished. */
  at: number;
}

/** A failing non-critical check degrades the service (warn) without failing it. */
export function overallStatus(outcomes: readonly CheckOutcome[]): HealthStatus {
  return outcomes.reduce<HealthStatus>((status, { check, result }) => {
    const counted = !check.critical && result.status === 'fail' ? 'warn' : result.status;
    return worseStatus(status, counted);
  }, 'pass');
}

/**
 * The health+json document (draft-inadarei-api-health-check) for one evaluation, with the details
 * a caller may see: `full` (every field), `names` (each check's status, no values or outputs),
 * `status` (the overall status only).
 */
export function healthResponse(
  config: Pick<HealthCheckConfig, 'serviceId' | 'version'>,
  status: HealthStatus,
  outcomes: readonly CheckOutcome[],
  level: DetailLevel = 'full',
): HealthResponse {
  if (level === 'status') return { status, serviceId: config.serviceId };
  const slow = outcomes.filter((o) => o.result.timedOut).map((o) => o.check.name);
  return {
    status,
    serviceId: config.serviceId,
    version: config.version,
    ...(slow.length > 0 ? { notes: [`slow checks (did not finish in time): ${slow.join(', ')}`] } : {}),
    checks: Object.fromEntries(outcomes.map((outcome) => [`${outcome.check.name}:${measurementOf(outcome.check).name}`, [entry(outcome, level)]])),
  };
}

function entry({ check, result, time }: CheckOutcome, level: DetailLevel): HealthCheckEntry {
  const componentType = checks[check.kind].componentType;
  if (level === 'names') return { componentType, status: result.status, time: time.toISOString() };
  return {
    componentType,
    ...(result.observedValue === undefined ? {} : { observedValue: result.observedValue, observedUnit: result.observedUnit }),
    status: result.status,
    time: time.toISOString(),
    ...(result.output === undefined ? {} : { output: result.output }),
  };
}

// Time kept back from the deadline to build and send the response.
const RESPONSE_MARGIN_MS = 50;

/**
 * Runs every check concurrently; resolves within the deadline whatever the checks do, a check
 * still running then counting as failed (and slow).
 */
export async function evaluate(config: HealthCheckConfig): Promise<Evaluation> {
  const deadline = new AbortController();
  const budget = Math.max(config.deadline - Math.min(RESPONSE_MARGIN_MS, config.deadline / 10), 0);
  const timer = setTimeout(() => deadline.abort(new Error(`did not finish within the ${formatDuration(config.deadline)} deadline`)), budget);
  try {
    const outcomes = await Promise.all(
      config.checks.map(async (check) => ({ check, result: await runConfiguredCheck(check, deadline.signal), time: new Date() })),
    );
    const status = overallStatus(outcomes);
    return {
      status,
      outcomes,
      response: healthResponse(config, status, outcomes),
      slow: outcomes.filter((o) => o.result.timedOut).map((o) => o.check.name),
      at: Date.now(),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Shares one in-flight evaluation between concurrent callers, so that a burst of /health
 * requests costs the checked dependencies one round of checks.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
