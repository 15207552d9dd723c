import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '@vigil/core';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../../../../packages/coordination/src/test-support/etcd-cluster.js';
import type { ActivationConfig } from '../config.js';
import type { ExportedState } from '../coordination/coordination.js';
import { FENCE_EPOCH_HEADER } from '../plan/steps/fence.js';
import { config, fakeEndpoint, tempDir } from '../test-support/fixtures.js';
import { runCommand, seedFailover, withStore } from '../test-support/state.js';
import type { ImportReport } from './import.js';

const etcdBinary = findEtcd();
/** Each run waits one lease TTL (2s here) to be sure etcd cannot be reached; three runs, a restart of the cluster and the imports fit well within it. */
const DOWN_WINDOW_TEST_MS = 60_000;

const cleanup: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

let dir: string;
let standby: Awaited<ReturnType<typeof fakeEndpoint>>;
beforeAll(async () => {
  const temp = await tempDir();
  cleanup.push(() => temp.remove());
  dir = temp.path;
  standby = await fakeEndpoint();
  cleanup.push(() => standby.close());
});

const calls = () => standby.calls.map((c) => `${c.url} ${String(c.headers[FENCE_EPOCH_HEADER] ?? '-')}`);

function configWith(coordination: Record<string, unknown>): ActivationConfig {
  return config({
    dataDir: join(dir, randomBytes(4).toString('hex')),
    coordination,
    targets: [
      { name: 'app', plan: [{ name: 'fence-primary', kind: 'fence', url: `${standby.url}/app/fence` }, { name: 'enable-standby', kind: 'http', url: `${standby.url}/app/enable` }] },
      { name: 'db', plan: [{ name: 'promote', kind: 'http', url: `${standby.url}/db/promote` }] },
    ],
  });
}

const etcdSettings = (endpoints: string[]) => ({ kind: 'etcd', endpoints, prefix: `/bg-${randomBytes(4).toString('hex')}`, ttl: '2s', margin: '500ms', requestTimeout: '1s' });
const who = ['--reason', 'eu-west is down and etcd with it', '--operator', 'alice'];

describe('break-glass: what it needs before it runs', () => {
  it('wants an epoch or a backup to take it from, never one at or below the backup\'s, and a known target', async () => {
    const c = configWith({ kind: 'etcd', endpoints: ['http://127.0.0.1:9'] });
    const noEpoch = await runCommand('break-glass', ['--target', 'app', ...who], c);
    expect(noEpoch.code).toBe(2);
    expect(noEpoch.err).toMatch(/^vigil-activation break-glass: give the fencing epoch \(--epoch <n>, above every epoch the target has had\) or a recent export to take it from \(--state <file>\)\nusage: /);
    const badEpoch = await runCommand('break-glass', ['--target', 'app', '--epoch', 'two', ...who], c);
    expect(badEpoch).toMatchObject({ code: 2 });
    expect(badEpoch.err).toContain('--epoch: expected a whole number of 1 or more, got "two"');
    const files = configWith({ kind: 'file' });
    await withStore(files, (store) => seedFailover(store, 'app', 4));
    const backup = join(dir, 'usage-backup.json');
    expect((await runCommand('export', ['--out', backup], files)).code).toBe(0);
    const reused = await runCommand('break-glass', ['--target', 'app', '--state', backup, '--epoch', '4', ...who], c);
    expect(reused).toMatchObject({ code: 2, err: `vigil-activation break-glass: --epoch 4 is not above epoch 4 of "app" in ${backup}: a fencing epoch must never be reused\n` });
    const notInBackup = await runCommand('break-glass', ['--target', 'db', '--state', backup, ...who], c);
    expect(notInBackup).toMatchObject({ code: 2, err: `vigil-activation break-glass: ${backup} has no target "db": give --epoch\n` });
    const unknown = await runCommand('break-glass', ['--target', 'web', '--epoch', '3', ...who], c);
    expect(unknown.err).toContain('--target: no target "web" in the configuration (app, db)');
    const noReason = await runCommand('break-glass', ['--target', 'app', '--epoch', '3', '--operator', 'alice'], c);
    expect(noReason.err).toContain('--reason is required');
    expect(standby.calls).toEqual([]);
  });

  it('refuses on the file backend: that store is always reachable, the API is the way', async () => {
    const c = configWith({ kind: 'file' });
    const { code, err } = await runCommand('break-glass', ['--target', 'app', '--epoch', '3', ...who], c);
    expect(code).toBe(3);
    expect(err).toContain(`coordination.kind is file: the store is ${c.dataDir} on this host and never unreachable`);
    expect(standby.calls).toEqual([]);
  });
});

