import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import Value from 'typebox/value';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { Activation, Vote, type Logger } from '@vigil/core';
import {
  LeaderLease,
  NotLeaderError,
  connectEtcd,
  guardedTxn,
  normalizePrefix,
  pause,
  plainTxn,
  prefixRangeEnd,
  type EtcdConnectionOptions,
  type GuardedTxnRequest,
  type Leadership,
  type TxnCompare,
  type TxnOp,
} from '@vigil/coordination';
import { FINAL } from '../lifecycle.js';
import { RequestRecord, TargetState, type AuditRecord } from '../store.js';
import { importInto } from './import.js';
import {
  CoordinationUnavailable,
  IncidentClaim,
  TxBuffer,
  docKey,
  initialTarget,
  keysOf,
  type Change,
  type Coordination,
  type ExportedState,
  type ImportSummary,
  type ReadSet,
  type Term,
  type Tx,
} from './coordination.js';

export interface EtcdCoordinationOptions {
  connection: EtcdConnectionOptions;
  /** Root of this installation's keys, e.g. `/vigil`. */
  prefix: string;
  replica: string;
  /** Leader lease TTL (whole seconds) and the margin before its end at which the leader stops acting. */
  ttlSeconds: number;
  marginMs: number;
  now: () => number;
  idleRequestRetentionMs: number;
  logger: Logger;
  /** False for a tool (export, import) that reads and writes but must never take leadership from the replicas. */
  campaign?: boolean;
}

/** The election all replicas of one installation take part in. */
const ELECTION = 'activation';
/** Transactions that keep meeting concurrent changes give up after this many attempts. */
const MAX_ATTEMPTS = 100;
/** How often reachability is measured (a linearizable read, which needs a quorum of members). */
const PING_INTERVAL_MS = 1_000;

/** Which schema each kind of document has; a document that fails it is an error naming its key. */
function schemaOf(key: string) {
  if (key.startsWith('activations/')) return Activation;
  if (key.startsWith('requests/')) return RequestRecord;
  if (key.endsWith('/state')) return TargetState;
  if (key.endsWith('/votes')) return Type.Array(Vote);
  return IncidentClaim;
}

/**
 * The replicated backend: every document is an etcd key under `prefix`, every transaction an
 * etcd transaction comparing the mod revision of each document it read, and the writes of a
 * leader's term are guarded by its leader key (a deposed leader's late write fails). Replicas
 * campaign for leadership through a lease; reads are linearizable; changes reach every replica
 * through a watch.
 */
export class EtcdCoordination implements Coordination {
  readonly kind = 'etcd';
  private readonly root: string;
  private readonly lease: LeaderLease;
  private readonly closing = new AbortController();
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly termListeners = new Set<(term: Term) => void>();
  private readonly leaderships = new WeakMap<Term, Leadership>();
  private readonly known = new Map<string, TargetState>();
  private term: Term | undefined;
  private watcher: Watcher | undefined;
  private lastContact = -Infinity;
  private idleLease: { id: string; until: number } | undefined;
  private readonly background: Promise<void>[] = [];

  private constructor(
    private readonly etcd: Etcd3,
    private readonly options: EtcdCoordinationOptions,
  ) {
    this.root = `${normalizePrefix(options.prefix)}/`;
    // Candidates wake on a watch of the leader key; without its event (a watch lost in a reconnect)
    // they look every second, so a takeover is never more than a second later than the lease.
    this.lease = new LeaderLease(etcd, { prefix: options.prefix, ttlSeconds: options.ttlSeconds, marginMs: options.marginMs, pollIntervalMs: Math.min(1_000, (options.ttlSeconds * 1_000) / 4) });
  }

  get replica(): string {
    return this.options.replica;
  }

  /** Connects, starts watching and campaigning. Resolves at once: etcd may come later. */
  static async open(options: EtcdCoordinationOptions): Promise<EtcdCoordination> {
    const coordination = new EtcdCoordination(connectEtcd(options.connection), options);
    await coordination.start();
    return coordination;
  }

  private start(): Promise<void> {
    this.startWatch();
    this.background.push(this.pingLoop());
    if (this.options.campaign !== false) this.background.push(this.campaignLoop());
    return Promise.resolve();
  }

