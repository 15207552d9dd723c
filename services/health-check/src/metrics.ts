import { createRegistry, type HealthStatus } from '@vigil/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Evaluation } from './health.js';

const STATUSES: readonly HealthStatus[] = ['pass', 'warn', 'fail'];

export interface HealthMetrics {
  registry: Registry;
  record(evaluation: Evaluation): void;
}

/** The service's registry: runtime metrics, build info, and what the last evaluations found. */
export function createHealthMetrics(version: string): HealthMetrics {
  const registry = createRegistry('health-check', version);
  const status = new Gauge({
    name: 'vigil_health_status',
    help: 'Overall status of the last evaluation: 1 for the current status label, 0 for the others.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const checkStatus = new Gauge({
    name: 'vigil_health_check_status',
    help: 'Status of each check in the last evaluation: 1 for its current status label, 0 for the others.',
    labelNames: ['check', 'status'] as const,
    registers: [registry],
  });
  const checkDuration = new Histogram({
    name: 'vigil_health_check_duration_seconds',
    help: 'How long each check took.',
    labelNames: ['check'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const observed = new Gauge({
    name: 'vigil_health_check_observed_value',
    help: 'Value each check observed in the last evaluation, in the unit its health+json entry states (ms of response time, s of replication lag, % free…).',
    labelNames: ['check'] as const,
    registers: [registry],
  });
  const timeouts = new Counter({
    name: 'vigil_health_check_timeouts_total',
    help: 'Checks that did not finish within their timeout or the deadline (reported as slow).',
    labelNames: ['check'] as const,
    registers: [registry],
  });
  const lastEvaluation = new Gauge({
    name: 'vigil_health_last_evaluation_timestamp_seconds',
    help: 'When the last evaluation finished (unix seconds).',
    registers: [registry],
  });
  const evaluations = new Counter({
    name: 'vigil_health_evaluations_total',
    help: 'Evaluations of all checks (concurrent /health requests share one).',
    registers: [registry],
  });

  return {
    registry,
    record(evaluation) {
      evaluations.inc();
      lastEvaluation.set(evaluation.at / 1000);
      for (const s of STATUSES) status.set({ status: s }, s === evaluation.status ? 1 : 0);
      for (const { check, result } of evaluation.outcomes) {
        for (const s of STATUSES) checkStatus.set({ check: check.name, status: s }, s === result.status ? 1 : 0);
        checkDuration.observe({ check: check.name }, result.durationMs / 1000);
        if (result.observedValue !== undefined) observed.set({ check: check.name }, result.observedValue);
        else observed.remove({ check: check.name });
        // Created at 0 for every check, so that rate() sees the first timeout.
        timeouts.inc({ check: check.name }, result.timedOut ? 1 : 0);
      }
    },
  };
}
