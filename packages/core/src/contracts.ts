/**
 * Wire contracts between Vigil's services (DESIGN.md, "Contracts"). One definition, used by
 * the side that produces a message and the side that consumes it.
 */
import Type, { type Static } from 'typebox';

export const HEALTH_CONTENT_TYPE = 'application/health+json';

export const HealthStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]);
export type HealthStatus = Static<typeof HealthStatus>;

/** One entry of a health+json `checks` map (draft-inadarei-api-health-check). */
export const HealthCheckEntry = Type.Object({
  componentId: Type.Optional(Type.String()),
  componentType: Type.Optional(Type.String()),
  observedValue: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
  observedUnit: Type.Optional(Type.String()),
  status: HealthStatus,
  time: Type.Optional(Type.String()),
  output: Type.Optional(Type.String()),
});
export type HealthCheckEntry = Static<typeof HealthCheckEntry>;

export const HealthResponse = Type.Object({
  status: HealthStatus,
  version: Type.Optional(Type.String()),
  releaseId: Type.Optional(Type.String()),
  serviceId: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  output: Type.Optional(Type.String()),
  notes: Type.Optional(Type.Array(Type.String())),
  checks: Type.Optional(Type.Record(Type.String(), Type.Array(HealthCheckEntry))),
});
export type HealthResponse = Static<typeof HealthResponse>;

/** 200 for pass and warn, 503 for fail (DESIGN.md). */
export function httpStatusFor(status: HealthStatus): 200 | 503 {
  return status === 'fail' ? 503 : 200;
}

/** The worse of two statuses: fail > warn > pass. */
export function worseStatus(a: HealthStatus, b: HealthStatus): HealthStatus {
  const rank = { pass: 0, warn: 1, fail: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}

/** One probe result the watchdog saw, sent as evidence with an activation request. */
export const ProbeEvidence = Type.Object({
  time: Type.String({ description: 'ISO 8601 time the probe finished' }),
  status: HealthStatus,
  durationMs: Type.Number({ minimum: 0 }),
  output: Type.Optional(Type.String({ maxLength: 2000 })),
});
export type ProbeEvidence = Static<typeof ProbeEvidence>;

/**
 * Body of `POST /v1/activations`, signed with Standard Webhooks headers. The `webhook-id`
 * header is the idempotency key: retries of one request reuse it.
 */
export const ActivationRequest = Type.Object(
  {
    target: Type.String({ minLength: 1, maxLength: 200, description: 'the activation target (a configured primary/standby pair)' }),
    voter: Type.String({ minLength: 1, maxLength: 200, description: 'the watchdog that asks' }),
    incident: Type.Object(
      {
        id: Type.String({ minLength: 1, maxLength: 200 }),
        monitor: Type.String({ minLength: 1, maxLength: 200 }),
        startedAt: Type.String(),
        consecutiveFailures: Type.Integer({ minimum: 1 }),
        evidence: Type.Array(ProbeEvidence, { maxItems: 50 }),
        probe: Type.Optional(
          Type.Record(Type.String(), Type.Unknown(), {
            description:
              'what the watchdog probed, so that the activation service can confirm from where it stands: a check config ' +
              '(`kind` http, tcp or dns, its fields, `timeout` and `hedgeDelay` as durations such as "2s", `attempts`) without ' +
              'secrets (no headers, no credentials in the URL); validated by the activation service, which ignores one it refuses',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ActivationRequest = Static<typeof ActivationRequest>;

export const Side = Type.Union([Type.Literal('primary'), Type.Literal('secondary')]);
export type Side = Static<typeof Side>;

/**
 * `holding-off`: waiting before a direct re-probe of the primary (or, for a failback, watching
 * it stay healthy); `awaiting-approval`: an operator must approve or cancel; `running`: the plan
 * runs. Final: `succeeded`, `failed`, `interrupted` (a restart cut a step short), `cancelled`
 * (by an operator, a recovered primary or a failed guard), `notified` (notify-only: paged, no plan run).
 */
export const ActivationStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('interrupted'),
  Type.Literal('holding-off'),
  Type.Literal('awaiting-approval'),
  Type.Literal('cancelled'),
  Type.Literal('notified'),
]);
export type ActivationStatus = Static<typeof ActivationStatus>;

export const StepRecord = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  status: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
  startedAt: Type.String(),
  endedAt: Type.Optional(Type.String()),
  attempts: Type.Integer({ minimum: 0 }),
  responseStatus: Type.Optional(Type.Integer()),
  output: Type.Optional(Type.String()),
  /** The plan went on after this step failed (`onFailure: continue`). */
  continued: Type.Optional(Type.Boolean()),
});
export type StepRecord = Static<typeof StepRecord>;

/** A watchdog's vote that counted towards an activation's quorum. */
/** How much of a vote's probe evidence the activation service keeps: the last results, each output cut. */
export const VOTE_EVIDENCE_RESULTS = 10;
export const VOTE_EVIDENCE_OUTPUT_CHARS = 500;

export const Vote = Type.Object({
  voter: Type.String(),
  requestId: Type.String(),
  incidentId: Type.String(),
  receivedAt: Type.String(),
  /** What the watchdog saw, kept with its vote so that an activation's page can show it after the incident (absent in votes recorded before it was kept). */
  monitor: Type.Optional(Type.String()),
  incidentStartedAt: Type.Optional(Type.String()),
  consecutiveFailures: Type.Optional(Type.Integer({ minimum: 1 })),
  evidence: Type.Optional(
    Type.Array(ProbeEvidence, { description: `the last probe results sent with the vote: at most ${VOTE_EVIDENCE_RESULTS} of them, each output cut to ${VOTE_EVIDENCE_OUTPUT_CHARS} characters` }),
  ),
});
export type Vote = Static<typeof Vote>;

/** The part of a request's incident kept with its vote (bounded: the store holds it until the incident ends). */
export function voteEvidence(incident: ActivationRequest['incident']): Pick<Vote, 'monitor' | 'incidentStartedAt' | 'consecutiveFailures' | 'evidence'> {
  return {
    monitor: incident.monitor,
    incidentStartedAt: incident.startedAt,
    consecutiveFailures: incident.consecutiveFailures,
    evidence: incident.evidence.slice(-VOTE_EVIDENCE_RESULTS).map((e) => ({
      ...e,
      ...(e.output !== undefined && e.output.length > VOTE_EVIDENCE_OUTPUT_CHARS && { output: `${e.output.slice(0, VOTE_EVIDENCE_OUTPUT_CHARS - 1)}…` }),
    })),
  };
}

export const ActivationMode = Type.Union([Type.Literal('auto'), Type.Literal('approval'), Type.Literal('notify-only')]);
export type ActivationMode = Static<typeof ActivationMode>;

/** What an activation's direct probe of the primary is, was or found. */
export const PrimaryProbe = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('pass'), Type.Literal('fail'), Type.Literal('none')], {
    description: 'pending: not run yet; none: nothing to probe with, or it was refused (the plan goes on unconfirmed; `output` says why)',
  }),
  probe: Type.Optional(Type.String({ description: 'what is probed, credentials redacted, e.g. "http GET https://primary.example/health"' })),
  source: Type.Optional(
    Type.Union([Type.Literal('config'), Type.Literal('request')], {
      description: 'config: pinned by the target (`holdOff.probe`, `failback.primaryHealthy.probe`); request: described by the watchdog whose request completed the quorum',
    }),
  ),
  attempts: Type.Optional(Type.Integer({ minimum: 0, description: 'attempts the probe started (each on its own connection)' })),
  output: Type.Optional(Type.String()),
});
export type PrimaryProbe = Static<typeof PrimaryProbe>;

