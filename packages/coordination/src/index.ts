export { connectEtcd, nextChange, pause, readKey, toStoredKey, type EtcdConnectionOptions, type StoredKey } from './etcd.js';
export { NotLeaderError, type NotLeaderReason } from './errors.js';
export { guardedTxn, plainTxn, type GuardedTxnRequest, type GuardedTxnResult, type TxnCompare, type TxnOp, type TxnOpResult } from './guarded-txn.js';
export { claimIncident, readFencingEpoch, type IncidentClaim, type IncidentToClaim } from './incidents.js';
export { candidateKey, electionPrefix, fencingEpochKey, incidentKey, normalizePrefix, prefixRangeEnd } from './keys.js';
export { LeaderLease, type LeaderInfo, type LeaderLeaseOptions, type Leadership } from './leader-lease.js';
export { openSession, validateTiming, type LeaseTiming, type Session } from './session.js';
