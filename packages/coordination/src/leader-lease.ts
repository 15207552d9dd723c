import type { Etcd3, IKeyValue } from 'etcd3';
import { nextChange, pause } from './etcd.js';
import { NotLeaderError } from './errors.js';
import { candidateKey, electionPrefix, normalizePrefix, prefixRangeEnd } from './keys.js';
import { openSession, validateTiming, type LeaseTiming, type Session } from './session.js';

export interface LeaderLeaseOptions extends LeaseTiming {
  /** Key prefix of this installation, e.g. `/vigil`. */
  prefix: string;
  /** Longest wait between two looks at an election when no watch event comes (default TTL/4). */
  pollIntervalMs?: number;
}

/** Who leads an election: the candidate key with the lowest create revision. */
export interface LeaderInfo {
  readonly name: string;
  readonly candidateId: string;
  /** `<prefix>/leader/<name>/<lease id in hex>` */
  readonly key: string;
  /** etcd revision (int64, as a string) at which the key was created. */
  readonly createRevision: string;
  readonly leaseId: string;
}

/**
 * Leadership as a value: pass it to `guardedTxn` / `claimIncident`. Every write made with it is
 * conditioned on its key still existing with its create revision, and it is refused locally
 * once `validUntil()` has passed.
 */
export interface Leadership extends LeaderInfo {
  readonly prefix: string;
  /** performance.now() time until which this process may act as leader. */
  validUntil(): number;
  isValid(): boolean;
  /** Aborts (reason: NotLeaderError) when the deadline passes, the lease is lost, or on resign. */
  readonly signal: AbortSignal;
  /** Stops acting as leader, then releases the key so another candidate takes over at once. */
  resign(): Promise<void>;
}

interface Held {
  etcd: Etcd3;
  session: Session;
}

// What guarded writes need besides the value itself, kept off the value so that writes can
// only go through the guard.
const held = new WeakMap<Leadership, Held>();

export function heldLeadership(leadership: Leadership): Held {
  const found = held.get(leadership);
  if (!found) throw new TypeError('not a Leadership obtained from LeaderLease.campaign');
  return found;
}

/**
 * Leader election on etcd in the manner of etcd's Go `concurrency.Election`: each candidate
 * puts a key under the election prefix with its own lease; the key with the lowest create
 * revision leads; the others wait for their predecessor's key to go.
 */
