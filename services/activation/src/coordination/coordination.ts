import Type, { type Static } from 'typebox';
import type { Activation, Vote } from '@vigil/core';
import type { AuditRecord, RequestRecord, TargetState } from '../store.js';

/**
 * The activation service's durable, shared state behind one interface. Two backends implement it:
 * files in a local directory (one process, the embedded default) and etcd (any number of
 * replicas). The service does not know which one it runs on.
 *
 * State is a set of documents (a target's side and epoch, its pending votes, its claimed
 * incidents, activations, request ids); every change is a transaction over named documents,
 * applied atomically only if none of them changed since they were read.
 */
export interface Coordination {
  readonly kind: 'file' | 'etcd';
  /** This replica's name, recorded with what its leader terms do. */
  readonly replica: string;

  /**
   * Reads the documents `reads` names, runs `change` on them and applies its writes atomically
   * if none of them changed meanwhile; otherwise runs `change` again on fresh values (so it must
   * only read and write through `tx`). With `term`, the writes also require that term's
   * leadership: a deposed leader's write throws NotLeaderError and changes nothing.
   * Throws CoordinationUnavailable when the store cannot be reached.
   */
  transact<R>(reads: ReadSet, change: (tx: Tx) => R, options?: { term?: Term }): Promise<R>;

  /** A target's state now (a linearizable read). */
  targetState(name: string): Promise<TargetState>;
  /** The last target state this replica saw (read, written or watched), for metrics; never waits. */
  knownTargetState(name: string): TargetState | undefined;
  activation(id: string): Promise<Activation | undefined>;
  /** Newest first, optionally of one target. */
  activations(target?: string): Promise<Activation[]>;
  /** The activations not yet ended (any target), newest first: what a leader must drive. Cheap to call often. */
  unfinishedActivations(): Promise<Activation[]>;
  appendAudit(record: AuditRecord): Promise<void>;
  /** Every audit record of one activation, oldest first. */
  auditOf(activationId: string): Promise<AuditRecord[]>;

  /**
   * Calls `listener` with each change of a target's state or of an activation, whoever made it,
   * after it is durable. Returns the unsubscribe.
   */
  watch(listener: (change: Change) => void): () => void;
  /** Calls `listener` each time this replica starts a term as leader. Returns the unsubscribe. */
  onTerm(listener: (term: Term) => void): () => void;
  /** The term this replica leads now, if any. */
  currentTerm(): Term | undefined;
  /** Whether the store answered lately (etcd: within the lease TTL). */
  reachable(): boolean;

  /** Everything, for a backup or a move to the other backend. */
  exportState(): Promise<ExportedState>;
  /**
   * Writes an export into this store. Epochs never go down: a target keeps the higher of its
   * own epoch and the imported one. Activations, incidents and audit records already present
   * are kept as they are.
   */
  importState(state: ExportedState): Promise<ImportSummary>;

  /** Ends the current term (the next leader takes over at once) and releases the store. */
  close(): Promise<void>;
}

/** A stretch of time during which this replica leads. Ended terms never become valid again. */
export interface Term {
  /** Unique per term, e.g. the leader key's create revision. */
  readonly id: string;
  /** Aborts when the term ends (deadline, lost lease, superseded, resigned, closed). */
  readonly signal: AbortSignal;
  /** False once `last successful renewal sent + TTL − margin` has passed on this replica's clock. */
  isValid(): boolean;
}

/** Which documents a transaction reads; only these may be read or written through its `tx`. */
export interface ReadSet {
  targets?: readonly string[];
  votes?: readonly string[];
  activations?: readonly string[];
  requests?: readonly string[];
  incidents?: readonly { target: string; incidentId: string }[];
}

/** Which activation claimed an incident of a target: an incident is claimed once, ever. */
export const IncidentClaim = Type.Object({ activationId: Type.String(), epoch: Type.Integer({ minimum: 1 }), claimedAt: Type.String() });
export type IncidentClaim = Static<typeof IncidentClaim>;

/** The documents of one transaction, as read, with the writes made so far (read-your-writes). */
export interface Tx {
  target(name: string): TargetState;
  votes(target: string): Vote[];
  activation(id: string): Activation | undefined;
  request(id: string): RequestRecord | undefined;
  incident(target: string, incidentId: string): IncidentClaim | undefined;
  setTarget(name: string, state: TargetState): void;
  setVotes(target: string, votes: Vote[]): void;
  putActivation(activation: Activation): void;
  /** `idle`: the request created nothing; it is forgotten after the retention (it only guards against replays). */
  putRequest(id: string, record: RequestRecord, options?: { idle?: boolean }): void;
  putIncident(target: string, incidentId: string, claim: IncidentClaim): void;
  /** An audit record committed with the transaction's writes (and only if they are). */
  appendAudit(record: AuditRecord): void;
}

