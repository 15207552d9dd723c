import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseState, type Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd, readKey } from './etcd.js';
import { NotLeaderError } from './errors.js';
import { guardedTxn } from './guarded-txn.js';
import { claimIncident, readFencingEpoch, type IncidentClaim } from './incidents.js';
import { electionPrefix, incidentKey } from './keys.js';
import { LeaderLease, type Leadership } from './leader-lease.js';
import { findEtcd, startEtcdCluster, type EtcdCluster } from './test-support/etcd-cluster.js';

const etcdBinary = findEtcd();

// Timing of these tests, and the bounds derived from it.
const ttlSeconds = 2;
const ttlMs = ttlSeconds * 1_000;
const marginMs = 500;
const pollIntervalMs = 250;
const renewIntervalMs = ttlMs / 3;
const heartbeatMs = 50;
const electionTimeoutMs = 500;
// etcd 3.4's lessor looks for expired leases every 500 ms and revokes them through Raft.
const lessorCheckMs = 500;
// How late a timer or an I/O callback of this process may run. In CI the unit tests of other
// files run on the same 2 cores, so event-loop delays of several hundred ms happen: bounds that
// only measure how fast something happens (liveness) allow a second. Safety never rests on it:
// a leader reads its own clock in isValid(), whatever its timers do.
const slackMs = 1_000;

const prefix = '/vigil-test';
let cluster: EtcdCluster;
let admin: Etcd3;

interface Replica {
  id: string;
  etcd: Etcd3;
  lease: LeaderLease;
}
interface Elected {
  leadership: Leadership;
  /** performance.now() when campaign() resolved. */
  at: number;
}
interface Campaign {
  replica: Replica;
  elected: Promise<Elected>;
  abort(): void;
}

const cleanups: (() => Promise<void>)[] = [];

function replica(id: string): Replica {
  const etcd = connectEtcd({ endpoints: cluster.endpoints, requestTimeoutMs: 1_000 });
  cleanups.push(() => Promise.resolve(etcd.close()));
  return { id, etcd, lease: new LeaderLease(etcd, { prefix, ttlSeconds, marginMs, pollIntervalMs }) };
}

function campaign(replica: Replica, name: string): Campaign {
  const controller = new AbortController();
  const elected = replica.lease.campaign(name, replica.id, { signal: controller.signal }).then((leadership) => ({ leadership, at: performance.now() }));
  // Losing candidates are aborted at the end of the test (their rejection is expected); a
  // winner resigns.
  const settled = elected.then(
    ({ leadership }) => leadership,
    () => undefined,
  );
  cleanups.push(async () => {
    controller.abort();
    await (await settled)?.resign();
  });
  return { replica, elected, abort: () => controller.abort() };
}

function firstElected(campaigns: Campaign[]): Promise<Elected & { campaign: Campaign }> {
  return Promise.race(campaigns.map((c) => c.elected.then((e) => ({ ...e, campaign: c }))));
}

/** Resolves with the time the signal aborted (performance.now()). */
function abortedAt(signal: AbortSignal): Promise<number> {
  if (signal.aborted) return Promise.resolve(performance.now());
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(performance.now()), { once: true }));
}

async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([promise.then(() => true, () => true), sleep(ms, marker)])) !== marker;
}

async function electionKeys(name: string): Promise<{ key: string; createRevision: bigint }[]> {
  const prefixKey = electionPrefix(prefix, name);
  const kvs = await admin.getAll().prefix(prefixKey).exec();
  return kvs.kvs.map((kv) => ({ key: kv.key.toString(), createRevision: BigInt(kv.create_revision) }));
}

/** Waits until `count` candidates have entered election `name`. */
async function untilCandidates(name: string, count: number): Promise<void> {
  while ((await electionKeys(name)).length < count) await sleep(20);
}