describe.skipIf(!etcdBinary)('break-glass against a real 3-member etcd cluster', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster(etcdBinary!);
    cleanup.push(() => cluster.stop());
  });

  it('refuses while etcd answers, and runs nothing', async () => {
    const c = configWith(etcdSettings(cluster.endpoints));
    const { code, out, err } = await runCommand('break-glass', ['--target', 'app', '--epoch', '3', '--out', join(dir, 'refused.json'), ...who], c);
    expect(code).toBe(3);
    expect(err).toContain('etcd answers (target "app": primary active, epoch 0): break-glass is only for when it cannot be reached; use the service');
    expect(out).toBe('');
    expect(existsSync(join(dir, 'refused.json'))).toBe(false);
    expect(standby.calls).toEqual([]);
  });

  it('with etcd down: --dry-run runs nothing; a run uses the epoch, records every step and the reason, and its record imports once etcd is back', { timeout: DOWN_WINDOW_TEST_MS }, async () => {
    const c = configWith(etcdSettings(cluster.endpoints));
    await withStore(c, (store) => seedFailover(store, 'app', 4));
    // The backup an operator keeps (e.g. an hourly export): app at epoch 4.
    const backup = join(dir, 'backup.json');
    expect((await runCommand('export', ['--out', backup], c)).code).toBe(0);
    await Promise.all(cluster.members.map((m) => m.kill()));

    const dryRecord = join(dir, 'dry.json');
    const dry = await runCommand('break-glass', ['--target', 'app', '--state', backup, '--out', dryRecord, '--dry-run', ...who], c);
    expect(dry.code, dry.err).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, target: 'app', kind: 'failover', epoch: 5, plan: [{ name: 'fence-primary' }, { name: 'enable-standby' }] });
    expect(existsSync(dryRecord)).toBe(false);
    expect(standby.calls).toEqual([]);

    // The epoch taken from the backup (4 + 1).
    const appRecord = join(dir, 'app-record.json');
    const app = await runCommand('break-glass', ['--target', 'app', '--state', backup, '--out', appRecord, ...who], c);
    expect(app.code, app.err).toBe(0);
    expect(calls()).toEqual(['/app/fence 5', '/app/enable -']);
    const printed = app.out.trim().split('\n').map((line) => JSON.parse(line) as { event: string; epoch: number });
    expect(printed.map((r) => r.event)).toEqual(['break-glass', 'step-started', 'step-finished', 'step-started', 'step-finished', 'activation-finished']);
    expect(printed[0]).toMatchObject({ operator: 'alice', reason: 'eu-west is down and etcd with it', epoch: 5, kind: 'failover' });
    const record = JSON.parse(readFileSync(appRecord, 'utf8')) as ExportedState;
    expect(record.audit).toEqual(printed);
    expect(record.targets).toEqual({ app: expect.objectContaining({ active: 'secondary', epoch: 5 }) as unknown });
    const activation = record.activations[0] as Activation;
    expect(activation).toMatchObject({ status: 'succeeded', epoch: 5, voter: 'alice', approval: { reason: 'break-glass: eu-west is down and etcd with it', decidedBy: 'alice' } });
    expect(activation.steps.map((s) => `${s.name} ${s.status}`)).toEqual(['fence-primary succeeded', 'enable-standby succeeded']);

    // An epoch given by hand.
    const dbRecord = join(dir, 'db-record.json');
    const db = await runCommand('break-glass', ['--target', 'db', '--epoch', '9', '--out', dbRecord, ...who], c);
    expect(db.code, db.err).toBe(0);
    expect(calls().slice(2)).toEqual(['/db/promote -']);
    expect(JSON.parse(readFileSync(dbRecord, 'utf8'))).toMatchObject({ targets: { db: { active: 'secondary', epoch: 9 } } });

    await Promise.all(cluster.members.map((m) => m.restart()));
    await cluster.waitHealthy();
    const imported = await runCommand('import', ['--in', appRecord], c);
    expect(imported.code, imported.err).toBe(0);
    expect((JSON.parse(imported.out) as ImportReport).epochs).toEqual([{ target: 'app', before: 4, imported: 5, after: 5, outcome: 'raised' }]);
    expect(JSON.parse(imported.out)).toMatchObject({ epochsRaised: 1, activations: 1, incidents: 1, audit: 6 });
    expect((await runCommand('import', ['--in', dbRecord], c)).code).toBe(0);
    await withStore(c, async (store) => {
      expect(await store.targetState('app')).toEqual({ active: 'secondary', epoch: 5, revision: 2, since: activation.finishedAt, activationId: activation.id });
      expect(await store.targetState('db')).toMatchObject({ active: 'secondary', epoch: 9 });
      expect(await store.activation(activation.id)).toEqual(activation);
      expect((await store.auditOf(activation.id)).map((r) => r.event)).toEqual(printed.map((r) => r.event));
    });
  });
});
