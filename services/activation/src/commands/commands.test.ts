import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../../../../packages/coordination/src/test-support/etcd-cluster.js';
import type { ActivationConfig } from '../config.js';
import type { ExportedState } from '../coordination/coordination.js';
import { closedPort, config, tempDir } from '../test-support/fixtures.js';
import { contentOf, runCommand, seedFailover, withStore } from '../test-support/state.js';
import type { ImportReport } from './import.js';

const etcdBinary = findEtcd();
const cleanup: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

let dir: string;
let port: number;
beforeAll(async () => {
  const temp = await tempDir();
  cleanup.push(() => temp.remove());
  dir = temp.path;
  // Nothing listens there: a file-backed import sees no running service.
  port = await closedPort();
});

const targets = (standby = 'http://127.0.0.1:9') => [
  { name: 'app', plan: [{ name: 'fence-primary', kind: 'fence', url: `${standby}/fence` }, { name: 'enable-standby', kind: 'http', url: `${standby}/enable` }] },
  { name: 'db', plan: [{ name: 'promote', kind: 'http', url: `${standby}/promote` }] },
];

function filesConfig(name: string, standby?: string): ActivationConfig {
  return config({ server: { port }, dataDir: join(dir, name), targets: targets(standby) });
}

function etcdConfig(endpoints: string[], standby?: string, prefix = `/t-${randomBytes(4).toString('hex')}`): ActivationConfig {
  return config({
    server: { port },
    dataDir: join(dir, prefix.slice(1)),
    coordination: { kind: 'etcd', endpoints, prefix, ttl: '2s', margin: '500ms', requestTimeout: '1s' },
    targets: targets(standby),
  });
}

async function exported(c: ActivationConfig): Promise<ExportedState> {
  const { code, out, err } = await runCommand('export', ['--out', '-'], c);
  expect(err).not.toContain('"level":"error"');
  expect(code).toBe(0);
  return JSON.parse(out) as ExportedState;
}

async function importFile(c: ActivationConfig, path: string): Promise<ImportReport> {
  const { code, out, err } = await runCommand('import', ['--in', path], c);
  expect(code, err).toBe(0);
  return JSON.parse(out) as ImportReport;
}

