/**
 * One conformance suite for both coordination backends: files, and etcd on a real 3-member
 * cluster (skipped with a message when the etcd binary is absent; a failure under
 * VIGIL_REQUIRE_COMPONENTS).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Activation } from '@vigil/core';
import { NotLeaderError } from '@vigil/coordination';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../../../../packages/coordination/src/test-support/etcd-cluster.js';
import type { Change, Coordination, Term } from './coordination.js';
import { EtcdCoordination } from './etcd.js';
import { FileCoordination } from './file.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const etcdBinary = findEtcd();
let cluster: EtcdCluster | undefined;
let prefixes = 0;
const opened: Coordination[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  if (etcdBinary) cluster = await startEtcdCluster(etcdBinary);
});
afterAll(async () => {
  await cluster?.stop();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function openFile(dataDir?: string): Promise<Coordination> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'vigil-coordination-')));
  if (!dataDir) dirs.push(dir);
  const coordination = FileCoordination.open({ dataDir: dir, replica: 'file', now: Date.now, idleRequestRetentionMs: 60_000 });
  opened.push(coordination);
  return coordination;
}

async function openEtcd(prefix = `/conformance-${process.pid}-${++prefixes}`, replica = 'etcd'): Promise<Coordination> {
  const coordination = await EtcdCoordination.open({
    connection: { endpoints: cluster!.endpoints, requestTimeoutMs: 1_000 },
    prefix,
    replica,
    ttlSeconds: 2,
    marginMs: 500,
    now: Date.now,
    idleRequestRetentionMs: 60_000,
    logger,
  });
  opened.push(coordination);
  return coordination;
}

/** Resolves with the first term the backend gives this replica. */
function termOf(coordination: Coordination): Promise<Term> {
  return new Promise((resolve) => {
    const off = coordination.onTerm((term) => {
      off();
      resolve(term);
    });
  });
}

function activation(id: string, status: Activation['status'] = 'running'): Activation {
  return { id, requestId: `req-${id}`, target: 'primary', voter: 'watchdog-1', incidentId: `inc-${id}`, status, epoch: 1, createdAt: new Date().toISOString(), steps: [] };
}

