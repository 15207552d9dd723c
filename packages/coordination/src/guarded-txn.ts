import type { Etcd3, ICompare, IRequestOp, IResponseOp, ITxnResponse } from 'etcd3';
import { toStoredKey, type StoredKey } from './etcd.js';
import { NotLeaderError } from './errors.js';
import { heldLeadership, type Leadership } from './leader-lease.js';

export type TxnOp = { op: 'put'; key: string; value: string; /** Lease the key lives with (its id); absent: none, which also detaches a key from an earlier lease. */ lease?: string } | { op: 'delete'; key: string } | { op: 'get'; key: string };
export type TxnOpResult = { op: 'put' } | { op: 'delete'; deleted: number } | { op: 'get'; kv: StoredKey | undefined };

/** A condition on one key; an absent key compares as revision/version 0 and empty value. */
export interface TxnCompare {
  key: string;
  target: 'createRevision' | 'modRevision' | 'version' | 'value';
  operator: '==' | '!=' | '<' | '>';
  value: string | number;
}

export interface GuardedTxnRequest {
  /** Conditions besides leadership, all of which must hold for `then` to run. */
  compare?: TxnCompare[];
  then: TxnOp[];
  /** Runs when a condition of `compare` fails while leadership still holds. */
  else?: TxnOp[];
}

export interface GuardedTxnResult {
  /** Whether every condition of `compare` held (leadership always held, or this threw). */
  succeeded: boolean;
  /** etcd revision at which the transaction applied. */
  revision: string;
  /** One result per op of `then` (succeeded) or `else` (not). */
  results: TxnOpResult[];
}

/**
 * Runs one etcd transaction on behalf of a leader: it applies only while the leader key still
 * exists with the leadership's create revision, so a deposed leader's late write changes
 * nothing. Throws NotLeaderError, without writing, when the leadership's own deadline has
 * passed (checked here) or when etcd finds the key gone (its lease expired or was revoked) or
 * replaced; the leadership then ends.
 */
export async function guardedTxn(leadership: Leadership, request: GuardedTxnRequest | TxnOp[]): Promise<GuardedTxnResult> {
  const { etcd, session } = heldLeadership(leadership);
  const { compare = [], then, else: otherwise = [] } = Array.isArray(request) ? { then: request } : request;
  if (!session.isValid()) {
    // The deadline timer may not have fired yet on a busy event loop: end it now.
    void session.end('deadline', `leadership of ${leadership.name} by ${leadership.candidateId} is past its deadline`);
    throw refusal(leadership);
  }
  const guard: ICompare = { key: Buffer.from(leadership.key), target: 'Create', result: 'Equal', create_revision: leadership.createRevision };
  const response = await etcd.kv.txn({
    compare: [guard, ...compare.map(toCompare)],
    success: then.map(toRequestOp),
    // Reading the leader key in the failure branch tells, atomically, which condition failed.
    failure: [{ request_range: { key: Buffer.from(leadership.key) } }, ...otherwise.map(toRequestOp)],
  });
  if (response.succeeded) return result(response, then, response.responses);
  const [guardRead, ...rest] = response.responses;
  const leaderKey = guardRead?.response_range.kvs[0];
  if (leaderKey?.create_revision !== leadership.createRevision) {
    const found = leaderKey ? `re-created at revision ${leaderKey.create_revision}` : 'gone';
    void session.end('superseded', `leader key ${leadership.key} is ${found} (expected create revision ${leadership.createRevision}): another candidate may lead`);
    throw refusal(leadership);
  }
  return result(response, otherwise, rest);
}

/**
 * One etcd transaction without a leadership guard: for writes any replica may make (a vote, an
 * operator's decision), each made safe by its own conditions (`compare`).
 */
export async function plainTxn(etcd: Etcd3, request: GuardedTxnRequest): Promise<GuardedTxnResult> {
  const { compare = [], then, else: otherwise = [] } = request;
  const response = await etcd.kv.txn({ compare: compare.map(toCompare), success: then.map(toRequestOp), failure: otherwise.map(toRequestOp) });
  return response.succeeded ? result(response, then, response.responses) : result(response, otherwise, response.responses);
}

function refusal(leadership: Leadership): NotLeaderError {
  const reason: unknown = leadership.signal.reason;
  return reason instanceof NotLeaderError ? reason : new NotLeaderError('deadline', `leadership of ${leadership.name} has ended`);
}

function result(response: ITxnResponse, ops: TxnOp[], responses: IResponseOp[]): GuardedTxnResult {
  return { succeeded: response.succeeded, revision: response.header.revision, results: ops.map((op, i) => toResult(op, responses[i])) };
}

const operators = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

function toCompare(compare: TxnCompare): ICompare {
  const base: ICompare = { key: Buffer.from(compare.key), result: operators[compare.operator] };
  switch (compare.target) {
    case 'createRevision':
      return { ...base, target: 'Create', create_revision: compare.value };
    case 'modRevision':
      return { ...base, target: 'Mod', mod_revision: compare.value };
    case 'version':
      return { ...base, target: 'Version', version: compare.value };
    case 'value':
      return { ...base, target: 'Value', value: Buffer.from(String(compare.value)) };
  }
}

function toRequestOp(op: TxnOp): IRequestOp {
  switch (op.op) {
    case 'put':
      return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), ...(op.lease !== undefined && { lease: op.lease }) } };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case 'get':
      return { request_range: { key: Buffer.from(op.key) } };
  }
}

function toResult(op: TxnOp, response: IResponseOp | undefined): TxnOpResult {
  switch (op.op) {
    case 'put':
      return { op: 'put' };
    case 'delete':
      return { op: 'delete', deleted: Number(response?.response_delete_range.deleted ?? 0) };
    case 'get': {
      const kv = response?.response_range.kvs[0];
      return { op: 'get', kv: kv ? toStoredKey(kv) : undefined };
    }
  }
}
