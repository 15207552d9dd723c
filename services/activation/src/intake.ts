import { createHash, randomBytes } from 'node:crypto';
import { voteEvidence, type Activation, type ActivationRequest, type Logger, type Vote } from '@vigil/core';
import type { TargetConfig } from './config.js';
import { describeProbe, parseRequestProbe, type ProbeSpec } from './confirmation.js';
import type { Coordination, Tx } from './coordination/coordination.js';
import { confirmationOf, decide, nextStage, votesWithin, type Confirmation, type RequestedProbe, type Stage } from './decide.js';
import { FINAL, auditBase, finishIn, iso, kindOf } from './lifecycle.js';
import type { ActivationMetrics } from './metrics.js';
import type { RequestRecord } from './store.js';

/** A request whose signature has been verified and whose body matches the schema. */
export interface VerifiedRequest {
  requestId: string;
  signature: string;
  rawBody: string;
  body: ActivationRequest;
}

export type SubmitResult =
  | { kind: 'created'; activation: Activation }
  | { kind: 'existing'; activation: Activation }
  | { kind: 'already-active'; activationId: string; epoch: number }
  | { kind: 'vote-recorded'; votes: number; quorum: number }
  | { kind: 'replayed' }
  | { kind: 'conflict' }
  | { kind: 'unknown-target' }
  | { kind: 'closing' };

export type OperatorResult =
  | { kind: 'ok'; activation: Activation }
  | { kind: 'unknown-activation' }
  | { kind: 'unknown-target' }
  | { kind: 'closing' }
  /** Not in a state where this action applies; `message` says why. */
  | { kind: 'conflict'; error: string; message: string };

export interface IntakeOptions {
  targets: ReadonlyMap<string, TargetConfig>;
  coordination: Coordination;
  logger: Logger;
  metrics: ActivationMetrics;
  now: () => number;
}

/** Signature hashes kept per request id: each retry of one request is signed anew. */
const SIGNATURES_PER_REQUEST = 20;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newActivationId = () => `act_${randomBytes(12).toString('base64url')}`;

/**
 * The first stage of the pipeline, run by any replica: a verified request or an operator's
 * action becomes one transaction over the coordination store, decided by the pure rules of
 * decide.ts. Claiming an incident and raising the target's epoch happen in that one
 * transaction, so concurrent requests on any number of replicas create one activation. What
 * happens next (gates, plan) is the leader's: it learns of every change through the store.
 */
export class Intake {
  constructor(private readonly options: IntakeOptions) {}

