/**
 * The watchdog's decision core: how one monitor's state moves on one probe result.
 * Pure — no I/O, no clock reads, no randomness — so every path can be tested by table and
 * by property, and a restart that reloads the state resumes exactly where it stopped.
 */
import { Type, type Static } from '@vigil/core';

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
});
export type Incident = Static<typeof Incident>;

export const MonitorState = Type.Object({
  status: MonitorStatus,
  consecutiveFailures: Type.Integer({ minimum: 0 }),
  consecutiveSuccesses: Type.Integer({ minimum: 0 }),
  /** start of the current failure streak, so an incident's start is the outage's start */
  failingSince: Type.Optional(Type.String()),
  incident: Type.Optional(Incident),
  /** when `status` last changed */
  lastChange: Type.Optional(Type.String()),
});
export type MonitorState = Static<typeof MonitorState>;

export interface ProbeVerdict {
  ok: boolean;
  /** false when the result says nothing about the target (e.g. the watchdog is cut off): counts stay as they are. Default true. */
  counted?: boolean;
}

export interface Policy {
  /** the monitor's name; incident ids are derived from it */
  monitor: string;
  failureThreshold: number;
  successThreshold: number;
  /** whether reaching the failure threshold asks the activation service to fail over */
  activate: boolean;
  /** overrides how an incident id is derived (deterministic by default) */
  incidentId?: (monitor: string, startedAtMs: number) => string;
}

export type DecisionEvent =
  | { type: 'alert-firing'; incident: Incident; consecutiveFailures: number }
  | { type: 'activate'; incident: Incident; consecutiveFailures: number }
  | { type: 'alert-resolved'; incident: Incident; resolvedAt: string; consecutiveSuccesses: number };

export interface Decision {
  state: MonitorState;
  events: DecisionEvent[];
}

export const INITIAL_STATE: MonitorState = Object.freeze({ status: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });

/** `primary-20261122T100000.000Z`: stable for one outage, distinct across outages, safe in a header. */
export function defaultIncidentId(monitor: string, startedAtMs: number): string {
  return `${monitor}-${new Date(startedAtMs).toISOString().replace(/[-:]/g, '')}`;
}

export function next(state: MonitorState, result: ProbeVerdict, policy: Policy, now: number): Decision {
  if (result.counted === false) return { state, events: [] };
  const at = new Date(now).toISOString();
  return result.ok ? onSuccess(state, policy, at) : onFailure(state, policy, now, at);
}

function onFailure(state: MonitorState, policy: Policy, now: number, at: string): Decision {
  const consecutiveFailures = state.consecutiveFailures + 1;
  const failingSince = state.failingSince ?? at;
  const base = { consecutiveFailures, consecutiveSuccesses: 0, failingSince };

  // A failure during recovery keeps the incident open: one outage, one alert, one activation.
  if (state.incident) return { state: withStatus(state, { ...base, incident: state.incident }, 'down', at), events: [] };

  if (consecutiveFailures < policy.failureThreshold) {
    return { state: withStatus(state, base, 'degraded', at), events: [] };
  }

  const startedAtMs = Date.parse(failingSince);
  const id = (policy.incidentId ?? defaultIncidentId)(policy.monitor, Number.isNaN(startedAtMs) ? now : startedAtMs);
  const incident: Incident = { id, startedAt: failingSince, activationRequested: policy.activate };
  const events: DecisionEvent[] = [{ type: 'alert-firing', incident, consecutiveFailures }];
  if (policy.activate) events.push({ type: 'activate', incident, consecutiveFailures });
  return { state: withStatus(state, { ...base, incident }, 'down', at), events };
}

function onSuccess(state: MonitorState, policy: Policy, at: string): Decision {
  const consecutiveSuccesses = state.consecutiveSuccesses + 1;
  const base = { consecutiveFailures: 0, consecutiveSuccesses };
  const { incident } = state;

  // No alert went out, so there is nothing to resolve: one success is enough to be up.
  if (!incident) return { state: withStatus(state, base, 'up', at), events: [] };

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