  async transact<R>(reads: ReadSet, change: (tx: Tx) => R, options: { term?: Term } = {}): Promise<R> {
    const leadership = options.term && this.leaderships.get(options.term);
    if (options.term && !leadership) throw new NotLeaderError('resigned', 'not a term of this replica');
    if (leadership && !leadership.isValid()) throw new NotLeaderError('deadline', 'this replica\'s leadership has ended');
    const keys = keysOf(reads);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const read = await this.readMany(keys);
      const values = new Map([...read].map(([key, kv]) => [key, kv?.value]));
      const tx = new TxBuffer(values);
      const result = change(tx);
      if (tx.writes.size === 0 && tx.audit.length === 0) return result;
      const idleLease = [...tx.writes.values()].some((w) => w.idle) ? await this.idleLeaseId() : undefined;
      const request: GuardedTxnRequest = {
        compare: keys.map((key): TxnCompare => ({ key: this.root + key, target: 'modRevision', operator: '==', value: read.get(key)?.modRevision ?? '0' })),
        then: [
          ...[...tx.writes].map(([key, write]): TxnOp => ({ op: 'put', key: this.root + key, value: write.value, ...(write.idle && idleLease !== undefined && { lease: idleLease }) })),
          ...[...tx.writes].flatMap(([key, write]) => this.openIndex(key, write.value)),
          ...tx.audit.map((record): TxnOp => ({ op: 'put', key: this.root + this.auditKey(record), value: JSON.stringify(record) })),
        ],
      };
      const outcome = await this.call(() => (leadership ? guardedTxn(leadership, request) : plainTxn(this.etcd, request)));
      if (outcome.succeeded) {
        for (const [key, write] of tx.writes) this.noteWrite(key, write.value);
        return result;
      }
    }
    throw new CoordinationUnavailable(`a transaction over ${keys.join(', ')} met a concurrent change ${MAX_ATTEMPTS} times in a row`);
  }

  async targetState(name: string): Promise<TargetState> {
    const read = await this.readMany([docKey.target(name)]);
    const text = read.get(docKey.target(name))?.value;
    const state = text === undefined ? initialTarget() : (JSON.parse(text) as TargetState);
    this.known.set(name, state);
    return state;
  }

  knownTargetState(name: string): TargetState | undefined {
    return this.known.get(name);
  }

  async activation(id: string): Promise<Activation | undefined> {
    const text = (await this.readMany([docKey.activation(id)])).get(docKey.activation(id))?.value;
    return text === undefined ? undefined : (JSON.parse(text) as Activation);
  }

  async activations(target?: string): Promise<Activation[]> {
    const kvs = await this.range('activations/');
    const all = kvs.map((kv) => this.parse<Activation>(kv));
    return all.filter((a) => target === undefined || a.target === target).reverse();
  }

  async unfinishedActivations(): Promise<Activation[]> {
    const prefix = `${this.root}open/`;
    const index = await this.call(() => this.etcd.kv.range({ key: Buffer.from(prefix), range_end: prefixRangeEnd(prefix), keys_only: true }));
    const ids = index.kvs.map((kv) => kv.key.toString().slice(prefix.length));
    if (ids.length === 0) return [];
    const read = await this.readMany(ids.map((id) => docKey.activation(decodeURIComponent(id))));
    const found = [...read.values()].flatMap((kv) => (kv ? [JSON.parse(kv.value) as Activation] : []));
    return found.filter((a) => !FINAL.has(a.status)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /**
   * Keeps `open/<id>` for each activation not yet ended, in the transaction that writes it: a
   * leader finds what it must drive without reading every activation ever made.
   */
  private openIndex(key: string, value: string): TxnOp[] {
    if (!key.startsWith('activations/')) return [];
    const activation = JSON.parse(value) as Activation;
    const indexKey = `${this.root}open/${key.slice('activations/'.length)}`;
    return [FINAL.has(activation.status) ? { op: 'delete', key: indexKey } : { op: 'put', key: indexKey, value: '' }];
  }

  async appendAudit(record: AuditRecord): Promise<void> {
    await this.call(() => this.etcd.kv.put({ key: Buffer.from(this.root + this.auditKey(record)), value: Buffer.from(JSON.stringify(record)) }));
  }

  /** Keys sort by time, then a random part; reads order by create revision, the true order. */
  private auditKey(record: AuditRecord): string {
    return `audit/${encodeURIComponent(record.activationId)}/${Date.now().toString(16).padStart(12, '0')}-${randomBytes(4).toString('hex')}`;
  }

  async auditOf(activationId: string): Promise<AuditRecord[]> {
    const kvs = await this.range(`audit/${encodeURIComponent(activationId)}/`);
    return kvs.map((kv) => JSON.parse(kv.value.toString()) as AuditRecord);
  }

  watch(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onTerm(listener: (term: Term) => void): () => void {
    this.termListeners.add(listener);
    const current = this.term;
    if (current) queueMicrotask(() => current.isValid() && listener(current));
    return () => this.termListeners.delete(listener);
  }

  currentTerm(): Term | undefined {
    return this.term?.isValid() ? this.term : undefined;
  }

  reachable(): boolean {
    return performance.now() - this.lastContact < this.options.ttlSeconds * 1_000;
  }

  async exportState(): Promise<ExportedState> {
    const targets: Record<string, unknown> = {};
    const incidents: ExportedState['incidents'] = [];
    for (const kv of await this.range('targets/')) {
      const [, name = '', kind, incident] = kv.key.toString().slice(this.root.length).split('/');
      if (kind === 'state') targets[decodeURIComponent(name)] = this.parse(kv);
      if (kind === 'incidents') incidents.push({ target: decodeURIComponent(name), incidentId: decodeURIComponent(incident ?? ''), claim: this.parse(kv) });
    }
    const activations = (await this.range('activations/')).map((kv) => this.parse(kv));
    const audit = (await this.range('audit/')).map((kv) => JSON.parse(kv.value.toString()) as unknown);
    return { format: 'vigil-activation-state', version: 1, exportedAt: new Date(this.options.now()).toISOString(), source: 'etcd', targets, activations, incidents, audit };
  }

  async importState(exported: ExportedState): Promise<ImportSummary> {
    return importInto(
      {
        transact: (reads, change) => this.transact(reads, change),
        existingAudit: async () => (await this.range('audit/')).map((kv) => JSON.parse(kv.value.toString()) as AuditRecord),
        appendAudit: (record) => this.appendAudit(record),
      },
      exported,
    );
  }

  async close(): Promise<void> {
    // The campaign loop resigns the term it holds (or wins meanwhile) once closing aborts.
    this.closing.abort();
    await Promise.allSettled(this.background);
    // Cancelling a watch waits for etcd's answer, which may never come while it is unreachable.
    void this.watcher?.cancel().catch(() => undefined);
    this.etcd.close();
  }

  /** One linearizable read of several keys at a single revision. */
  private async readMany(keys: readonly string[]): Promise<Map<string, { value: string; modRevision: string } | undefined>> {
    const response = await this.call(() =>
      this.etcd.kv.txn({ compare: [], success: keys.map((key) => ({ request_range: { key: Buffer.from(this.root + key) } })), failure: [] }),
    );
    const found = new Map<string, { value: string; modRevision: string } | undefined>();
    keys.forEach((key, i) => {
      const kv = response.responses[i]?.response_range.kvs[0];
      if (kv) this.parse(kv);
      found.set(key, kv && { value: kv.value.toString(), modRevision: kv.mod_revision });
    });
    return found;
  }

  /** Every key under a relative prefix, in creation order. */
  private async range(relative: string): Promise<IKeyValue[]> {
    const prefix = this.root + relative;
    const response = await this.call(() =>
      this.etcd.kv.range({ key: Buffer.from(prefix), range_end: prefixRangeEnd(prefix), sort_target: 'Create', sort_order: 'Ascend' }),
    );
    return response.kvs;
  }

  /** Checks a stored document against its schema: an error names the key and what is wrong. */
  private parse<T>(kv: IKeyValue): T {
    const key = kv.key.toString();
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString());
    } catch {
      throw new Error(`etcd key ${key} does not hold JSON`);
    }
    const schema = schemaOf(key.slice(this.root.length));
    if (!Value.Check(schema, value)) {
      const first = Value.Errors(schema, value)[0];
      throw new Error(`etcd key ${key} does not hold what Vigil stores there (${first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape'})`);
    }
    return value as T;
  }

  /** Runs one etcd call; a failure to reach etcd becomes CoordinationUnavailable, NotLeaderError passes through. */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const result = await operation();
      this.lastContact = performance.now();
      return result;
    } catch (error) {
      if (error instanceof NotLeaderError) throw error;
      throw new CoordinationUnavailable(`etcd did not answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** A lease that expires idle request ids after the retention; one lease per hour of writes. */
  private async idleLeaseId(): Promise<string> {
    const now = performance.now();
    if (this.idleLease && this.idleLease.until > now) return this.idleLease.id;
    const ttlSeconds = Math.ceil(this.options.idleRequestRetentionMs / 1_000) + 3_600;
    const grant = await this.call(() => this.etcd.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    this.idleLease = { id: grant.ID, until: now + 3_600_000 };
    return grant.ID;
  }

  private noteWrite(key: string, value: string): void {
    const change = this.changeOf(key, value);
    if (change?.kind === 'target') this.known.set(change.name, change.state);
  }

  private changeOf(key: string, value: string): Change | undefined {
    const parts = key.split('/');
    if (parts[0] === 'targets' && parts[2] === 'state') {
      return { kind: 'target', name: decodeURIComponent(parts[1] ?? ''), state: JSON.parse(value) as TargetState };
    }
    if (parts[0] === 'activations') return { kind: 'activation', activation: JSON.parse(value) as Activation };
    return undefined;
  }

  private startWatch(): void {
    const watcher = this.etcd.watch().prefix(this.root).watcher();
    watcher.on('put', (kv) => {
      const key = kv.key.toString().slice(this.root.length);
      let change: Change | undefined;
      try {
        change = this.changeOf(key, kv.value.toString());
      } catch (error) {
        this.options.logger.error({ err: error, key }, 'ignored an etcd change that is not valid JSON');
        return;
      }
      if (!change) return;
      if (change.kind === 'target') this.known.set(change.name, change.state);
      for (const listener of this.listeners) listener(change);
    });
    watcher.on('disconnected', (error) => this.options.logger.warn({ err: error }, 'etcd watch disconnected; it resumes where it stopped when etcd answers'));
    watcher.on('error', (error) => this.options.logger.error({ err: error }, 'etcd watch failed'));
    this.watcher = watcher;
    // Not awaited: a watch connects once etcd answers, and resumes from its last revision.
    watcher.on('connected', () => this.options.logger.debug('etcd watch connected'));
  }

  /** Campaigns for leadership for as long as the replica runs; each won election is a term. */
  private async campaignLoop(): Promise<void> {
    const closing = this.closing.signal;
    while (!closing.aborted) {
      let leadership: Leadership;
      try {
        leadership = await this.lease.campaign(ELECTION, this.options.replica, { signal: closing });
      } catch (error) {
        if (closing.aborted) return;
        this.options.logger.warn({ err: error }, 'could not campaign for leadership; trying again');
        await pause(Math.min(1_000, (this.options.ttlSeconds * 1_000) / 4), closing);
        continue;
      }
      const term: Term = { id: leadership.createRevision, signal: leadership.signal, isValid: () => leadership.isValid() };
      this.leaderships.set(term, leadership);
      this.term = term;
      this.options.logger.warn({ replica: this.options.replica, term: term.id, leaseId: leadership.leaseId }, 'this replica leads');
      for (const listener of this.termListeners) listener(term);
      await new Promise<void>((resolve) => {
        const done = () => {
          closing.removeEventListener('abort', done);
          resolve();
        };
        if (leadership.signal.aborted || closing.aborted) return done();
        leadership.signal.addEventListener('abort', done, { once: true });
        closing.addEventListener('abort', done, { once: true });
      });
      // Closing: let the next candidate lead at once rather than after the TTL.
      if (closing.aborted) await leadership.resign();
      if (this.term === term) this.term = undefined;
      const reason: unknown = leadership.signal.reason;
      if (!closing.aborted) this.options.logger.error({ replica: this.options.replica, term: term.id, reason: reason instanceof Error ? reason.message : String(reason) }, 'this replica no longer leads');
    }
  }

  /** Measures reachability (for `reachable()` and the metric) with a quorum read every second. */
  private async pingLoop(): Promise<void> {
    const closing = this.closing.signal;
    // The first answer also fills the targets' last known states (metrics); the watch keeps them.
    let filled = false;
    while (!closing.aborted) {
      try {
        if (filled) await this.readMany(['targets/']);
        else filled = await this.fillKnownTargets();
      } catch {
        // reachable() reports it
      }
      await pause(PING_INTERVAL_MS, closing);
    }
  }

  private async fillKnownTargets(): Promise<true> {
    for (const kv of await this.range('targets/')) {
      const [, name = '', kind] = kv.key.toString().slice(this.root.length).split('/');
      // A state written since (watch, transaction) is newer than this read: keep it.
      if (kind === 'state' && !this.known.has(decodeURIComponent(name))) this.known.set(decodeURIComponent(name), this.parse<TargetState>(kv));
    }
    return true;
  }
}
