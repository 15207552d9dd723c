import Type from 'typebox';
import {
  checkConfigProblems,
  checkConfigWith,
  errorText,
  hostPort,
  PROBE_DEFAULTS,
  runConfiguredCheck,
  runHedged,
  type CheckConfig,
  type CheckResult,
  type HedgePolicy,
} from '@vigil/checks';
import { ConfigError, Duration, formatDuration, parseConfigValue, redactUrl, type PrimaryProbe } from '@vigil/core';
import type { RequestedProbe } from './decide.js';

/** Where a request carries its probe; problems are named from here. */
const REQUEST_PATH = 'incident.probe';

/**
 * The kinds a watchdog probes with, and so the only ones a request may ask this service to run:
 * a database, a disk or a process is probed with credentials or locally, never on a voter's word.
 */
const REQUESTABLE_KINDS: readonly unknown[] = ['http', 'tcp', 'dns'];

/**
 * Deeper than any check config needs. The probe is kept with the request for restarts, and a
 * value nested thousands deep (a 64 KiB body allows it) could not even be written back as JSON.
 */
const MAX_DEPTH = 16;
/** The longest a request's probe may take: the failover waits for it (a pinned probe may take longer). */
const MAX_TIMEOUT_MS = 60_000;
/** Problems listed at most: enough to fix a probe, short enough for a record and a page. */
const MAX_PROBLEMS = 5;

/** A probe as a request describes it: a check config, and how the watchdog spread its attempts. */
const RequestProbe = checkConfigWith({
  attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'attempts the watchdog allows one probe' })),
  hedgeDelay: Type.Optional(Duration({ description: 'how long the watchdog waits before its next attempt' })),
});

/** What to probe and, when whoever described it said so, how to spread its attempts. */
export interface ProbeSpec {
  check: CheckConfig;
  attempts?: number;
  /** ms */
  hedgeDelay?: number;
}

/**
 * Reads a request's `incident.probe` as a check config, the way a configuration file is read
 * (defaults, durations), but with its text taken literally: `${…}` is not expanded from this
 * service's environment. Never throws: whatever is wrong is named by its path in the request.
 */
export function parseRequestProbe(raw: unknown): RequestedProbe<ProbeSpec> {
  if (raw === undefined) return { kind: 'absent' };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return refused(`${REQUEST_PATH}: expected an object`);
  if (deeperThan(raw, MAX_DEPTH)) return refused(`${REQUEST_PATH}: nested more than ${MAX_DEPTH} levels deep`);
  const kind = (raw as { kind?: unknown }).kind;
  if (!REQUESTABLE_KINDS.includes(kind)) {
    const found = typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : kind === undefined ? 'nothing' : 'a non-string';
    return refused(`${REQUEST_PATH}.kind: a request may describe an http, tcp or dns probe, not ${found} (pin any other kind in holdOff.probe)`);
  }
  try {
    const check = parseConfigValue(RequestProbe, literally(raw), REQUEST_PATH, {});
    const problems = checkConfigProblems(check);
    if (check.timeout > MAX_TIMEOUT_MS) problems.push(`timeout: ${formatDuration(check.timeout)} is longer than the failover may wait (at most ${formatDuration(MAX_TIMEOUT_MS)})`);
    if (problems.length > 0) return refused(...problems.map((p) => `${REQUEST_PATH}.${p}`));
    const { attempts, hedgeDelay } = check;
    return { kind: 'valid', probe: { check, ...(attempts !== undefined && { attempts }), ...(hedgeDelay !== undefined && { hedgeDelay }) } };
  } catch (err) {
    if (err instanceof ConfigError) return refused(...err.problems.map(inRequest));
    return refused(`${REQUEST_PATH}: ${errorText(err)}`);
  }
}

function refused(...problems: string[]): RequestedProbe<ProbeSpec> {
  const more = problems.length - MAX_PROBLEMS;
  return { kind: 'refused', problems: more > 0 ? [...problems.slice(0, MAX_PROBLEMS), `… and ${more} more`] : problems };
}

/** Whether `value` holds objects or arrays more than `levels` deep; looks no deeper than that. */
function deeperThan(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels === 0) return true;
  return Object.values(value).some((item) => deeperThan(item, levels - 1));
}

/** A problem of the probe's own paths ("url: …", "(top level): …") as a path in the request. */
const inRequest = (problem: string) => (problem.startsWith('(top level)') ? problem.replace('(top level)', REQUEST_PATH) : `${REQUEST_PATH}.${problem}`);

/** A copy whose strings survive configuration interpolation as they are ("${" is written "$${"). */
function literally(value: unknown): unknown {
  // A function, since "$$" in a replacement string means one "$".
  if (typeof value === 'string') return value.replaceAll('${', () => '$${');
  if (Array.isArray(value)) return value.map(literally);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, literally(v)]));
  return value;
}

/** How hard a probe tries: the target's own setting, else that of whoever described the probe, else the shared defaults. */
export function hedgePolicy(spec: ProbeSpec, target: { attempts?: number | undefined; hedgeDelay?: number | undefined } = {}): HedgePolicy {
  return {
    timeoutMs: spec.check.timeout,
    attempts: target.attempts ?? spec.attempts ?? PROBE_DEFAULTS.attempts,
    hedgeDelayMs: target.hedgeDelay ?? spec.hedgeDelay ?? PROBE_DEFAULTS.hedgeDelayMs,
  };
}

/**
 * Probes the primary, loss tolerant: hedged attempts, each a fresh run of the registry's check
 * (its own connection), so that one lost packet does not pass for a dead primary. Each attempt
 * applies the check's thresholds and masks its secrets, as any configured check. Never throws.
 */
export function probeHedged(check: CheckConfig, policy: HedgePolicy, signal: AbortSignal): Promise<CheckResult> {
  return runHedged((_index, attempt) => runConfiguredCheck(check, attempt), policy, signal);
}

/** What was probed, for records and pages: the kind and its target, credentials redacted. */
export function describeProbe(check: CheckConfig): string {
  switch (check.kind) {
    case 'http':
      return `http ${check.method} ${redactUrl(check.url)}`;
    case 'tcp':
      return `tcp ${hostPort(check.host, check.port)}`;
    case 'dns':
      return `dns ${check.type} ${check.host}${check.server === undefined ? '' : ` via ${check.server}`}`;
    case 'postgres':
    case 'redis':
      return `${check.kind} ${redactUrl(check.url)}`;
    case 'disk':
      return `disk ${check.path}`;
    case 'process':
      return `process ${check.measure}`;
  }
}

/** A finished probe as the activation records it: a warning still means the primary answered. */
export type ProbeOutcome = PrimaryProbe & { status: 'pass' | 'fail'; probe: string };

export function outcomeOf(result: CheckResult, check: CheckConfig, source: 'config' | 'request'): ProbeOutcome {
  return {
    status: result.status === 'fail' ? 'fail' : 'pass',
    probe: describeProbe(check),
    source,
    ...(result.attempts !== undefined && { attempts: result.attempts }),
    ...(result.output !== undefined && { output: result.output }),
  };
}
