import type { RequestRecord, TargetState } from './store.js';

/** What to do with an authenticated, well-formed activation request. */
export type Decision =
  /** The very same delivery again (same id and signature): someone replays it. */
  | { kind: 'replayed' }
  /** A known webhook-id with another body: the id was reused for a different request. */
  | { kind: 'conflict' }
  /** A sender's retry of a request that already created an activation: answer with that one. */
  | { kind: 'retry'; activationId: string }
  /** The target is already held by an activation (running, succeeded or interrupted). */
  | { kind: 'already-active'; activationId: string; epoch: number }
  /** Start a new activation, establishing `epoch`. */
  | { kind: 'activate'; epoch: number };

export interface DecisionInput {
  /** What was recorded for this webhook-id, if it was seen before. */
  previous: RequestRecord | undefined;
  signatureHash: string;
  bodyHash: string;
  target: TargetState;
}

/**
 * The idempotency and at-most-once rules, free of I/O. The webhook-id is the idempotency key;
 * a target is activated at most once until a failback. A failed activation does not hold its
 * target: the primary stayed active, so a later request may try again.
 */
export function decide({ previous, signatureHash, bodyHash, target }: DecisionInput): Decision {
  if (previous) {
    if (previous.signatureHashes.includes(signatureHash)) return { kind: 'replayed' };
    if (previous.bodyHash !== bodyHash) return { kind: 'conflict' };
    if (previous.activationId !== undefined) return { kind: 'retry', activationId: previous.activationId };
    // The earlier delivery created nothing (the target was held then): decide afresh.
  }
  if (target.activationId !== undefined) return { kind: 'already-active', activationId: target.activationId, epoch: target.epoch };
  return { kind: 'activate', epoch: target.epoch + 1 };
}
