/**
 * The watchdog's decision core: how one monitor's state moves on one probe result.
 * Pure — no I/O, no clock reads, no randomness — so every path can be tested by table and
 * by property, and a restart that reloads the state resumes exactly where it stopped.
 */
import { Type, type Static } from '@vigil/core';
import { CertificateWarning } from './certificate.js';

export const MonitorStatus = Type.Union([
  Type.Literal('unknown'),
  Type.Literal('up'),
  /** failing, but fewer than failureThreshold consecutive failures: no alert yet */
  Type.Literal('degraded'),
  Type.Literal('down'),
  /** the watchdog's own connectivity is in doubt; results are not counted */
  Type.Literal('inconclusive'),
  Type.Literal('maintenance'),
]);
export type MonitorStatus = Static<typeof MonitorStatus>;
export const MONITOR_STATUSES: readonly MonitorStatus[] = ['unknown', 'up', 'degraded', 'down', 'inconclusive', 'maintenance'];

/** An outage that reached the failure threshold; open until successThreshold successes in a row. */
export const Incident = Type.Object({
  id: Type.String({ minLength: 1 }),
  /** when the streak of failures that opened it began */
  startedAt: Type.String(),
  activationRequested: Type.Boolean(),
  /** Set by the watchdog once the activation service gave a final answer to the request. */
  activationAnswered: Type.Optional(Type.Boolean()),
});
export type Incident = Static<typeof Incident>;

/** An early warning: warningThreshold consecutive failures, not (yet) an incident. */
export const Warning = Type.Object({ id: Type.String({ minLength: 1 }), startedAt: Type.String() });
export type Warning = Static<typeof Warning>;

export const MonitorState = Type.Object({
  status: MonitorStatus,
  consecutiveFailures: Type.Integer({ minimum: 0 }),
  consecutiveSuccesses: Type.Integer({ minimum: 0 }),
  /** start of the current failure streak, so an incident's start is the outage's start */
  failingSince: Type.Optional(Type.String()),
  incident: Type.Optional(Incident),
  /** the early warning sent for the current failure streak, until the streak ends or becomes an incident */
  warning: Type.Optional(Warning),
  /** since when the watchdog has been unable to tell (inconclusive results); the isolation alert is open */
  isolatedSince: Type.Optional(Type.String()),
  /** when `status` last changed */
  lastChange: Type.Optional(Type.String()),
  /** the open certificate-expiry warning; moved by `certificateNext`, not by `next` (which leaves it out) */
  certificateWarning: Type.Optional(CertificateWarning),
});
export type MonitorState = Static<typeof MonitorState>;

/**
 * What one cycle says about the target. `inconclusive`: the probe failed but the watchdog could not
 * reach its control targets either, so the failure may be its own. `maintenance`: the monitor is in a
 * maintenance window or paused. Neither is counted, and neither ever raises an alert or an activation.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'maintenance';

export interface Policy {
  /** the monitor's name; incident ids are derived from it */
  monitor: string;
  failureThreshold: number;
  successThreshold: number;
  /** consecutive failures that send an early warning (below failureThreshold); none when absent */
  warningThreshold?: number;
  /** whether reaching the failure threshold asks the activation service to fail over */
  activate: boolean;
  /** overrides how an incident id is derived (deterministic by default) */
  incidentId?: (monitor: string, startedAtMs: number) => string;
}

export type DecisionEvent =
  | { type: 'alert-firing'; incident: Incident; consecutiveFailures: number }
  | { type: 'activate'; incident: Incident; consecutiveFailures: number }
  | { type: 'alert-resolved'; incident: Incident; resolvedAt: string; consecutiveSuccesses: number }
  | { type: 'warning-firing'; warning: Warning; consecutiveFailures: number }
  | { type: 'warning-resolved'; warning: Warning; resolvedAt: string }
  | { type: 'isolated'; since: string }
  | { type: 'isolation-ended'; since: string; endedAt: string };

export interface Decision {
  state: MonitorState;
  events: DecisionEvent[];
}

export const INITIAL_STATE: MonitorState = Object.freeze({ status: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });

/** `primary-20261122T100000.000Z`: stable for one outage, distinct across outages, safe in a header. */
export function defaultIncidentId(monitor: string, startedAtMs: number): string {
  return `${monitor}-${new Date(startedAtMs).toISOString().replace(/[-:]/g, '')}`;
}

