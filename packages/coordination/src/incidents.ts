import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { readKey, type StoredKey } from './etcd.js';
import { guardedTxn } from './guarded-txn.js';
import { fencingEpochKey, incidentKey } from './keys.js';
import type { Leadership } from './leader-lease.js';

export interface IncidentClaim {
  /** True for the claim that won: this call, or an earlier one with the same claim token. */
  claimed: boolean;
  /** The fencing epoch the incident raised the target to. */
  epoch: number;
  /** Candidate id of the leader that claimed it. */
  claimedBy: string;
  /** Wall-clock time of the claim (ISO 8601), for people. */
  claimedAt: string;
}

export interface IncidentToClaim {
  target: string;
  incidentId: string;
  /**
   * Identifies this claim (e.g. the activation's id): a retry after an unknown outcome (a timeout)
   * with the same token gets `claimed: true` if the first attempt won. Default: a fresh UUID.
   */
  claimToken?: string;
}

interface IncidentRecord {
  epoch: number;
  claimedBy: string;
  claimedAt: string;
  /** Identifies the claiming call, so that a retried request recognises its own claim. */
  claimToken: string;
}

// A bound on compare-and-set retries: each failed attempt means another claim raised the epoch
// in between, so this many in a row means something other than claims is writing the epoch.
const maxAttempts = 1_000;

/**
 * Claims an incident for a target, exactly once across replicas and restarts: one transaction,
 * guarded by leadership, creates `<prefix>/targets/<t>/incidents/<id>` only if absent and raises
 * the target's fencing epoch from the value it read to that value + 1. A later claim of the
 * same incident, by any leader, gets `claimed: false` with the epoch of the first claim.
 * Throws NotLeaderError when leadership does not hold.
 */
export async function claimIncident(leadership: Leadership, incident: IncidentToClaim): Promise<IncidentClaim> {
  const recordKey = incidentKey(leadership.prefix, incident.target, incident.incidentId);
  const epochKey = fencingEpochKey(leadership.prefix, incident.target);
  const claimToken = incident.claimToken ?? randomUUID();
  const read = await guardedTxn(leadership, [
    { op: 'get', key: recordKey },
    { op: 'get', key: epochKey },
  ]);
  let [existing, epoch] = read.results.map((r) => (r.op === 'get' ? r.kv : undefined));
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (existing) return alreadyClaimed(existing, claimToken);
    const record: IncidentRecord = { epoch: parseEpoch(epoch) + 1, claimedBy: leadership.candidateId, claimedAt: new Date().toISOString(), claimToken };
    const attemptResult = await guardedTxn(leadership, {
      compare: [
        { key: recordKey, target: 'createRevision', operator: '==', value: 0 },
        { key: epochKey, target: 'modRevision', operator: '==', value: epoch?.modRevision ?? 0 },
      ],
      then: [
        { op: 'put', key: recordKey, value: JSON.stringify(record) },
        { op: 'put', key: epochKey, value: String(record.epoch) },
      ],
      else: [
        { op: 'get', key: recordKey },
        { op: 'get', key: epochKey },
      ],
    });
    if (attemptResult.succeeded) return { claimed: true, epoch: record.epoch, claimedBy: record.claimedBy, claimedAt: record.claimedAt };
    [existing, epoch] = attemptResult.results.map((r) => (r.op === 'get' ? r.kv : undefined));
  }
  throw new Error(`fencing epoch of ${incident.target} kept changing during ${maxAttempts} claim attempts`);
}

/** The target's fencing epoch now (a linearizable read); 0 before its first claim. */
export async function readFencingEpoch(etcd: Etcd3, prefix: string, target: string): Promise<number> {
  return parseEpoch((await readKey(etcd, fencingEpochKey(prefix, target))).kv);
}

function alreadyClaimed(existing: StoredKey, claimToken: string): IncidentClaim {
  const record = JSON.parse(existing.value) as IncidentRecord;
  return { claimed: record.claimToken === claimToken, epoch: record.epoch, claimedBy: record.claimedBy, claimedAt: record.claimedAt };
}

function parseEpoch(kv: StoredKey | undefined): number {
  if (!kv) return 0;
  const epoch = Number(kv.value);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`fencing epoch at ${kv.key} is not a whole number: ${JSON.stringify(kv.value)}`);
  return epoch;
}
