import { createHttpCheck, runCheck, type CheckResult } from '@vigil/checks';
import type { Dispatcher } from 'undici';

/** HTTP timing phases, as blackbox_exporter names them in probe_http_duration_seconds{phase}. */
export const HTTP_PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;

/**
 * What one probe found: an HTTP probe is an HTTP check. Timing by phase (ms) and the earliest
 * certificate expiry (unix seconds) are reported by HTTP checks that measure them.
 */
export type ProbeResult = CheckResult & {
  phases?: { dns?: number; connect?: number; tls?: number; firstByte?: number; transfer?: number };
  tlsEarliestCertExpiry?: number;
};

export interface ProbeTarget {
  url: string;
  timeoutMs: number;
}

/** Probes a target once. Honours `signal`; should not throw (the monitor guards against it anyway). */
export type Probe = (target: ProbeTarget, signal: AbortSignal) => Promise<ProbeResult>;

/** The production probe: the `http` check of `@vigil/checks` (2xx, and a health+json status other than `fail`), run with its timeout. */
export function httpProbe(dispatcher: Dispatcher): Probe {
  const check = createHttpCheck(dispatcher);
  return ({ url, timeoutMs }, signal) => runCheck(check, { kind: 'http', url, method: 'GET', expectStatus: ['2xx'], timeout: timeoutMs }, timeoutMs, signal);
}
