import { join } from 'node:path';
import Value from 'typebox/value';
import { AppendLog, JsonFile, type Activation, type Vote } from '@vigil/core';
import { NotLeaderError } from '@vigil/coordination';
import { FINAL } from '../lifecycle.js';
import { StoredState, type AuditRecord, type RequestRecord, type TargetState } from '../store.js';
import { importInto, type ImportTarget } from './import.js';
import {
  TxBuffer,
  initialTarget,
  keysOf,
  type Change,
  type Coordination,
  type IncidentClaim,
  type ExportedState,
  type ImportSummary,
  type ReadSet,
  type Term,
  type Tx,
} from './coordination.js';

export interface FileCoordinationOptions {
  dataDir: string;
  replica: string;
  now: () => number;
  /** Requests that created nothing are forgotten after this long. */
  idleRequestRetentionMs: number;
}

/**
 * The embedded backend: one process, its state in `dataDir` as a JSON snapshot written
 * atomically (`state.json`) and an fsynced audit log (`audit.jsonl`). The process leads one
 * term from open to close. A transaction reads and changes the in-memory state synchronously
 * (nothing runs in between), then resolves once the snapshot is durable.
 */
export class FileCoordination implements Coordination {
  readonly kind = 'file';
  private readonly byId = new Map<string, Activation>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly termController = new AbortController();
  private readonly term: Term = { id: 'file', signal: this.termController.signal, isValid: () => !this.termController.signal.aborted };

  private constructor(
    private readonly state: StoredState,
    private readonly file: JsonFile<StoredState>,
    private readonly audit: AppendLog<AuditRecord>,
    private readonly options: FileCoordinationOptions,
  ) {
    for (const activation of state.activations) this.byId.set(activation.id, activation);
  }

  get replica(): string {
    return this.options.replica;
  }

  /** Loads the state found in `dataDir`, or starts empty. A file of the wrong shape is an error naming it. */
  static open(options: FileCoordinationOptions): FileCoordination {
    const file = new JsonFile<StoredState>(join(options.dataDir, 'state.json'));
    const loaded = file.load();
    if (loaded !== undefined && !Value.Check(StoredState, loaded)) {
      const first = Value.Errors(StoredState, loaded)[0];
      throw new Error(
        `state file ${file.path} does not hold activation state (${first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape'}); move it aside to start afresh`,
      );
    }
    const state = loaded ?? { version: 1, targets: {}, activations: [], requests: {} };
    return new FileCoordination(state, file, new AppendLog<AuditRecord>(join(options.dataDir, 'audit.jsonl')), options);
  }

  async transact<R>(reads: ReadSet, change: (tx: Tx) => R, options: { term?: Term } = {}): Promise<R> {
    if (options.term && !options.term.isValid()) throw new NotLeaderError('resigned', 'this process no longer leads (it is closing)');
    const read = new Map<string, string | undefined>();
    for (const key of keysOf(reads)) read.set(key, this.readText(key));
    const tx = new TxBuffer(read);
    const result = change(tx);
    if (tx.writes.size === 0 && tx.audit.length === 0) return result;
    const changes: Change[] = [];
    let idle = false;
    for (const [key, write] of tx.writes) {
      const changed = this.apply(key, JSON.parse(write.value));
      if (changed) changes.push(changed);
      idle ||= write.idle === true;
    }
    if (idle) this.forgetIdleRequests(new Date(this.options.now() - this.options.idleRequestRetentionMs).toISOString());
    const commit = (async () => {
      await this.save();
      for (const record of tx.audit) await this.audit.append(record);
    })();
    this.inflight.add(commit);
    try {
      await commit;
    } finally {
      this.inflight.delete(commit);
    }
    for (const changed of changes) this.emit(changed);
    return result;
  }