const backends = [
  { name: 'file', open: () => openFile(), available: true },
  { name: 'etcd', open: () => openEtcd(), available: etcdBinary !== undefined },
] as const;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`${backend.name} coordination`, () => {
    it('reads absent documents as their defaults, writes atomically and reads back', async () => {
      const c = await backend.open();
      const read = await c.transact({ targets: ['primary'], votes: ['primary'], activations: ['act_1'], requests: ['msg_1'] }, (tx) => ({
        target: tx.target('primary'),
        votes: tx.votes('primary'),
        activation: tx.activation('act_1'),
        request: tx.request('msg_1'),
      }));
      expect(read).toEqual({ target: { active: 'primary', epoch: 0 }, votes: [], activation: undefined, request: undefined });
      await c.transact({ targets: ['primary'], activations: ['act_1'] }, (tx) => {
        tx.putActivation(activation('act_1'));
        tx.setTarget('primary', { active: 'primary', epoch: 1, activationId: 'act_1' });
        tx.appendAudit({ time: new Date().toISOString(), activationId: 'act_1', target: 'primary', epoch: 1, event: 'plan-resumed', fromStep: 'one' });
      });
      expect(await c.targetState('primary')).toEqual({ active: 'primary', epoch: 1, revision: 1, activationId: 'act_1' });
      expect((await c.activation('act_1'))?.status).toBe('running');
      expect((await c.auditOf('act_1')).map((r) => r.event)).toEqual(['plan-resumed']);
      expect((await c.unfinishedActivations()).map((a) => a.id)).toEqual(['act_1']);
    });

    it('refuses to read or write a document its read set does not name', async () => {
      const c = await backend.open();
      await expect(c.transact({ targets: ['primary'] }, (tx) => tx.activation('act_1'))).rejects.toThrow('without naming it in its read set');
      await expect(c.transact({ targets: ['primary'] }, (tx) => tx.setVotes('primary', []))).rejects.toThrow('without naming it in its read set');
    });

    it('applies 30 concurrent read-modify-writes of one document without losing one', async () => {
      const c = await backend.open();
      await Promise.all(
        Array.from({ length: 30 }, () =>
          c.transact({ targets: ['primary'] }, (tx) => {
            const state = tx.target('primary');
            tx.setTarget('primary', { ...state, epoch: state.epoch + 1 });
          }),
        ),
      );
      expect((await c.targetState('primary')).epoch).toBe(30);
    });

    it('tells watchers of target and activation changes, and keeps an index of the unfinished', async () => {
      const c = await backend.open();
      const seen: Change[] = [];
      c.watch((change) => seen.push(change));
      await c.transact({ activations: ['act_2'] }, (tx) => tx.putActivation(activation('act_2', 'holding-off')));
      await c.transact({ activations: ['act_2'], targets: ['primary'] }, (tx) => {
        tx.putActivation(activation('act_2', 'cancelled'));
        tx.setTarget('primary', { active: 'primary', epoch: 1 });
      });
      await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(3);
      expect(seen.map((s) => (s.kind === 'target' ? `target ${s.state.epoch}` : `activation ${s.activation.status}`))).toEqual([
        'activation holding-off',
        'activation cancelled',
        'target 1',
      ]);
      expect(await c.unfinishedActivations()).toEqual([]);
    });

    it('refuses a write under a term that has ended, and writes nothing', async () => {
      const c = await backend.open();
      const term = await termOf(c);
      expect(term.isValid()).toBe(true);
      await c.transact({ targets: ['primary'] }, (tx) => tx.setTarget('primary', { active: 'primary', epoch: 1 }), { term });
      await c.close();
      expect(term.isValid()).toBe(false);
      expect(term.signal.aborted).toBe(true);
      await expect(c.transact({ targets: ['primary'] }, (tx) => tx.setTarget('primary', { active: 'primary', epoch: 2 }), { term })).rejects.toBeInstanceOf(NotLeaderError);
    });

    it('imports an export without lowering an epoch, and keeps what is there', async () => {
      const source = await backend.open();
      await source.transact({ targets: ['primary', 'api'], activations: ['act_3'] }, (tx) => {
        tx.putActivation({ ...activation('act_3', 'succeeded'), epoch: 4 });
        tx.setTarget('primary', { active: 'secondary', epoch: 4, activationId: 'act_3', since: new Date().toISOString() });
        tx.setTarget('api', { active: 'primary', epoch: 2 });
        tx.appendAudit({ time: new Date().toISOString(), activationId: 'act_3', target: 'primary', epoch: 4, event: 'plan-resumed', fromStep: 'one' });
      });
      const exported = await source.exportState();
      const target = await backend.open();
      await target.transact({ targets: ['api'] }, (tx) => tx.setTarget('api', { active: 'primary', epoch: 7 }));
      const summary = await target.importState(exported);
      expect(summary).toEqual({ targets: 2, epochsRaised: 1, activations: 1, incidents: 0, audit: 1 });
      expect(await target.targetState('primary')).toMatchObject({ active: 'secondary', epoch: 4, activationId: 'act_3' });
      expect((await target.targetState('api')).epoch).toBe(7);
      // Importing the same file again adds nothing.
      expect(await target.importState(exported)).toEqual({ targets: 2, epochsRaised: 0, activations: 0, incidents: 0, audit: 0 });
    });
  });
}

describe.skipIf(!etcdBinary)('etcd coordination across replicas', () => {
  it('elects one leader among replicas; the next takes over when it closes; a deposed term cannot write', async () => {
    const prefix = `/conformance-election-${process.pid}`;
    const a = await openEtcd(prefix, 'a');
    const first = await termOf(a);
    const b = await openEtcd(prefix, 'b');
    expect(b.currentTerm()).toBeUndefined();
    const next = termOf(b);
    await a.close();
    // a revokes its lease on close: b leads at once, well within the 2s TTL.
    const taken = await next;
    expect(taken.isValid()).toBe(true);
    await expect(a.transact({ targets: ['primary'] }, (tx) => tx.setTarget('primary', { active: 'primary', epoch: 9 }), { term: first })).rejects.toBeInstanceOf(NotLeaderError);
    expect((await b.targetState('primary')).epoch).toBe(0);
  });

  it('exports from files and imports into etcd with every epoch and activation', async () => {
    const files = await openFile();
    await files.transact({ targets: ['primary'], activations: ['act_4'] }, (tx) => {
      tx.putActivation({ ...activation('act_4', 'succeeded'), epoch: 3 });
      tx.setTarget('primary', { active: 'secondary', epoch: 3, activationId: 'act_4' });
    });
    const etcd = await openEtcd();
    await etcd.importState(await files.exportState());
    expect(await etcd.targetState('primary')).toEqual({ active: 'secondary', epoch: 3, revision: 1, activationId: 'act_4' });
    expect((await etcd.activations()).map((a) => a.id)).toEqual(['act_4']);
  });
});