  async submit(request: VerifiedRequest): Promise<SubmitResult> {
    const { coordination, targets, now: clock } = this.options;
    const name = request.body.target;
    const target = targets.get(name);
    if (!target) return { kind: 'unknown-target' };
    const incidentId = request.body.incident.id;
    const signatureHash = sha256(request.signature);
    const bodyHash = sha256(request.rawBody);
    const requested = parseRequestProbe(request.body.incident.probe);
    const confirmation = confirmationFor(target, requested);
    const id = newActivationId();
    const now = clock();

    const remember = (tx: Tx, previous: RequestRecord | undefined, activationId?: string) => {
      tx.putRequest(
        request.requestId,
        {
          target: name,
          voter: request.body.voter,
          incidentId,
          bodyHash,
          signatureHashes: [...(previous?.signatureHashes ?? []), signatureHash].slice(-SIGNATURES_PER_REQUEST),
          receivedAt: previous?.receivedAt ?? iso(now),
          ...(activationId !== undefined && { activationId }),
          // A probe that can be used is kept with the request: a new leader or a restart during the hold-off confirms with it.
          ...(activationId !== undefined && requested.kind === 'valid' && request.body.incident.probe && { probe: request.body.incident.probe }),
        },
        { idle: activationId === undefined },
      );
    };

    const outcome = await coordination.transact(
      { requests: [request.requestId], targets: [name], votes: [name], incidents: [{ target: name, incidentId }], activations: [id] },
      (tx): SubmitResult | { kind: 'retry'; activationId: string } => {
        const previous = tx.request(request.requestId);
        const votes = votesWithin(tx.votes(name), now, target.quorum.window);
        const decision = decide({
          previous,
          signatureHash,
          bodyHash,
          target: tx.target(name),
          voter: request.body.voter,
          votes,
          quorum: { votes: target.quorum.votes, windowMs: target.quorum.window },
          now,
        });
        const vote: Vote = { voter: request.body.voter, requestId: request.requestId, incidentId, receivedAt: iso(now), ...voteEvidence(request.body.incident) };
        switch (decision.kind) {
          case 'replayed':
          case 'conflict':
            return decision;
          case 'retry':
            remember(tx, previous, decision.activationId);
            return decision;
          case 'already-active':
            remember(tx, previous);
            return decision;
          case 'vote-recorded':
            // A voter's latest vote replaces its earlier one: one voter never counts twice.
            tx.setVotes(name, [...votes.filter((v) => v.voter !== vote.voter), vote]);
            remember(tx, previous);
            return decision;
          case 'activate': {
            const claimed = tx.incident(name, incidentId);
            if (claimed) {
              // This incident was handled once already (its activation ended without holding the target).
              remember(tx, previous);
              return { kind: 'already-active', activationId: claimed.activationId, epoch: claimed.epoch };
            }
            const first = initialStage(target, confirmation);
            const activation: Activation = {
              id,
              requestId: request.requestId,
              target: name,
              voter: request.body.voter,
              incidentId,
              kind: 'failover',
              mode: target.mode,
              votes: [...votes.filter((v) => v.voter !== vote.voter), vote],
              status: first.kind === 'run' ? 'running' : first.kind === 'await-approval' ? 'awaiting-approval' : 'holding-off',
              epoch: decision.epoch,
              createdAt: iso(now),
              steps: [],
            };
            if (first.kind === 'await-approval') activation.approval = { reason: first.reason, requestedAt: activation.createdAt };
            const planned = plannedProbe(confirmation);
            if (planned) activation.confirmation = planned;
            tx.putActivation(activation);
            tx.putIncident(name, incidentId, { activationId: id, epoch: decision.epoch, claimedAt: activation.createdAt });
            // The epoch moves now, not when the plan ends, so that a fence step can hand the new
            // epoch to storage before the standby serves. The active side changes only on success.
            tx.setTarget(name, { ...tx.target(name), epoch: decision.epoch, activationId: id });
            tx.setVotes(name, []);
            remember(tx, previous, id);
            tx.appendAudit({
              ...auditBase(activation, activation.createdAt),
              event: 'activation-created',
              requestId: request.requestId,
              voter: request.body.voter,
              incidentId,
              ...(planned && { confirmation: planned }),
            });
            return { kind: 'created', activation };
          }
        }
      },
    );

    switch (outcome.kind) {
      case 'retry': {
        const activation = await coordination.activation(outcome.activationId);
        if (!activation) throw new Error(`request ${request.requestId} refers to a missing activation ${outcome.activationId}`);
        return { kind: 'existing', activation };
      }
      case 'vote-recorded':
        this.options.logger.warn({ target: name, voter: request.body.voter, votes: outcome.votes, quorum: outcome.quorum }, 'activation vote recorded; quorum not reached');
        return outcome;
      case 'created': {
        const { activation } = outcome;
        this.options.logger.warn(
          { activationId: activation.id, target: name, epoch: activation.epoch, voters: activation.votes?.map((v) => v.voter), incidentId, status: activation.status, replica: coordination.replica },
          'activation started',
        );
        if (confirmation.kind === 'none') this.options.logger.warn({ activationId: activation.id, reason: confirmation.reason }, 'the failover goes on without a direct probe of the primary');
        return outcome;
      }
      default:
        return outcome;
    }
  }

  /** An operator approves an activation (or failback) waiting for approval: the leader runs its plan. */
  async approve(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    const now = iso(this.options.now());
    const result = await this.options.coordination.transact({ activations: [id] }, (tx): OperatorResult => {
      const activation = tx.activation(id);
      if (!activation) return { kind: 'unknown-activation' };
      if (activation.status !== 'awaiting-approval') {
        return { kind: 'conflict', error: 'not-awaiting-approval', message: `activation ${id} is ${activation.status}, not awaiting approval` };
      }
      activation.status = 'running';
      activation.approval = { reason: activation.approval?.reason ?? 'approval requested', requestedAt: activation.approval?.requestedAt ?? now, decidedBy: operator, decidedAt: now };
      tx.putActivation(activation);
      tx.appendAudit({ ...auditBase(activation, now), event: 'approved', operator, ...(comment && { comment }) });
      return { kind: 'ok', activation };
    });
    if (result.kind === 'ok') this.options.logger.warn({ activationId: id, target: result.activation.target, operator }, 'activation approved by an operator');
    return result;
  }