describe.skipIf(!etcdBinary)('coordination on a real 3-member etcd cluster', () => {
  beforeAll(async () => {
    cluster = await startEtcdCluster(etcdBinary!, { size: 3, heartbeatMs, electionTimeoutMs });
    admin = connectEtcd({ endpoints: cluster.endpoints, requestTimeoutMs: 2_000 });
  }, 60_000);

  afterAll(async () => {
    admin?.close();
    await cluster?.stop();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('elects exactly one of three candidates: the lowest create revision; the next one follows on resign', async () => {
    const campaigns = ['a', 'b', 'c'].map((id) => campaign(replica(id), 'three'));
    const first = await firstElected(campaigns);
    const others = campaigns.filter((c) => c !== first.campaign);
    // A wrongly elected second candidate would resolve on its next look at the election, at most
    // one poll interval later (or at once on a watch event); wait well past that.
    expect(await settledWithin(Promise.race(others.map((c) => c.elected)), 3 * pollIntervalMs + slackMs)).toBe(false);

    await untilCandidates('three', 3);
    const keys = await electionKeys('three');
    const lowest = keys.reduce((a, b) => (a.createRevision < b.createRevision ? a : b));
    expect(first.leadership).toMatchObject({ key: lowest.key, createRevision: String(lowest.createRevision), candidateId: first.campaign.replica.id });
    expect(first.leadership.isValid()).toBe(true);
    const observer = replica('observer');
    expect(await observer.lease.leader('three')).toMatchObject({ key: lowest.key, candidateId: first.campaign.replica.id });

    // Resigning revokes the lease at once: the candidate with the next create revision leads.
    const resignedAt = performance.now();
    await first.leadership.resign();
    expect(first.leadership.isValid()).toBe(false);
    expect(first.leadership.signal.reason).toMatchObject({ name: 'NotLeaderError', reason: 'resigned' });
    const second = await firstElected(others);
    const nextLowest = keys.filter((k) => k !== lowest).reduce((a, b) => (a.createRevision < b.createRevision ? a : b));
    expect(second.leadership.key).toBe(nextLowest.key);
    // Revocation is one Raft round; the successor sees it by watch, or by its poll at the latest.
    expect(second.at - resignedAt).toBeLessThan(pollIntervalMs + slackMs);
  });

  it('lets followers observe the current leader and its successor', async () => {
    const campaigns = [campaign(replica('a'), 'observed'), campaign(replica('b'), 'observed')];
    const { leadership: leader, campaign: leading } = await firstElected(campaigns);
    const follower = campaigns.find((c) => c !== leading)!;
    await untilCandidates('observed', 2);
    const stop = new AbortController();
    cleanups.push(() => Promise.resolve(stop.abort()));
    const observed = replica('observer').lease.watchLeader('observed', stop.signal);
    expect((await observed.next()).value).toMatchObject({ candidateId: leader.candidateId, key: leader.key });

    const resignedAt = performance.now();
    await leader.resign();
    const next = await observed.next();
    // The observer's watch fires on the deletion; its poll catches a missed event within one interval.
    expect(performance.now() - resignedAt).toBeLessThan(pollIntervalMs + slackMs);
    expect(next.value).toMatchObject({ candidateId: follower.replica.id, key: (await follower.elected).leadership.key });
    stop.abort();
    await observed.return(undefined);
  });

  it("hands leadership over within TTL + etcd's expiry check when the leader's client dies, and never overlaps", async () => {
    const a = campaign(replica('a'), 'takeover');
    const { leadership: leaderA } = await a.elected;
    const followers = [campaign(replica('b'), 'takeover'), campaign(replica('c'), 'takeover')];
    const leaderAEnded = abortedAt(leaderA.signal);
    await sleep(renewIntervalMs); // let A renew once, as a leader in steady state does

    // The leader's process dies: no keepalive, no revoke.
    const killedAt = performance.now();
    a.replica.etcd.close();
    const next = await firstElected(followers);

    // A's last keepalive was sent before the kill, so etcd expires its lease at most one TTL after
    // the kill; etcd's lessor notices within lessorCheckMs and revokes it in one Raft round; the
    // follower sees that by watch or, at the latest, its next poll.
    const bound = ttlMs + lessorCheckMs + pollIntervalMs + slackMs; // 3750 ms
    const takeoverMs = next.at - killedAt;
    console.log(`takeover after the leader's client died: ${Math.round(takeoverMs)} ms (bound ${bound} ms)`);
    expect(takeoverMs).toBeLessThan(bound);

    // Safety: A stopped trusting its lease at its own deadline, which is at least `margin` before
    // etcd could expire the lease (etcd counts the TTL from receiving the keepalive, A from sending it).
    expect(leaderA.isValid()).toBe(false);
    expect(leaderA.signal.reason).toMatchObject({ name: 'NotLeaderError', reason: 'deadline' });
    expect(next.at).toBeGreaterThanOrEqual(leaderA.validUntil() + marginMs);
    expect(await leaderAEnded).toBeLessThan(next.at);
  });

  it("rejects a deposed leader's late write in etcd, even while its own clock still trusts the lease", async () => {
    const a = campaign(replica('a'), 'deposed');
    const { leadership: leaderA } = await a.elected;

    // Someone removes the leader key (etcd would do the same when the lease expires): A's lease is
    // still renewed, so only etcd's check of the key's create revision can stop the write.
    await admin.delete().key(leaderA.key).exec();
    expect(leaderA.isValid()).toBe(true);
    const lateWrite = guardedTxn(leaderA, [{ op: 'put', key: `${prefix}/probe/deposed`, value: 'from A' }]);
    await expect(lateWrite).rejects.toBeInstanceOf(NotLeaderError);
    await expect(lateWrite).rejects.toMatchObject({ reason: 'superseded' });
    expect((await readKey(admin, `${prefix}/probe/deposed`)).kv).toBeUndefined();
    // The refusal also ends A's leadership for everything else it does.
    expect(leaderA.signal.aborted).toBe(true);
    expect(leaderA.isValid()).toBe(false);
  });

  it("lets the successor write and rejects the predecessor's write after the predecessor's lease is revoked", async () => {
    const a = campaign(replica('a'), 'revoked');
    const { leadership: leaderA } = await a.elected;
    const b = campaign(replica('b'), 'revoked');
    await guardedTxn(leaderA, [{ op: 'put', key: `${prefix}/probe/revoked`, value: 'from A' }]);

    await admin.leaseClient.leaseRevoke({ ID: leaderA.leaseId });
    const { leadership: leaderB } = await b.elected;
    await guardedTxn(leaderB, [{ op: 'put', key: `${prefix}/probe/revoked`, value: 'from B' }]);
    // A learns of the loss at its next keepalive (reason `lost`) or from etcd's guard (`superseded`).
    const late = guardedTxn(leaderA, [{ op: 'put', key: `${prefix}/probe/revoked`, value: 'late from A' }]);
    await expect(late).rejects.toBeInstanceOf(NotLeaderError);
    expect((await readKey(admin, `${prefix}/probe/revoked`)).kv?.value).toBe('from B');
    await expect(claimIncident(leaderA, { target: 'revoked', incidentId: 'i-1' })).rejects.toBeInstanceOf(NotLeaderError);
  });

  it('stops a leader whose keepalives fail at its own deadline, before etcd could expire its lease (all members frozen)', async () => {
    const a = campaign(replica('a'), 'frozen');
    const { leadership: leaderA } = await a.elected;
    // The etcd3 library's own lease, for comparison: it reports a loss only after 2 × TTL without answer.
    const library = replica('library').etcd.lease(ttlSeconds);
    let libraryLostAt: number | undefined;
    library.on('lost', () => (libraryLostAt = performance.now()));
    await library.grant();
    cleanups.push(() => library.revoke().catch(() => undefined));
    await sleep(renewIntervalMs);

    const frozenAt = performance.now();
    for (const member of cluster.members) member.signal('SIGSTOP');
    cleanups.push(async () => {
      for (const member of cluster.members) member.signal('SIGCONT');
      await cluster.waitHealthy();
    });
    const endedAt = await abortedAt(leaderA.signal);
    expect(leaderA.signal.reason).toMatchObject({ name: 'NotLeaderError', reason: 'deadline' });

    // D = last successful keepalive sent (L) + TTL − margin, by A's own clock. etcd received that
    // keepalive after L, so the earliest the lease could expire on the server is L + TTL = D + margin.
    const deadline = leaderA.validUntil();
    const lastRenewalSentAt = deadline + marginMs - ttlMs;
    expect(lastRenewalSentAt).toBeLessThanOrEqual(frozenAt);
    expect(endedAt).toBeGreaterThanOrEqual(deadline);
    // A's trust ended at the deadline itself, margin (500 ms) before etcd could expire the lease:
    // isValid() reads the clock, so it is false from then on even if the signal's timer runs late.
    expect(deadline).toBeLessThanOrEqual(frozenAt + ttlMs - marginMs);
    expect(leaderA.isValid()).toBe(false);
    // The signal itself follows within a timer's slack.
    expect(endedAt - deadline).toBeLessThan(slackMs);

    // Writes are refused locally, without waiting for the frozen cluster.
    const refusedFrom = performance.now();
    await expect(guardedTxn(leaderA, [{ op: 'put', key: `${prefix}/probe/frozen`, value: 'x' }])).rejects.toMatchObject({ reason: 'deadline' });
    expect(performance.now() - refusedFrom).toBeLessThan(slackMs);

    // Meanwhile the library still calls its lease alive: trusting it would overrun the TTL.
    expect(library.state).toBe(LeaseState.Alive);
    expect(libraryLostAt).toBeUndefined();
    console.log(`all members frozen: leadership ended ${Math.round(endedAt - frozenAt)} ms after the freeze, ${Math.round(lastRenewalSentAt + ttlMs - endedAt)} ms before the earliest server-side expiry`);
  });

  it('claims an incident exactly once under 100 concurrent attempts from two replicas, across a change of leader', async () => {
    const target = 'primary-eu';
    const incidentId = 'incident-100';
    const before = await readFencingEpoch(admin, prefix, target);
    const a = campaign(replica('a'), 'claims');
    const { leadership: leaderA } = await a.elected;
    const b = campaign(replica('b'), 'claims');

    // 50 attempts from A race the revocation of A's lease (what etcd does when it expires);
    // B is elected at once and makes 50 more. Whichever interleaving etcd sees, one claim wins.
    const fromA = Promise.allSettled(Array.from({ length: 50 }, () => claimIncident(leaderA, { target, incidentId })));
    const revoked = admin.leaseClient.leaseRevoke({ ID: leaderA.leaseId }).then(
      () => 'revoked',
      (error: unknown) => error,
    );
    const fromB = b.elected.then(({ leadership }) => Promise.allSettled(Array.from({ length: 50 }, () => claimIncident(leadership, { target, incidentId }))));
    const outcomes = [...(await fromA), ...(await fromB)];
    expect(await revoked).toBe('revoked');

    const claims = outcomes.filter((o): o is PromiseFulfilledResult<IncidentClaim> => o.status === 'fulfilled').map((o) => o.value);
    const refusals = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    const winner = claims.find((c) => c.claimed)!;
    expect(winner.epoch).toBe(before + 1);
    for (const claim of claims) expect(claim).toMatchObject({ epoch: before + 1, claimedBy: winner.claimedBy });
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(NotLeaderError);
    // B led throughout its 50 attempts: none of them was refused.
    expect(claims.length).toBeGreaterThanOrEqual(50);
    console.log(`claim won by ${winner.claimedBy}; ${claims.length} answered, ${refusals.length} refused as not leader`);

    expect(await readFencingEpoch(admin, prefix, target)).toBe(before + 1);
    const record = JSON.parse((await readKey(admin, incidentKey(prefix, target, incidentId))).kv!.value) as { epoch: number };
    expect(record.epoch).toBe(before + 1);
    // A second claim later, by the leader of the day, finds it claimed.
    const { leadership: leaderB } = await b.elected;
    expect(await claimIncident(leaderB, { target, incidentId })).toMatchObject({ claimed: false, epoch: before + 1 });
  });

  it('raises the epoch exactly once per distinct incident under concurrent claims (compare-and-set)', async () => {
    const target = 'primary-us';
    const { leadership } = await campaign(replica('a'), 'distinct').elected;
    const before = await readFencingEpoch(admin, prefix, target);
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claimIncident(leadership, { target, incidentId: `incident-${i}` })));
    expect(claims.every((c) => c.claimed)).toBe(true);
    expect(claims.map((c) => c.epoch).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => before + 1 + i));
    expect(await readFencingEpoch(admin, prefix, target)).toBe(before + 20);

    // A retry after an unknown outcome recognises its own claim by its token; others do not.
    const first = await claimIncident(leadership, { target, incidentId: 'retried', claimToken: 'activation-7' });
    expect(first).toMatchObject({ claimed: true, epoch: before + 21 });
    expect(await claimIncident(leadership, { target, incidentId: 'retried', claimToken: 'activation-7' })).toEqual(first);
    expect(await claimIncident(leadership, { target, incidentId: 'retried' })).toMatchObject({ claimed: false, epoch: before + 21 });
  });

  it('keeps leading and writing with one etcd member SIGKILLed (quorum 2/3 still serves)', async () => {
    const target = 'primary-ap';
    const a = campaign(replica('a'), 'member-loss');
    const { leadership: leaderA } = await a.elected;
    const b = campaign(replica('b'), 'member-loss');
    const before = await readFencingEpoch(admin, prefix, target);

    // Kill the Raft leader: the harder case, the remaining two elect a new one first.
    const victim = cluster.members[await cluster.leaderIndex()]!;
    const killedAt = performance.now();
    await victim.kill();
    cleanups.push(async () => {
      await victim.restart();
      await cluster.waitHealthy();
    });

    // Whoever leads (A if its keepalives got through the Raft election, else B) claims.
    const current = async (): Promise<Leadership> => (leaderA.isValid() ? leaderA : (await b.elected).leadership);
    // Raft elects a new leader within 2 × election timeout; if A's leadership ran out meanwhile,
    // B follows within TTL + the lessor's check + one poll.
    const bound = 2 * electionTimeoutMs + ttlMs + lessorCheckMs + pollIntervalMs + slackMs; // 4750 ms
    let claim: IncidentClaim | undefined;
    let lastError: unknown;
    while (!claim && performance.now() - killedAt < bound) {
      try {
        claim = await claimIncident(await current(), { target, incidentId: 'after-member-loss' });
      } catch (error) {
        // During the Raft election etcd answers "leader changed", "no leader" or times out.
        lastError = error;
        await sleep(50);
      }
    }
    if (!claim) throw new Error(`no claim served within ${bound} ms of the member loss: ${String(lastError)}`);
    const servedMs = performance.now() - killedAt;
    console.log(`one member killed: claim served after ${Math.round(servedMs)} ms by ${claim.claimedBy}; A still leads: ${leaderA.isValid()} (bound ${bound} ms)`);
    expect(servedMs).toBeLessThan(bound);
    expect(claim).toMatchObject({ claimed: true, epoch: before + 1 });
    if (!leaderA.isValid()) expect((await b.elected).at).toBeGreaterThanOrEqual(leaderA.validUntil() + marginMs);

    // Still exactly once with two members.
    expect(await claimIncident(await current(), { target, incidentId: 'after-member-loss' })).toMatchObject({ claimed: false, epoch: before + 1 });
    expect(await readFencingEpoch(admin, prefix, target)).toBe(before + 1);
  });
});
