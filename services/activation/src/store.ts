import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { Activation, ActiveSide, AppendLog, JsonFile, Vote, type PrimaryProbe, type StepRecord } from '@vigil/core';

/** Which side of a target is active, persisted so that a restart keeps the fencing epoch. */
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

const StoredState = Type.Object({
  version: Type.Literal(1),
  targets: Type.Record(Type.String(), TargetState),
  /** Oldest first. */
  activations: Type.Array(Activation),
  requests: Type.Record(Type.String(), RequestRecord),
  /** Votes towards each free target's quorum, cleared when an activation takes them. */
  votes: Type.Optional(Type.Record(Type.String(), Type.Array(Vote))),
});
type StoredState = Static<typeof StoredState>;

/** One line of the append-only audit log. */
export type AuditRecord = { time: string; activationId: string; target: string; epoch: number } & (
  | { event: 'activation-created'; requestId: string; voter: string; incidentId: string; confirmation?: PrimaryProbe }
  | { event: 'step-started' | 'step-finished'; step: StepRecord }
  | { event: 'activation-finished'; status: Activation['status']; reason?: string }
  | { event: 'failback-created'; operator: string }
  | ({ event: 'primary-probed' } & PrimaryProbe & { status: 'pass' | 'fail' })
  | { event: 'data-loss-checked'; lagMs?: number; maxMs: number; output?: string }
  | { event: 'approval-requested'; reason: string }
  | { event: 'approved' | 'cancelled'; operator: string; comment?: string }
  | { event: 'plan-resumed'; fromStep: string }
  | { event: 'page'; summary: string; delivered: boolean }
);

const INITIAL_TARGET: TargetState = { active: 'primary', epoch: 0 };

/**
 * The service's durable state in `dataDir`: a JSON snapshot (targets, activations, request
 * ids) written atomically, and an fsynced audit log. Callers change the in-memory state
 * synchronously, then `save()`; a snapshot taken at save time is what reaches the disk.
 */
export class ActivationStore {
  private readonly byId = new Map<string, Activation>();

  private constructor(
    private readonly state: StoredState,
    private readonly file: JsonFile<StoredState>,
    private readonly audit: AppendLog<AuditRecord>,
  ) {
    for (const activation of state.activations) this.byId.set(activation.id, activation);
  }

  /** Loads the state found in `dataDir`, or starts empty. A file of the wrong shape is an error naming it. */
  static open(dataDir: string): ActivationStore {
    const file = new JsonFile<StoredState>(join(dataDir, 'state.json'));
    const loaded = file.load();
    if (loaded !== undefined && !Value.Check(StoredState, loaded)) {
      const first = Value.Errors(StoredState, loaded)[0];
      throw new Error(
        `state file ${file.path} does not hold activation state (${first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape'}); move it aside to start afresh`,
      );
    }
    const state = loaded ?? { version: 1, targets: {}, activations: [], requests: {} };
    return new ActivationStore(state, file, new AppendLog<AuditRecord>(join(dataDir, 'audit.jsonl')));
  }

  targetState(target: string): TargetState {
    return this.state.targets[target] ?? { ...INITIAL_TARGET };
  }

  /** Every target with recorded state, by name. */
  targets(): Readonly<Record<string, TargetState>> {
    return this.state.targets;
  }

  setTargetState(target: string, next: TargetState): void {
    this.state.targets[target] = next;
  }

  request(requestId: string): RequestRecord | undefined {
    return this.state.requests[requestId];
  }

  rememberRequest(requestId: string, record: RequestRecord): void {
    this.state.requests[requestId] = record;
  }

  /** Forgets requests that created nothing and arrived before `cutoff` (ISO time); they only guard against replays. */
  forgetIdleRequests(cutoff: string): void {
    for (const [id, record] of Object.entries(this.state.requests)) {
      if (record.activationId === undefined && record.receivedAt < cutoff) delete this.state.requests[id];
    }
  }

  votes(target: string): Vote[] {
    return this.state.votes?.[target] ?? [];
  }

  setVotes(target: string, votes: Vote[]): void {
    this.state.votes = { ...this.state.votes, [target]: votes };
  }

  /** The live record: change it, then `save()`. */
  activation(id: string): Activation | undefined {
    return this.byId.get(id);
  }

  /** Newest first, optionally for one target. */
  activations(target?: string): Activation[] {
    return this.state.activations.filter((a) => target === undefined || a.target === target).reverse();
  }

  addActivation(activation: Activation): void {
    this.state.activations.push(activation);
    this.byId.set(activation.id, activation);
  }

  /** Persists the current state; resolves once it (and every earlier save) is durable. */
  save(): Promise<void> {
    return this.file.save(this.state);
  }

  appendAudit(record: AuditRecord): Promise<void> {
    return this.audit.append(record);
  }

  /** Every audit record of one activation, oldest first, read from the log itself. */
  auditOf(activationId: string): AuditRecord[] {
    return this.audit.readAll().filter((r) => r.activationId === activationId);
  }
}
