import type { HealthStatus } from '@vigil/core';

/** What one run of a check found. A check never throws: a timeout or error is a `fail` whose `output` says why. */
export interface CheckResult {
  status: HealthStatus;
  durationMs: number;
  observedValue?: number;
  observedUnit?: string;
  output?: string;
  /** Set by HTTP checks: the response status code, when a response arrived. */
  httpStatus?: number;
}

/** One kind of check. The runner owns timeouts and timing; `run` honours `signal`. */
export interface Check<C> {
  readonly kind: string;
  /** health+json componentType reported for this kind ("datastore", "component", "system"). */
  readonly componentType: string;
  run(config: C, signal: AbortSignal): Promise<CheckResult>;
}
