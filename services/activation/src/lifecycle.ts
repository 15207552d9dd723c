import type { Activation } from '@vigil/core';
import type { Tx } from './coordination/coordination.js';
import type { AuditRecord, TargetState } from './store.js';

/** Statuses after which nothing more happens to an activation. */
export const FINAL = new Set<Activation['status']>(['succeeded', 'failed', 'interrupted', 'cancelled', 'notified']);
export type FinalStatus = 'succeeded' | 'failed' | 'interrupted' | 'cancelled' | 'notified';

export const iso = (ms: number) => new Date(ms).toISOString();
export const kindOf = (activation: Pick<Activation, 'kind'>) => activation.kind ?? 'failover';

export function auditBase(activation: Activation, time: string): Pick<AuditRecord, 'time' | 'activationId' | 'target' | 'epoch'> {
  return { time, activationId: activation.id, target: activation.target, epoch: activation.epoch };
}

/**
 * What a target becomes when one of its activations ends with `status`: a successful failover
 * makes the secondary active, a successful failback the primary; a failover that ended without
 * running its plan to the end releases the target (the primary stayed active), except an
 * interrupted one, which may have half-run and keeps holding it for an operator.
 */
export function targetAfter(target: TargetState, activation: Activation, status: FinalStatus, finishedAt: string): TargetState {
  if (kindOf(activation) === 'failback') return status === 'succeeded' ? { active: 'primary', epoch: target.epoch, since: finishedAt } : target;
  if (target.activationId !== activation.id) return target;
  if (status === 'succeeded') return { ...target, active: 'secondary', since: finishedAt };
  if (status === 'interrupted') return target;
  const { activationId: _released, ...rest } = target;
  return rest;
}

/**
 * Ends an activation inside a transaction that read it and its target: status, time, reason,
 * the target's new state and the audit record, all in one write. Returns the ended activation,
 * or undefined when it had already ended (e.g. cancelled while its hold-off probe was in flight).
 */
export function finishIn(tx: Tx, id: string, status: FinalStatus, finishedAt: string, reason?: string): Activation | undefined {
  const activation = tx.activation(id);
  if (!activation || FINAL.has(activation.status)) return undefined;
  activation.status = status;
  activation.finishedAt = finishedAt;
  if (reason !== undefined) activation.reason = reason;
  tx.putActivation(activation);
  const target = tx.target(activation.target);
  const next = targetAfter(target, activation, status, finishedAt);
  if (next !== target) tx.setTarget(activation.target, next);
  tx.appendAudit({ ...auditBase(activation, finishedAt), event: 'activation-finished', status, ...(reason !== undefined && { reason }) });
  return activation;
}