describe('import refuses a bad file and writes nothing (files)', () => {
  const good = (): ExportedState => ({ format: 'vigil-activation-state', version: 1, exportedAt: new Date().toISOString(), source: 'file', targets: { app: { active: 'secondary', epoch: 2 } }, activations: [], incidents: [], audit: [] });
  const cases: [string, string, RegExp][] = [
    ['not-json', '{"format": "vigil-activation-state", ', /not-json\.json: not JSON \(.*\); expected an export of vigil-activation/],
    ['wrong-format', JSON.stringify({ ...good(), format: 'prometheus-snapshot' }), /wrong-format\.json: not an export of vigil-activation \(\/format is "prometheus-snapshot", expected "vigil-activation-state"\)/],
    ['bad-epoch', JSON.stringify({ ...good(), targets: { app: { active: 'secondary', epoch: -1 } } }), /bad-epoch\.json: targets\.app: \/epoch .*/],
    ['bad-side', JSON.stringify({ ...good(), targets: { app: { active: 'tertiary', epoch: 1 } } }), /bad-side\.json: targets\.app: \/active .*/],
    ['incomplete', JSON.stringify({ format: 'vigil-activation-state', version: 1, targets: {} }), /incomplete\.json: not an export of vigil-activation \(\/ must have required properties exportedAt, source, activations, incidents, audit\)/],
    ['bad-activation', JSON.stringify({ ...good(), activations: [{ id: 'a', target: 'app' }] }), /bad-activation\.json: activations\[0\]: .*/],
    ['bad-audit', JSON.stringify({ ...good(), audit: [{ event: 'step-started' }] }), /bad-audit\.json: audit\[0\]: not an audit record \(no activationId\)/],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: exit 2 naming the file and what is wrong`, async () => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, text);
      const c = filesConfig(`bad-${name}`);
      const { code, out, err } = await runCommand('import', ['--in', path], c);
      expect(err).toMatch(message);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(existsSync(join(c.dataDir, 'state.json'))).toBe(false);
      expect(existsSync(join(c.dataDir, 'audit.jsonl'))).toBe(false);
    });
  }

  it('a missing --in or an unknown option is a usage error', async () => {
    const missing = await runCommand('import', [], filesConfig('usage'));
    expect(missing).toMatchObject({ code: 2, err: 'vigil-activation import: --in <file> is required\nusage: vigil-activation import --config <file> --in <file>\n' });
    const unknown = await runCommand('export', ['--output', 'x.json'], filesConfig('usage'));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("Unknown option '--output'");
  });
});

describe('import into files never lowers an epoch', () => {
  it('an older export keeps the store\'s higher epoch and active side, and the report says so', async () => {
    const older = filesConfig('older');
    await withStore(older, (store) => seedFailover(store, 'app', 2, 'act_old'));
    const backup = join(dir, 'older.json');
    expect((await runCommand('export', ['--out', backup], older)).code).toBe(0);

    const newer = filesConfig('newer');
    await withStore(newer, (store) => seedFailover(store, 'app', 5, 'act_new'));
    const report = await importFile(newer, backup);
    expect(report).toMatchObject({ into: 'file', source: 'file', targets: 1, epochsRaised: 0, activations: 1, incidents: 1, audit: 4 });
    expect(report.epochs).toEqual([{ target: 'app', before: 5, imported: 2, after: 5, outcome: 'kept-higher' }]);
    const after = await exported(newer);
    expect(after.targets.app).toMatchObject({ active: 'secondary', epoch: 5, activationId: 'act_new' });
    expect(after.activations.map((a) => (a as { id: string }).id).sort()).toEqual(['act_new', 'act_old']);
  });

  it('importing the same export twice adds nothing the second time', async () => {
    const c = filesConfig('twice');
    const source = filesConfig('twice-source');
    await withStore(source, (store) => seedFailover(store, 'db', 3));
    const path = join(dir, 'twice.json');
    expect((await runCommand('export', ['--out', path], source)).code).toBe(0);
    expect(await importFile(c, path)).toMatchObject({ epochsRaised: 1, activations: 1, incidents: 1, audit: 4 });
    expect(await importFile(c, path)).toMatchObject({ epochsRaised: 0, activations: 0, incidents: 0, audit: 0, epochs: [{ target: 'db', before: 3, imported: 3, after: 3, outcome: 'equal' }] });
  });
});

describe.skipIf(!etcdBinary)('export and import between files and a real 3-member etcd cluster', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster(etcdBinary!);
    cleanup.push(() => cluster.stop());
  });

  it('files → etcd keeps epochs, active sides, activations, incidents and audit', async () => {
    const files = filesConfig('to-etcd');
    await withStore(files, async (store) => {
      await seedFailover(store, 'app', 3);
      await seedFailover(store, 'db', 7);
    });
    const path = join(dir, 'to-etcd.json');
    expect((await runCommand('export', ['--out', path], files)).code).toBe(0);
    const fromFiles = JSON.parse(readFileSync(path, 'utf8')) as ExportedState;
    expect(fromFiles.source).toBe('file');

    const etcd = etcdConfig(cluster.endpoints);
    const report = await importFile(etcd, path);
    expect(report).toMatchObject({ into: 'etcd', targets: 2, epochsRaised: 2, activations: 2, incidents: 2, audit: 8 });
    expect(report.epochs).toEqual([
      { target: 'app', before: 0, imported: 3, after: 3, outcome: 'raised' },
      { target: 'db', before: 0, imported: 7, after: 7, outcome: 'raised' },
    ]);
    const inEtcd = await exported(etcd);
    expect(inEtcd.source).toBe('etcd');
    expect(contentOf(inEtcd)).toEqual(contentOf(fromFiles));
    await withStore(etcd, async (store) => {
      expect(await store.targetState('app')).toMatchObject({ active: 'secondary', epoch: 3 });
      expect((await store.auditOf('act_seed_db_7')).map((r) => r.event)).toEqual(['activation-created', 'step-started', 'step-finished', 'activation-finished']);
    });
  });

  it('etcd → files keeps them likewise', async () => {
    const etcd = etcdConfig(cluster.endpoints);
    await withStore(etcd, async (store) => {
      await seedFailover(store, 'app', 4);
      await seedFailover(store, 'db', 2);
    });
    const path = join(dir, 'to-files.json');
    expect((await runCommand('export', ['--out', path], etcd)).code).toBe(0);
    const files = filesConfig('from-etcd');
    const report = await importFile(files, path);
    expect(report).toMatchObject({ into: 'file', source: 'etcd', epochsRaised: 2, activations: 2, incidents: 2, audit: 8 });
    expect(contentOf(await exported(files))).toEqual(contentOf(JSON.parse(readFileSync(path, 'utf8')) as ExportedState));
  });

  it('an older export into etcd keeps its higher epoch, and says so', async () => {
    const files = filesConfig('older-into-etcd');
    await withStore(files, (store) => seedFailover(store, 'app', 1, 'act_first'));
    const path = join(dir, 'older-into-etcd.json');
    expect((await runCommand('export', ['--out', path], files)).code).toBe(0);
    const etcd = etcdConfig(cluster.endpoints);
    await withStore(etcd, (store) => seedFailover(store, 'app', 6, 'act_sixth'));
    const { code, out, err } = await runCommand('import', ['--in', path], etcd);
    expect(code).toBe(0);
    expect((JSON.parse(out) as ImportReport).epochs).toEqual([{ target: 'app', before: 6, imported: 1, after: 6, outcome: 'kept-higher' }]);
    expect(err).toMatch(/"target":"app","epoch":6,"imported":1,"msg":"kept the store's higher epoch and active side: an import never lowers an epoch"/);
    await withStore(etcd, async (store) => expect(await store.targetState('app')).toMatchObject({ active: 'secondary', epoch: 6, activationId: 'act_sixth' }));
  });

  it('a wrong-format file into etcd: exit 2, nothing written', async () => {
    const path = join(dir, 'etcd-bad.json');
    writeFileSync(path, JSON.stringify({ format: 'vigil-activation-state', version: 2, targets: {} }));
    const etcd = etcdConfig(cluster.endpoints);
    const { code, err } = await runCommand('import', ['--in', path], etcd);
    expect(code).toBe(2);
    expect(err).toMatch(/etcd-bad\.json: an export of format version 2; this version of vigil-activation reads version 1 \(\/version\)/);
    const after = await exported(etcd);
    expect(contentOf(after)).toEqual({ format: 'vigil-activation-state', version: 1, targets: {}, activations: [], incidents: [], audit: [] });
  });
});
