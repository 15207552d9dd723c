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
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ActivationRequest = Static<typeof ActivationRequest>;

export const Side = Type.Union([Type.Literal('primary'), Type.Literal('secondary')]);
export type Side = Static<typeof Side>;

export const ActivationStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('interrupted'),
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
});
export type StepRecord = Static<typeof StepRecord>;

export const Activation = Type.Object({
  id: Type.String(),
  requestId: Type.String({ description: 'the webhook-id of the request that created it' }),
  target: Type.String(),
  voter: Type.String(),
  incidentId: Type.String(),
  status: ActivationStatus,
  epoch: Type.Integer({ minimum: 1, description: 'fencing epoch this activation established' }),
  createdAt: Type.String(),
  finishedAt: Type.Optional(Type.String()),
  steps: Type.Array(StepRecord),
});
export type Activation = Static<typeof Activation>;

/** `GET /v1/active?target=NAME`: which side clients should use, with the fencing epoch. */
export const ActiveSide = Type.Object({
  target: Type.String(),
  active: Side,
  epoch: Type.Integer({ minimum: 0 }),
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
