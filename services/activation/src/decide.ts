import type { ActivationMode, Vote } from '@vigil/core';
import type { RequestRecord, TargetState } from './store.js';

/** What to do with an authenticated, well-formed activation request. */
export type Decision =
  /** The very same delivery again (same id and signature): someone replays it. */
  | { kind: 'replayed' }
  /** A known webhook-id with another body: the id was reused for a different request. */
  | { kind: 'conflict' }
  /** A sender's retry of a request that already created an activation: answer with that one. */
  | { kind: 'retry'; activationId: string }
  /** The target is already held by an activation (pending, running, succeeded or interrupted). */
  | { kind: 'already-active'; activationId: string; epoch: number }
  /** Counted, but fewer than `quorum` distinct voters asked within the window. */
  | { kind: 'vote-recorded'; votes: number; quorum: number }
  /** Start a new activation, establishing `epoch`; `voters` are the distinct voters that made the quorum. */
  | { kind: 'activate'; epoch: number; voters: string[] };

export interface DecisionInput {
  /** What was recorded for this webhook-id, if it was seen before. */
  previous: RequestRecord | undefined;
  signatureHash: string;
  bodyHash: string;
  target: TargetState;
  /** The voter that signed this request. */
  voter: string;
  /** Votes recorded earlier for this target (any age; those outside the window are ignored). */
  votes: readonly Vote[];
  quorum: { votes: number; windowMs: number };
  now: number;
}

/**
 * The idempotency, quorum and at-most-once rules, free of I/O. The webhook-id is the
 * idempotency key; a target is activated at most once until a failback, and only once `quorum`
 * distinct voters asked within the window (one voter asking twice counts once). A failed or
 * cancelled activation does not hold its target: the primary stayed active.
 */
export function decide({ previous, signatureHash, bodyHash, target, voter, votes, quorum, now }: DecisionInput): Decision {
  if (previous) {
    if (previous.signatureHashes.includes(signatureHash)) return { kind: 'replayed' };
    if (previous.bodyHash !== bodyHash) return { kind: 'conflict' };
    if (previous.activationId !== undefined) return { kind: 'retry', activationId: previous.activationId };
    // The earlier delivery created nothing (the target was held, or the quorum not reached): decide afresh.
  }
  if (target.activationId !== undefined) return { kind: 'already-active', activationId: target.activationId, epoch: target.epoch };
  const voters = [...new Set([...votesWithin(votes, now, quorum.windowMs).map((v) => v.voter), voter])];
  if (voters.length < quorum.votes) return { kind: 'vote-recorded', votes: voters.length, quorum: quorum.votes };
  return { kind: 'activate', epoch: target.epoch + 1, voters };
}

/** The votes still inside the window at `now`. */
export function votesWithin(votes: readonly Vote[], now: number, windowMs: number): Vote[] {
  return votes.filter((v) => now - Date.parse(v.receivedAt) <= windowMs);
}

/** What the request that completed the quorum says about its probe, once read (see confirmation.ts). */
export type RequestedProbe<P> = { kind: 'absent' } | { kind: 'refused'; problems: readonly string[] } | { kind: 'valid'; probe: P };

/** How a failover is confirmed before its plan runs. */
export type Confirmation<P> =
  /** Turned off (`holdOff.enabled: false`): the plan runs as soon as the other gates allow. */
  | { kind: 'off' }
  /** Nothing to probe with: the plan goes on unconfirmed; `reason` says why. */
  | { kind: 'none'; reason: string }
  /** Probe the primary directly with `probe`, pinned by the target (`config`) or described by the request. */
  | { kind: 'probe'; source: 'config' | 'request'; probe: P };

/**
 * Which probe confirms a failover: the target's pinned one, else the one the request describes.
 * Without either (an older watchdog, a request sent by hand), or with the request's refused, the
 * plan goes on as it would without confirmation: a second opinion that cannot be had must not
 * stand in the way of a failover the quorum asked for.
 */
export function confirmationOf<P>(holdOff: { enabled: boolean; probe?: P | undefined }, requested: RequestedProbe<P>): Confirmation<P> {
  if (!holdOff.enabled) return { kind: 'off' };
  if (holdOff.probe !== undefined) return { kind: 'probe', source: 'config', probe: holdOff.probe };
  switch (requested.kind) {
    case 'valid':
      return { kind: 'probe', source: 'request', probe: requested.probe };
    case 'absent':
      return { kind: 'none', reason: 'no probe to confirm with: the request describes none (an older watchdog, or sent by hand) and holdOff.probe is not set; the plan goes on unconfirmed' };
    case 'refused':
      return { kind: 'none', reason: `no probe to confirm with: the request's probe was refused (${requested.problems.join('; ')}); the plan goes on unconfirmed` };
  }
}

/** What an activation does once it holds its target (and after each fact it learns). */
export type Stage =
  | { kind: 'cancel'; reason: string }
  | { kind: 'await-approval'; reason: string }
  | { kind: 'notify-only'; reason: string }
  | { kind: 'run' };

export interface StageInput {
  kind: 'failover' | 'failback';
  mode: ActivationMode;
  /**
   * The direct probe of the primary: after the hold-off for a failover (`pass` cancels it), or
   * throughout the healthy period for a failback (`fail` cancels it); `probe` says what was probed.
   * Absent when nothing was probed.
   */
  primary?: { status: 'pass' | 'fail'; output?: string; probe?: string };
  /** The data-loss guard: the standby's replication lag (undefined when it could not be measured). */
  dataLoss?: { lagMs?: number; maxMs: number };
  approved: boolean;
}

/** True when failing over now could lose more writes than allowed; an unknown lag counts as too much. */
export function dataAtRisk(dataLoss: StageInput['dataLoss']): boolean {
  return dataLoss !== undefined && (dataLoss.lagMs === undefined || dataLoss.lagMs > dataLoss.maxMs);
}

export function describeDataLoss(dataLoss: NonNullable<StageInput['dataLoss']>): string {
  const max = `${dataLoss.maxMs / 1000}s`;
  return dataLoss.lagMs === undefined
    ? `the standby's replication lag is unknown (allowed: ${max}): an unknown amount of writes could be lost`
    : `the standby lags ${dataLoss.lagMs / 1000}s behind (allowed: ${max}): up to ${dataLoss.lagMs / 1000}s of writes would be lost`;
}

/** The gates between holding a target and running its plan, in order; pure and table-tested. */
export function nextStage({ kind, mode, primary, dataLoss, approved }: StageInput): Stage {
  if (kind === 'failover' && primary?.status === 'pass') {
    const found = [primary.probe, primary.output].filter((text) => text !== undefined && text !== '').join(': ');
    return { kind: 'cancel', reason: `the primary answered the direct probe after the hold-off${found ? ` (${found})` : ''}` };
  }
  if (kind === 'failback' && primary?.status === 'fail') {
    return { kind: 'cancel', reason: `the primary was not healthy throughout the guard period${primary.output ? ` (${primary.output})` : ''}` };
  }
  const risk = dataAtRisk(dataLoss) && dataLoss ? describeDataLoss(dataLoss) : undefined;
  if (mode === 'notify-only') return { kind: 'notify-only', reason: `notify-only mode: an operator fails over by hand${risk ? `; ${risk}` : ''}` };
  if (approved) return { kind: 'run' };
  if (risk) return { kind: 'await-approval', reason: `data-loss guard: ${risk}` };
  if (mode === 'approval') return { kind: 'await-approval', reason: `approval mode: an operator must approve the ${kind}` };
  return { kind: 'run' };
}