export const Activation = Type.Object({
  id: Type.String(),
  requestId: Type.String({ description: 'the webhook-id of the request that created it (for a failback: the operator request)' }),
  target: Type.String(),
  voter: Type.String({ description: 'the voter whose request completed the quorum; for a failback, the operator' }),
  incidentId: Type.String(),
  status: ActivationStatus,
  epoch: Type.Integer({ minimum: 1, description: 'fencing epoch this activation established' }),
  createdAt: Type.String(),
  finishedAt: Type.Optional(Type.String()),
  steps: Type.Array(StepRecord),
  /** `failover` (absent in records written before failbacks existed) or `failback`. */
  kind: Type.Optional(Type.Union([Type.Literal('failover'), Type.Literal('failback')])),
  mode: Type.Optional(ActivationMode),
  votes: Type.Optional(Type.Array(Vote)),
  /** Why it waits for, or waited for, an operator; who decided. */
  approval: Type.Optional(
    Type.Object({ reason: Type.String(), requestedAt: Type.String(), decidedBy: Type.Optional(Type.String()), decidedAt: Type.Optional(Type.String()) }),
  ),
  /** The data-loss guard's measurement: replication lag against the allowed maximum. */
  dataLoss: Type.Optional(
    Type.Object({ lagMs: Type.Optional(Type.Number()), maxMs: Type.Number(), exceeded: Type.Boolean(), output: Type.Optional(Type.String()) }),
  ),
  /**
   * The direct probe of the primary: the confirmation of a failover (or why there was none), or
   * the guard of a failback. What was probed never shows credentials.
   */
  confirmation: Type.Optional(PrimaryProbe),
  /** Why it ended as it did (cancelled, failed, interrupted). */
  reason: Type.Optional(Type.String()),
});
export type Activation = Static<typeof Activation>;

/** 202 answer to a vote that did not (yet) complete the quorum of its target. */
export const VoteReceipt = Type.Object({
  status: Type.Literal('vote-recorded'),
  target: Type.String(),
  votes: Type.Integer({ minimum: 1, description: 'distinct voters within the window, this one included' }),
  quorum: Type.Integer({ minimum: 1 }),
});
export type VoteReceipt = Static<typeof VoteReceipt>;

export const ActiveSide = Type.Object({
  target: Type.String(),
  active: Side,
  epoch: Type.Integer({ minimum: 0 }),
  /**
   * Counts the changes of the target's state and never goes down. An epoch is raised when an
   * activation starts, but traffic moves only once its plan has succeeded, in the same epoch:
   * of two answers, the higher epoch is newer, and within one epoch the higher revision.
   * Absent in states written before it existed (read as 0).
   */
  revision: Type.Optional(Type.Integer({ minimum: 0 })),
  since: Type.Optional(Type.String()),
  activationId: Type.Optional(Type.String()),
});
export type ActiveSide = Static<typeof ActiveSide>;

/** Every error a Vigil API returns. */
export const ApiError = Type.Object({
  error: Type.String({ description: 'machine-readable code, e.g. "bad-signature"' }),
  message: Type.String(),
});
export type ApiError = Static<typeof ApiError>;