export class LeaderLease {
  private readonly prefix: string;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly etcd: Etcd3,
    private readonly options: LeaderLeaseOptions,
  ) {
    validateTiming(options);
    this.prefix = normalizePrefix(options.prefix);
    this.pollIntervalMs = options.pollIntervalMs ?? (options.ttlSeconds * 1_000) / 4;
  }

  /**
   * Resolves when `candidateId` leads election `name`. Rejects with a NotLeaderError when the
   * candidate's lease ends while waiting, or with `signal.reason` when `signal` aborts; either
   * way its key is released.
   */
  async campaign(name: string, candidateId: string, options: { signal?: AbortSignal } = {}): Promise<Leadership> {
    options.signal?.throwIfAborted();
    const session = await openSession(this.etcd, this.options);
    const signal = options.signal ? AbortSignal.any([session.signal, options.signal]) : session.signal;
    try {
      const key = candidateKey(this.prefix, name, session.leaseId);
      const createRevision = await this.enter(key, candidateId, session.leaseId);
      await this.waitForTurn(electionPrefix(this.prefix, name), key, createRevision, signal);
      if (!session.isValid()) throw new NotLeaderError('deadline', `lease ${session.leaseId} ran out while campaigning`);
      const leadership: Leadership = {
        name,
        candidateId,
        key,
        createRevision,
        leaseId: session.leaseId,
        prefix: this.prefix,
        validUntil: () => session.validUntil(),
        isValid: () => session.isValid(),
        signal: session.signal,
        resign: () => session.end('resigned', `${candidateId} resigned from ${name}`),
      };
      held.set(leadership, { etcd: this.etcd, session });
      return leadership;
    } catch (error) {
      // The abort reason says why (caller gave up, lease ran out) better than what it interrupted.
      const cause: unknown = signal.aborted ? signal.reason : error;
      await session.end('resigned', `${candidateId} stopped campaigning for ${name}`);
      throw cause;
    }
  }

  /** The current leader of `name` (a linearizable read), or undefined when nobody campaigns. */
  async leader(name: string): Promise<LeaderInfo | undefined> {
    return (await this.readLeader(name)).leader;
  }

  /**
   * The leader of `name` now and at every change, until `signal` aborts. While etcd cannot be
   * reached nothing is yielded: a caller that needs a fresh answer asks `leader()`.
   */
  async *watchLeader(name: string, signal: AbortSignal): AsyncGenerator<LeaderInfo | undefined> {
    const prefix = electionPrefix(this.prefix, name);
    let last: string | undefined | null = null; // null: nothing yielded yet
    while (!signal.aborted) {
      let read: Awaited<ReturnType<LeaderLease['readLeader']>>;
      try {
        read = await this.readLeader(name);
      } catch {
        await pause(this.pollIntervalMs, signal);
        continue;
      }
      if (read.leader?.key !== last) {
        last = read.leader?.key;
        yield read.leader;
      }
      await nextChange(this.etcd, prefix, read.revision, this.pollIntervalMs, signal);
    }
  }

  private async readLeader(name: string): Promise<{ leader: LeaderInfo | undefined; revision: string }> {
    const prefix = electionPrefix(this.prefix, name);
    const response = await this.etcd.kv.range({
      key: Buffer.from(prefix),
      range_end: prefixRangeEnd(prefix),
      sort_target: 'Create',
      sort_order: 'Ascend',
      limit: 1,
    });
    const first = response.kvs[0];
    return { leader: first ? leaderInfo(name, first) : undefined, revision: response.header.revision };
  }

  /** Puts the candidate key (once: a retried request finds it) and returns its create revision. */
  private async enter(key: string, candidateId: string, leaseId: string): Promise<string> {
    const response = await this.etcd.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(candidateId), lease: leaseId } }],
      failure: [{ request_range: { key: Buffer.from(key) } }],
    });
    if (response.succeeded) return response.header.revision;
    const existing = response.responses[0]?.response_range.kvs[0];
    if (!existing) throw new Error(`candidate key ${key} neither created nor found`);
    return existing.create_revision;
  }

  /** Waits until no candidate key older than ours remains. */
  private async waitForTurn(prefix: string, key: string, createRevision: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      let turn: Turn;
      try {
        turn = await this.readTurn(prefix, key, createRevision);
      } catch {
        // etcd unreachable: keep trying; the session's deadline ends the campaign if it lasts.
        await pause(this.pollIntervalMs, signal);
        continue;
      }
      if (turn.kind === 'gone') throw new NotLeaderError('lost', `candidate key ${key} vanished while waiting (lease expired)`);
      if (turn.kind === 'first') return;
      await nextChange(this.etcd, prefix, turn.revision, this.pollIntervalMs, signal);
    }
  }

  /** One atomic look: is our key still there, and is any older candidate key left? */
  private async readTurn(prefix: string, key: string, createRevision: string): Promise<Turn> {
    const response = await this.etcd.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: createRevision }],
      success: [
        {
          request_range: {
            key: Buffer.from(prefix),
            range_end: prefixRangeEnd(prefix),
            max_create_revision: (BigInt(createRevision) - 1n).toString(),
            sort_target: 'Create',
            sort_order: 'Descend',
            limit: 1,
          },
        },
      ],
      failure: [],
    });
    if (!response.succeeded) return { kind: 'gone' };
    const predecessors = response.responses[0]?.response_range.kvs ?? [];
    return predecessors.length === 0 ? { kind: 'first' } : { kind: 'waiting', revision: response.header.revision };
  }
}

type Turn = { kind: 'gone' } | { kind: 'first' } | { kind: 'waiting'; revision: string };

function leaderInfo(name: string, kv: IKeyValue): LeaderInfo {
  return { name, candidateId: kv.value.toString(), key: kv.key.toString(), createRevision: kv.create_revision, leaseId: kv.lease };
}