export function next(state: MonitorState, verdict: Verdict, policy: Policy, now: number): Decision {
  const at = new Date(now).toISOString();
  if (verdict === 'maintenance') return { state: withStatus(state, fieldsOf(state), 'maintenance', at), events: [] };
  if (verdict === 'inconclusive') {
    if (state.isolatedSince !== undefined) return { state: withStatus(state, fieldsOf(state), 'inconclusive', at), events: [] };
    return { state: withStatus(state, { ...fieldsOf(state), isolatedSince: at }, 'inconclusive', at), events: [{ type: 'isolated', since: at }] };
  }
  // A conclusive result ends an isolation; then it counts like any other.
  const { isolatedSince, ...rest } = state;
  const ended: DecisionEvent[] = isolatedSince === undefined ? [] : [{ type: 'isolation-ended', since: isolatedSince, endedAt: at }];
  const decision = verdict === 'pass' ? onSuccess(rest, policy, at) : onFailure(rest, policy, now, at);
  return { state: decision.state, events: [...ended, ...decision.events] };
}

/** The state's fields other than status and lastChange, kept as they are. */
function fieldsOf({ status: _status, lastChange: _lastChange, ...fields }: MonitorState): Omit<MonitorState, 'status' | 'lastChange'> {
  return fields;
}

function onFailure(state: MonitorState, policy: Policy, now: number, at: string): Decision {
  const consecutiveFailures = state.consecutiveFailures + 1;
  const failingSince = state.failingSince ?? at;
  const base = { consecutiveFailures, consecutiveSuccesses: 0, failingSince };

  // A failure during recovery keeps the incident open: one outage, one alert, one activation.
  if (state.incident) return { state: withStatus(state, { ...base, incident: state.incident }, 'down', at), events: [] };

  const startedAtMs = Date.parse(failingSince);
  const streakStart = Number.isNaN(startedAtMs) ? now : startedAtMs;
  if (consecutiveFailures < policy.failureThreshold) {
    if (state.warning) return { state: withStatus(state, { ...base, warning: state.warning }, 'degraded', at), events: [] };
    if (policy.warningThreshold === undefined || consecutiveFailures < policy.warningThreshold) {
      return { state: withStatus(state, base, 'degraded', at), events: [] };
    }
    const warning: Warning = { id: `${(policy.incidentId ?? defaultIncidentId)(policy.monitor, streakStart)}-warning`, startedAt: failingSince };
    return { state: withStatus(state, { ...base, warning }, 'degraded', at), events: [{ type: 'warning-firing', warning, consecutiveFailures }] };
  }

  const id = (policy.incidentId ?? defaultIncidentId)(policy.monitor, streakStart);
  const incident: Incident = { id, startedAt: failingSince, activationRequested: policy.activate };
  // The incident's critical alert supersedes the early warning.
  const events: DecisionEvent[] = state.warning ? [{ type: 'warning-resolved', warning: state.warning, resolvedAt: at }] : [];
  events.push({ type: 'alert-firing', incident, consecutiveFailures });
  if (policy.activate) events.push({ type: 'activate', incident, consecutiveFailures });
  return { state: withStatus(state, { ...base, incident }, 'down', at), events };
}

function onSuccess(state: MonitorState, policy: Policy, at: string): Decision {
  const consecutiveSuccesses = state.consecutiveSuccesses + 1;
  const base = { consecutiveFailures: 0, consecutiveSuccesses };
  const { incident, warning } = state;

  // No alert went out, so there is nothing to resolve: one success is enough to be up.
  if (!incident) {
    const events: DecisionEvent[] = warning ? [{ type: 'warning-resolved', warning, resolvedAt: at }] : [];
    return { state: withStatus(state, base, 'up', at), events };
  }

  if (consecutiveSuccesses < policy.successThreshold) {
    return { state: withStatus(state, { ...base, incident }, 'down', at), events: [] };
  }
  return {
    state: withStatus(state, base, 'up', at),
    events: [{ type: 'alert-resolved', incident, resolvedAt: at, consecutiveSuccesses }],
  };
}

/** The new state; `lastChange` moves only when the status does. Fields not in `fields` are dropped. */
function withStatus(previous: MonitorState, fields: Omit<MonitorState, 'status' | 'lastChange'>, status: MonitorStatus, at: string): MonitorState {
  const lastChange = status === previous.status ? previous.lastChange : at;
  return { status, ...fields, ...(lastChange === undefined ? {} : { lastChange }) };
}