  /** An operator cancels an activation before its plan runs: the primary stays active. */
  async cancel(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    const found = await this.options.coordination.activation(id);
    if (!found) return { kind: 'unknown-activation' };
    const now = iso(this.options.now());
    const reason = `cancelled by ${operator}${comment ? `: ${comment}` : ''}`;
    const result = await this.options.coordination.transact({ activations: [id], targets: [found.target] }, (tx): OperatorResult => {
      const activation = tx.activation(id);
      if (!activation) return { kind: 'unknown-activation' };
      if (activation.status !== 'holding-off' && activation.status !== 'awaiting-approval') {
        return { kind: 'conflict', error: 'not-cancellable', message: `activation ${id} is ${activation.status}; only one holding off or awaiting approval can be cancelled` };
      }
      tx.appendAudit({ ...auditBase(activation, now), event: 'cancelled', operator, ...(comment && { comment }) });
      const ended = finishIn(tx, id, 'cancelled', now, reason);
      return ended ? { kind: 'ok', activation: ended } : { kind: 'unknown-activation' };
    });
    if (result.kind === 'ok') {
      this.options.metrics.activations.inc({ target: result.activation.target, outcome: 'cancelled' });
      this.options.logger.warn({ activationId: id, target: result.activation.target, kind: kindOf(result.activation), epoch: result.activation.epoch, status: 'cancelled', reason }, 'activation ended without running its plan');
    }
    return result;
  }

  /**
   * An operator starts a failback: only of a target whose secondary is active (or held by an
   * interrupted failover), once at a time. The leader holds it off while the primary must stay
   * healthy, may wait for approval, then runs the failback plan with the next epoch.
   */
  async failback(name: string, operator: string, comment?: string): Promise<OperatorResult> {
    const { coordination } = this.options;
    const target = this.options.targets.get(name);
    if (!target) return { kind: 'unknown-target' };
    if (!target.failback) return { kind: 'conflict', error: 'no-failback-plan', message: `target "${name}" has no failback configured` };
    const observed = await coordination.targetState(name);
    const pending = (await coordination.activations(name)).find((a) => kindOf(a) === 'failback' && !FINAL.has(a.status));
    if (pending) return { kind: 'conflict', error: 'failback-in-progress', message: `failback ${pending.id} of "${name}" is ${pending.status}` };
    const now = this.options.now();
    const id = newActivationId();
    const holderId = observed.activationId;
    const result = await coordination.transact({ targets: [name], activations: [id, ...(holderId === undefined ? [] : [holderId])] }, (tx): OperatorResult => {
      const state = tx.target(name);
      // Any change since the look above (another failback, a failover ending) is decided again by the caller.
      if (state.epoch !== observed.epoch || state.activationId !== holderId) {
        return { kind: 'conflict', error: 'target-changed', message: `the state of "${name}" changed while the failback was being started; look again and retry` };
      }
      // An interrupted failover may have half-run: its failback plan is how an operator undoes it.
      const holder = holderId === undefined ? undefined : tx.activation(holderId);
      if (state.active !== 'secondary' && holder?.status !== 'interrupted') {
        return { kind: 'conflict', error: 'not-failed-over', message: `the primary side of "${name}" is active and no interrupted activation holds it` };
      }
      const activation: Activation = {
        id,
        requestId: `op_${randomBytes(9).toString('base64url')}`,
        target: name,
        voter: operator,
        incidentId: `failback-${iso(now)}`,
        kind: 'failback',
        mode: target.failback?.approval ? 'approval' : 'auto',
        status: 'holding-off',
        epoch: state.epoch + 1,
        createdAt: iso(now),
        steps: [],
      };
      tx.putActivation(activation);
      // A failback leaves the failover holding the target until it succeeds.
      tx.setTarget(name, { ...state, epoch: activation.epoch });
      tx.appendAudit({ ...auditBase(activation, activation.createdAt), event: 'failback-created', operator, ...(comment && { comment }) });
      return { kind: 'ok', activation };
    });
    if (result.kind === 'ok') this.options.logger.warn({ activationId: id, target: name, epoch: result.activation.epoch, operator, comment }, 'failback started');
    return result;
  }
}

/**
 * Where a new failover starts, so that its 202 already says so: `holding-off` while the primary
 * is to be probed or the data-loss guard checked first (notify-only passes through it to
 * `notified`); otherwise straight to its stage, as when there is nothing to confirm with.
 */
function initialStage(target: TargetConfig, confirmation: Confirmation<unknown>): Stage | { kind: 'check' } {
  if (confirmation.kind === 'probe' || target.dataLoss !== undefined) return { kind: 'check' };
  return nextStage({ kind: 'failover', mode: target.mode, approved: false });
}

/** How a target confirms a failover, given the probe the request that completed the quorum described. */
export function confirmationFor(target: TargetConfig, requested: RequestedProbe<ProbeSpec>): Confirmation<ProbeSpec> {
  const { enabled, probe } = target.holdOff;
  return confirmationOf({ enabled, ...(probe && { probe: { check: probe } }) }, requested);
}

/** What a new activation records about its confirmation: what will be probed, or why nothing will. */
function plannedProbe(confirmation: Confirmation<ProbeSpec>) {
  switch (confirmation.kind) {
    case 'off':
      return undefined;
    case 'none':
      return { status: 'none' as const, output: confirmation.reason };
    case 'probe':
      return { status: 'pending' as const, probe: describeProbe(confirmation.probe.check), source: confirmation.source };
  }
}
