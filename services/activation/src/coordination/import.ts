import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { Activation } from '@vigil/core';
import { TargetState, type AuditRecord } from '../store.js';
import { IncidentClaim, type ExportedState, type ImportSummary, type ReadSet, type Tx } from './coordination.js';

/** What an import needs of a backend. */
export interface ImportTarget {
  transact<R>(reads: ReadSet, change: (tx: Tx) => R): Promise<R>;
  existingAudit(): Promise<AuditRecord[]>;
  appendAudit(record: AuditRecord): Promise<void>;
}

/** Checks one exported document against its schema; the error says which one and what is wrong. */
function checked<T>(schema: TSchema, value: unknown, where: string): T {
  if (Value.Check(schema, value)) return value as T;
  const first = Value.Errors(schema, value)[0];
  throw new Error(`${where}: ${first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape'}`);
}

/**
 * Writes an export into a backend without ever lowering an epoch: a target takes the imported
 * state only when its epoch is higher than its own. Activations and incident claims already
 * present are kept; audit records already present (same content) are not appended again.
 * Every document is checked before anything is written.
 */
export async function importInto(into: ImportTarget, exported: ExportedState): Promise<ImportSummary> {
  const targets = Object.entries(exported.targets).map(([name, state]) => [name, checked<TargetState>(TargetState, state, `targets.${name}`)] as const);
  const activations = exported.activations.map((a, i) => checked<Activation>(Activation, a, `activations[${i}]`));
  const incidents = exported.incidents.map((i, n) => ({ ...i, claim: checked<IncidentClaim>(IncidentClaim, i.claim, `incidents[${n}].claim`) }));
  const audit = exported.audit.map((record, i) => {
    if (typeof record !== 'object' || record === null || typeof (record as { activationId?: unknown }).activationId !== 'string') {
      throw new Error(`audit[${i}]: not an audit record (no activationId)`);
    }
    return record as AuditRecord;
  });

  const summary: ImportSummary = { targets: 0, epochsRaised: 0, activations: 0, incidents: 0, audit: 0 };
  for (const activation of activations) {
    const added = await into.transact({ activations: [activation.id] }, (tx) => {
      if (tx.activation(activation.id)) return false;
      tx.putActivation(activation);
      return true;
    });
    if (added) summary.activations++;
  }
  for (const { target, incidentId, claim } of incidents) {
    const added = await into.transact({ incidents: [{ target, incidentId }] }, (tx) => {
      if (tx.incident(target, incidentId)) return false;
      tx.putIncident(target, incidentId, claim);
      return true;
    });
    if (added) summary.incidents++;
  }
  for (const [name, state] of targets) {
    summary.targets++;
    const raised = await into.transact({ targets: [name] }, (tx) => {
      if (tx.target(name).epoch >= state.epoch) return false;
      tx.setTarget(name, state);
      return true;
    });
    if (raised) summary.epochsRaised++;
  }
  const present = new Set((await into.existingAudit()).map((r) => JSON.stringify(r)));
  for (const record of audit) {
    if (present.has(JSON.stringify(record))) continue;
    await into.appendAudit(record);
    summary.audit++;
  }
  return summary;
}