export type Change = { kind: 'target'; name: string; state: TargetState } | { kind: 'activation'; activation: Activation };

/** The whole state, as exported by `vigil-activation export` and read by `import`. */
export const ExportedState = Type.Object({
  format: Type.Literal('vigil-activation-state'),
  version: Type.Literal(1),
  exportedAt: Type.String(),
  /** Which backend it came from. */
  source: Type.String(),
  targets: Type.Record(Type.String(), Type.Unknown()),
  activations: Type.Array(Type.Unknown()),
  incidents: Type.Array(Type.Object({ target: Type.String(), incidentId: Type.String(), claim: Type.Unknown() })),
  audit: Type.Array(Type.Unknown()),
});
export type ExportedState = Static<typeof ExportedState>;

export interface ImportSummary {
  targets: number;
  /** Targets whose epoch the import raised. */
  epochsRaised: number;
  activations: number;
  incidents: number;
  audit: number;
}

const INITIAL_TARGET: TargetState = { active: 'primary', epoch: 0 };

export function initialTarget(): TargetState {
  return { ...INITIAL_TARGET };
}

/** The store could not be reached or did not answer in time: nothing was decided. */
export class CoordinationUnavailable extends Error {
  override readonly name = 'CoordinationUnavailable';
}

/**
 * Document keys, relative to a backend's root. Names callers choose are URI-encoded, so a '/'
 * inside one never moves a key into another's place.
 */
export const docKey = {
  target: (name: string) => `targets/${encodeURIComponent(name)}/state`,
  votes: (target: string) => `targets/${encodeURIComponent(target)}/votes`,
  incident: (target: string, incidentId: string) => `targets/${encodeURIComponent(target)}/incidents/${encodeURIComponent(incidentId)}`,
  activation: (id: string) => `activations/${encodeURIComponent(id)}`,
  request: (id: string) => `requests/${encodeURIComponent(id)}`,
};

/** Every key a read set names. */
export function keysOf(reads: ReadSet): string[] {
  return [
    ...(reads.targets ?? []).map(docKey.target),
    ...(reads.votes ?? []).map(docKey.votes),
    ...(reads.activations ?? []).map(docKey.activation),
    ...(reads.requests ?? []).map(docKey.request),
    ...(reads.incidents ?? []).map((i) => docKey.incident(i.target, i.incidentId)),
  ];
}

/** A pending write: the document as JSON text. */
export interface Write {
  value: string;
  idle?: boolean;
}

/**
 * A transaction's view over values read as JSON text (absent: undefined). Writes are kept as
 * text too, so the caller's objects are never shared with the store's.
 */
export class TxBuffer implements Tx {
  readonly writes = new Map<string, Write>();
  readonly audit: AuditRecord[] = [];

  constructor(private readonly read: ReadonlyMap<string, string | undefined>) {}

  private get<T>(key: string): T | undefined {
    const written = this.writes.get(key);
    if (written) return JSON.parse(written.value) as T;
    if (!this.read.has(key)) throw new Error(`transaction reads ${key} without naming it in its read set`);
    const text = this.read.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  private set(key: string, value: unknown, idle?: boolean): void {
    if (!this.read.has(key)) throw new Error(`transaction writes ${key} without naming it in its read set`);
    this.writes.set(key, { value: JSON.stringify(value), ...(idle && { idle }) });
  }

  target(name: string): TargetState {
    return this.get<TargetState>(docKey.target(name)) ?? initialTarget();
  }
  votes(target: string): Vote[] {
    return this.get<Vote[]>(docKey.votes(target)) ?? [];
  }
  activation(id: string): Activation | undefined {
    return this.get<Activation>(docKey.activation(id));
  }
  request(id: string): RequestRecord | undefined {
    return this.get<RequestRecord>(docKey.request(id));
  }
  incident(target: string, incidentId: string): IncidentClaim | undefined {
    return this.get<IncidentClaim>(docKey.incident(target, incidentId));
  }
  setTarget(name: string, state: TargetState): void {
    // Every change counts up, so clients can order two answers within one epoch; an import
    // brings a higher revision of its own, kept as it is.
    const stored = this.target(name).revision ?? 0;
    const revision = (state.revision ?? 0) > stored ? state.revision! : stored + 1;
    this.set(docKey.target(name), { ...state, revision });
  }
  setVotes(target: string, votes: Vote[]): void {
    this.set(docKey.votes(target), votes);
  }
  putActivation(activation: Activation): void {
    this.set(docKey.activation(activation.id), activation);
  }
  putRequest(id: string, record: RequestRecord, options: { idle?: boolean } = {}): void {
    this.set(docKey.request(id), record, options.idle);
  }
  putIncident(target: string, incidentId: string, claim: IncidentClaim): void {
    this.set(docKey.incident(target, incidentId), claim);
  }
  appendAudit(record: AuditRecord): void {
    this.audit.push(record);
  }
}
