import { worseStatus, type HealthStatus } from '@vigil/core';
import Type, { type Static } from 'typebox';
import type { CheckResult, Measurement } from './check.js';

/** Warn and fail limits on a check's observed value, in its unit (ms of response time, seconds of lag, % free…). */
export const Thresholds = Type.Object(
  {
    warn: Type.Optional(Type.Number({ description: 'the observed value at which the check warns' })),
    fail: Type.Optional(Type.Number({ description: 'the observed value at which the check fails' })),
  },
  { additionalProperties: false },
);
export type Thresholds = Static<typeof Thresholds>;

/** What the limits make of a value: reaching a limit counts (a fail limit of 30s fails at 30s). */
export function thresholdStatus(value: number, thresholds: Thresholds, worse: Measurement['worse']): HealthStatus {
  const reached = (limit: number | undefined) => limit !== undefined && (worse === 'higher' ? value >= limit : value <= limit);
  if (reached(thresholds.fail)) return 'fail';
  if (reached(thresholds.warn)) return 'warn';
  return 'pass';
}

/**
 * Applies the limits to a result's observed value. Limits only make a result worse, never
 * better, and a result without an observed value is left as it is.
 */
export function applyThresholds(result: CheckResult, thresholds: Thresholds | undefined, measurement: Measurement): CheckResult {
  if (!thresholds || result.observedValue === undefined) return result;
  const judged = thresholdStatus(result.observedValue, thresholds, measurement.worse);
  const status = worseStatus(result.status, judged);
  if (status === result.status) return result;
  const limit = judged === 'fail' ? thresholds.fail : thresholds.warn;
  const comparison = measurement.worse === 'higher' ? '≥' : '≤';
  const note = `${measurement.name} ${formatValue(result.observedValue)}${measurement.unit} ${comparison} ${judged} threshold ${limit}${measurement.unit}`;
  return { ...result, status, output: result.output ? `${result.output}; ${note}` : note };
}

/** Configuration problems of a pair of limits: the warn limit must come before the fail limit. */
export function thresholdProblems(thresholds: Thresholds | undefined, measurement: Measurement): string[] {
  if (thresholds?.warn === undefined || thresholds.fail === undefined) return [];
  const ordered = measurement.worse === 'higher' ? thresholds.warn <= thresholds.fail : thresholds.warn >= thresholds.fail;
  if (ordered) return [];
  const relation = measurement.worse === 'higher' ? 'at most' : 'at least';
  return [`warn ${thresholds.warn} must be ${relation} fail ${thresholds.fail} (a ${measurement.name} gets worse as it gets ${measurement.worse})`];
}

const formatValue = (value: number) => String(Math.round(value * 1000) / 1000);
