import { checks, runConfiguredCheck, type CheckResult } from '@vigil/checks';
import { formatDuration, worseStatus, type HealthResponse, type HealthStatus } from '@vigil/core';
import type { HealthCheckConfig, HealthCheckItem } from './config.js';

export interface CheckOutcome {
  check: HealthCheckItem;
  result: CheckResult;
  /** When the check finished. */
  time: Date;
}

export interface Evaluation {
  status: HealthStatus;
  outcomes: CheckOutcome[];
  response: HealthResponse;
}

/** A failing non-critical check degrades the service (warn) without failing it. */
export function overallStatus(outcomes: readonly CheckOutcome[]): HealthStatus {
  return outcomes.reduce<HealthStatus>((status, { check, result }) => {
    const counted = !check.critical && result.status === 'fail' ? 'warn' : result.status;
    return worseStatus(status, counted);
  }, 'pass');
}

/** The health+json document (draft-inadarei-api-health-check) for one evaluation. */
export function healthResponse(config: Pick<HealthCheckConfig, 'serviceId' | 'version'>, status: HealthStatus, outcomes: readonly CheckOutcome[]): HealthResponse {
  return {
    status,
    serviceId: config.serviceId,
    version: config.version,
    checks: Object.fromEntries(
      outcomes.map(({ check, result, time }) => [
        `${check.name}:responseTime`,
        [
          {
            componentType: checks[check.kind].componentType,
            observedValue: Math.round(result.durationMs * 10) / 10,
            observedUnit: 'ms',
            status: result.status,
            time: time.toISOString(),
            ...(result.output === undefined ? {} : { output: result.output }),
          },
        ],
      ]),
    ),
  };
}

// Time kept back from the deadline to build and send the response.
const RESPONSE_MARGIN_MS = 50;

/**
 * Runs every check concurrently; resolves within the deadline whatever the checks do, a check
 * still running then counting as failed.
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
    return { status, outcomes, response: healthResponse(config, status, outcomes) };
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
