import Type, { type Static } from 'typebox';
import { Activation, ActiveSide, Vote, type PrimaryProbe, type StepRecord } from '@vigil/core';
import { IncidentClaim } from './coordination/coordination.js';

/**
 * What `GET /v1/active` reports, less the target's name (the key it is stored under). The epoch
 * only grows, so a value is never reused; `activationId` names the activation holding the target
 * (running, succeeded or interrupted), absent when none does.
 */
export const TargetState = Type.Omit(ActiveSide, ['target']);
export type TargetState = Static<typeof TargetState>;

/** What was seen for one webhook-id: enough to tell a replay, a retry and a reused id apart. */
export const RequestRecord = Type.Object({
  target: Type.String(),
  voter: Type.String(),
  incidentId: Type.String(),
  bodyHash: Type.String(),
  /** Hashes of every delivery's signature (each retry is signed anew); the signatures themselves are not kept. */
  signatureHashes: Type.Array(Type.String()),
  receivedAt: Type.String(),
  activationId: Type.Optional(Type.String()),
  /**
   * The probe the request described (`incident.probe`), as received, kept for the activation it
   * created: a restart during the hold-off confirms with it. Not served by the API.
   */
  probe: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type RequestRecord = Static<typeof RequestRecord>;

/** The file backend's `state.json`. */
export const StoredState = Type.Object({
  version: Type.Literal(1),
  targets: Type.Record(Type.String(), TargetState),
  /** Oldest first. */
  activations: Type.Array(Activation),
  requests: Type.Record(Type.String(), RequestRecord),
  /** Votes towards each free target's quorum, cleared when an activation takes them. */
  votes: Type.Optional(Type.Record(Type.String(), Type.Array(Vote))),
  /** Claimed incidents of each target, by incident id. */
  incidents: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), IncidentClaim))),
});
export type StoredState = Static<typeof StoredState>;

/** One line of the append-only audit log. */
export type AuditRecord = { time: string; activationId: string; target: string; epoch: number } & (
  | { event: 'activation-created'; requestId: string; voter: string; incidentId: string; confirmation?: PrimaryProbe }
  | { event: 'step-started' | 'step-finished'; step: StepRecord }
  | { event: 'activation-finished'; status: Activation['status']; reason?: string }
  | { event: 'failback-created'; operator: string; comment?: string }
  | ({ event: 'primary-probed' } & PrimaryProbe & { status: 'pass' | 'fail' })
  | { event: 'data-loss-checked'; lagMs?: number; maxMs: number; output?: string }
  | { event: 'approval-requested'; reason: string }
  | { event: 'approved' | 'cancelled'; operator: string; comment?: string }
  | { event: 'plan-resumed'; fromStep: string }
  | { event: 'page'; summary: string; delivered: boolean }
  /**
   * An operator rehearsed a failover or failback (`POST /v1/drills`): nothing ran. Keyed by a
   * `drill_…` id of its own in `activationId`; `epoch` is the target's epoch at the time.
   */
  | {
      event: 'drill';
      operator: string;
      reason?: string;
      kind: 'failover' | 'failback';
      mode: 'auto' | 'approval' | 'notify-only';
      wouldWaitForApproval: boolean;
      approvalReasons: string[];
      planBudgetMs: number;
      rtoMs?: number;
      withinRto?: boolean;
    }
  /** An operator ran the plan by hand while the coordination store could not be reached (`break-glass`). */
  | { event: 'break-glass'; operator: string; reason: string; kind: 'failover' | 'failback'; host: string; epochSource: string }
);