  /**
   * Resolves once every transaction begun so far is durable (snapshot and audit records): reads
   * wait for it, so nobody sees a change before it is on disk.
   */
  private async settled(): Promise<void> {
    if (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async targetState(name: string): Promise<TargetState> {
    await this.settled();
    return this.knownTargetState(name) ?? initialTarget();
  }

  knownTargetState(name: string): TargetState | undefined {
    const found = this.state.targets[name];
    return found && { ...found };
  }

  async activation(id: string): Promise<Activation | undefined> {
    await this.settled();
    const found = this.byId.get(id);
    return found && structuredClone(found);
  }

  async activations(target?: string): Promise<Activation[]> {
    await this.settled();
    return this.state.activations
      .filter((a) => target === undefined || a.target === target)
      .reverse()
      .map((a) => structuredClone(a));
  }

  async unfinishedActivations(): Promise<Activation[]> {
    return (await this.activations()).filter((a) => !FINAL.has(a.status));
  }

  appendAudit(record: AuditRecord): Promise<void> {
    return this.audit.append(record);
  }

  async auditOf(activationId: string): Promise<AuditRecord[]> {
    await this.settled();
    return this.audit.readAll().filter((r) => r.activationId === activationId);
  }

  watch(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onTerm(listener: (term: Term) => void): () => void {
    // The one term began at open; a listener added later still learns of it (on the next tick).
    let active = true;
    queueMicrotask(() => {
      if (active && this.term.isValid()) listener(this.term);
    });
    return () => {
      active = false;
    };
  }

  currentTerm(): Term | undefined {
    return this.term.isValid() ? this.term : undefined;
  }

  reachable(): boolean {
    return true;
  }

  exportState(): Promise<ExportedState> {
    return Promise.resolve({
      format: 'vigil-activation-state',
      version: 1,
      exportedAt: new Date(this.options.now()).toISOString(),
      source: 'file',
      targets: structuredClone(this.state.targets),
      activations: structuredClone(this.state.activations),
      incidents: Object.entries(this.state.incidents ?? {}).flatMap(([target, claims]) =>
        Object.entries(claims).map(([incidentId, claim]) => ({ target, incidentId, claim })),
      ),
      audit: this.audit.readAll(),
    });
  }

  async importState(exported: ExportedState): Promise<ImportSummary> {
    const into: ImportTarget = {
      transact: (reads, change) => this.transact(reads, change),
      existingAudit: () => Promise.resolve(this.audit.readAll()),
      appendAudit: (record) => this.appendAudit(record),
    };
    return importInto(into, exported);
  }

  async close(): Promise<void> {
    this.termController.abort(new NotLeaderError('resigned', 'the service is closing'));
    await this.save();
  }

  private save(): Promise<void> {
    return this.file.save(this.state);
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  private readText(key: string): string | undefined {
    const found = this.lookup(key);
    return found === undefined ? undefined : JSON.stringify(found);
  }

  private lookup(key: string): unknown {
    const [kind, a, b, c] = key.split('/');
    const name = decodeURIComponent(a ?? '');
    switch (kind) {
      case 'targets':
        if (b === 'state') return this.state.targets[name];
        if (b === 'votes') return this.state.votes?.[name];
        return this.state.incidents?.[name]?.[decodeURIComponent(c ?? '')];
      case 'activations':
        return this.byId.get(name);
      case 'requests':
        return this.state.requests[name];
      default:
        throw new Error(`unknown document ${key}`);
    }
  }

  /** Stores one written document; returns the change listeners hear of, if any. */
  private apply(key: string, value: unknown): Change | undefined {
    const [kind, a, b, c] = key.split('/');
    const name = decodeURIComponent(a ?? '');
    switch (kind) {
      case 'targets':
        if (b === 'state') {
          this.state.targets[name] = value as TargetState;
          return { kind: 'target', name, state: { ...(value as TargetState) } };
        }
        if (b === 'votes') this.state.votes = { ...this.state.votes, [name]: value as Vote[] };
        else this.state.incidents = { ...this.state.incidents, [name]: { ...this.state.incidents?.[name], [decodeURIComponent(c ?? '')]: value as IncidentClaim } };
        return undefined;
      case 'activations': {
        const activation = value as Activation;
        const index = this.state.activations.findIndex((a) => a.id === activation.id);
        if (index === -1) this.state.activations.push(activation);
        else this.state.activations[index] = activation;
        this.byId.set(activation.id, activation);
        return { kind: 'activation', activation: structuredClone(activation) };
      }
      case 'requests':
        this.state.requests[name] = value as RequestRecord;
        return undefined;
      default:
        throw new Error(`unknown document ${key}`);
    }
  }

  /** Forgets requests that created nothing and arrived before `cutoff` (ISO time). */
  private forgetIdleRequests(cutoff: string): void {
    for (const [id, record] of Object.entries(this.state.requests)) {
      if (record.activationId === undefined && record.receivedAt < cutoff) delete this.state.requests[id];
    }
  }
}
