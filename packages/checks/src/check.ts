import type { HealthStatus } from '@vigil/core';

/** Where the time of an HTTP check went, in milliseconds (as blackbox_exporter's `probe_http_duration_seconds{phase}`). */
export interface HttpPhases {
  /** Resolving the host name (absent for an IP literal or a reused connection). */
  dns?: number;
  /** Establishing the TCP connection (absent for a reused connection). */
  connect?: number;
  /** The TLS handshake (https only, absent for a reused connection). */
  tls?: number;
  /** From sending the request to the response headers. */
  firstByte?: number;
  /** Reading the response body. */
  transfer?: number;
}

/** What one run of a check found. A check never throws: a timeout or error is a `fail` whose `output` says why. */
export interface CheckResult {
  status: HealthStatus;
  durationMs: number;
  observedValue?: number;
  observedUnit?: string;
  output?: string;
  /** Set by the runner when the check did not finish within its timeout or its caller's deadline. */
  timedOut?: boolean;
  /** Set by a hedged run (see hedge.ts): how many attempts the check took. */
  attempts?: number;
  /** Set by HTTP checks: the response status code, when a response arrived. */
  httpStatus?: number;
  /** Set by HTTP checks: the phases that were measured. */
  phases?: HttpPhases;
  /** Set by HTTP checks of https targets: the earliest notAfter in the peer's certificate chain, in unix seconds. */
  tlsEarliestCertExpiry?: number;
}

/**
 * What a check kind observes besides its own duration. Kinds without one report their response
 * time; thresholds (see thresholds.ts) apply to whichever value is observed.
 */
export interface Measurement {
  /** The health+json measurement name, e.g. "replicationLag" in "db:replicationLag". */
  name: string;
  unit: string;
  /** Which way the value gets worse: lag grows, free space shrinks. */
  worse: 'higher' | 'lower';
}

/** Response time in milliseconds: what a check observes when it has nothing more specific. */
export const RESPONSE_TIME: Measurement = { name: 'responseTime', unit: 'ms', worse: 'higher' };

/** One kind of check. The runner owns timeouts and timing; `run` honours `signal`. */
export interface Check<C> {
  readonly kind: string;
  /** health+json componentType reported for this kind ("datastore", "component", "system"). */
  readonly componentType: string;
  /** What a configured check observes; absent: its response time. */
  measurement?(config: C): Measurement;
  run(config: C, signal: AbortSignal): Promise<CheckResult>;
}
