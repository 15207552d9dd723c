/**
 * The operator commands of vigil-activation as an operator runs them: the built service's entry
 * point as a process, against a real 3-member etcd cluster and a file store. Export and import
 * move the whole state both ways with data alone on stdout; a bad file exits 2 and writes
 * nothing; break-glass runs a plan while etcd cannot be reached, stops on signals, and leaves a
 * record that says so.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '@vigil/core';
import { serviceMain, waitFor } from '@vigil/demo';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../packages/coordination/src/test-support/etcd-cluster.js';
import type { ExportedState } from '../services/activation/src/coordination/coordination.js';
import { closedPort, config as decoded, fakeEndpoint } from '../services/activation/src/test-support/fixtures.js';
import { contentOf, seedFailover, withStore } from '../services/activation/src/test-support/state.js';

const etcdBinary = findEtcd();
const cleanup: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-commands-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
});

interface Run {
  code: Promise<number | null>;
  out(): string;
  err(): string;
  signal(signal: NodeJS.Signals): void;
}

/** Starts `vigil-activation <args>` from the built dist. */
function activation(args: string[]): Run {
  const child = spawn(process.execPath, [serviceMain('activation'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
  cleanup.push(() => void child.kill('SIGKILL'));
  return { code, out: () => out, err: () => err, signal: (signal) => child.kill(signal) };
}

async function finished(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const run = activation(args);
  const code = await run.code;
  return { code, out: run.out(), err: run.err() };
}

/** Writes a configuration file; `coordination` is YAML flow text. */
function configFile(name: string, coordination: string, targets = '[{ name: app, plan: [{ name: enable-standby, kind: http, url: "http://127.0.0.1:9/enable" }] }]'): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `server: { host: 127.0.0.1, port: 9 }\ndataDir: ${join(dir, name)}\ncoordination: ${coordination}\ntargets: ${targets}\n`);
  return path;
}

describe('vigil-activation commands as processes', () => {
  it('help lists every command with its syntax; an unknown command names them all', async () => {
    const help = await finished(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: vigil-activation \[command\] \[options\]\n/);
    for (const command of ['run', 'check-config', 'healthcheck', 'export', 'import', 'break-glass']) expect(help.out).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(help.out).toContain('3 refused');
    const unknown = await finished(['exprot']);
    expect(unknown).toMatchObject({ code: 2, out: '', err: 'vigil-activation: unknown command "exprot"; use one of: run, check-config, healthcheck, export, import, break-glass (then --config <file>)\n' });
  });
});

describe.skipIf(!etcdBinary)('export and import as processes, files ↔ etcd', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster(etcdBinary!);
    cleanup.push(() => cluster.stop());
  });
  const etcd = (prefix: string) => `{ kind: etcd, endpoints: [${cluster.endpoints.join(', ')}], prefix: ${prefix}, ttl: 2s, margin: 500ms, requestTimeout: 1s }`;

  it('files → etcd → files keeps everything; data alone on stdout; a bad file exits 2 and writes nothing', async () => {
    const files = configFile('source', '{ kind: file }');
    await withStore(decoded({ dataDir: join(dir, 'source') }), async (store) => {
      await seedFailover(store, 'app', 3);
      await seedFailover(store, 'db', 8);
    });
    const fromFiles = await finished(['export', '--config', files, '--out', '-']);
    expect(fromFiles.code, fromFiles.err).toBe(0);
    const original = JSON.parse(fromFiles.out) as ExportedState;
    expect(Object.keys(original.targets)).toEqual(['app', 'db']);
    expect(fromFiles.err).toMatch(/"msg":"exported the activation state"/);
    const backup = join(dir, 'backup.json');
    writeFileSync(backup, fromFiles.out);

    const intoEtcd = configFile('etcd', etcd('/commands'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...original, targets: { app: { active: 'secondary', epoch: 'three' } } }));
    const refused = await finished(['import', '--config', intoEtcd, '--in', bad]);
    expect(refused.code).toBe(2);
    expect(refused.err).toBe(`vigil-activation import: ${bad}: targets.app: /epoch must be integer\n`);
    const empty = await finished(['export', '--config', intoEtcd, '--out', '-']);
    expect(contentOf(JSON.parse(empty.out) as ExportedState)).toEqual({ format: 'vigil-activation-state', version: 1, targets: {}, activations: [], incidents: [], audit: [] });

    const imported = await finished(['import', '--config', intoEtcd, '--in', backup]);
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ into: 'etcd', epochsRaised: 2, activations: 2, incidents: 2, audit: 8 });
    const fromEtcd = join(dir, 'from-etcd.json');
    expect((await finished(['export', '--config', intoEtcd, '--out', fromEtcd])).code).toBe(0);
    const inEtcd = JSON.parse(readFileSync(fromEtcd, 'utf8')) as ExportedState;
    expect(contentOf(inEtcd)).toEqual(contentOf(original));

    const back = configFile('back', '{ kind: file }');
    expect((await finished(['import', '--config', back, '--in', fromEtcd])).code).toBe(0);
    const roundTrip = await finished(['export', '--config', back, '--out', '-']);
    expect(contentOf(JSON.parse(roundTrip.out) as ExportedState)).toEqual(contentOf(original));
  });
});

describe('break-glass as a process while etcd cannot be reached', () => {
  it('runs the plan under the given epoch; a signal stops it, a second abandons the step; the record says interrupted', async () => {
    let released = false;
    const standby = await fakeEndpoint((_n, req, res) => {
      if (req.url === '/hold' && !released) return;
      res.end('ok');
    });
    cleanup.push(() => standby.close());
    cleanup.push(() => {
      released = true;
    });
    const down = await closedPort();
    const cfg = configFile(
      'break-glass',
      `{ kind: etcd, endpoints: ["http://127.0.0.1:${down}"], prefix: /bg, ttl: 2s, margin: 500ms, requestTimeout: 1s }`,
      `[{ name: app, plan: [{ name: fence-primary, kind: fence, url: "${standby.url}/fence" }, { name: held, kind: http, url: "${standby.url}/hold", timeout: 2m }, { name: never, kind: http, url: "${standby.url}/never" }] }]`,
    );
    const record = join(dir, 'interrupted.json');
    const run = activation(['break-glass', '--config', cfg, '--target', 'app', '--epoch', '12', '--reason', 'region and etcd down', '--operator', 'bob', '--out', record]);
    await waitFor('the held step to start', () => run.out().includes('"event":"step-started","step":{"name":"held"'), 20_000);
    expect(standby.calls.map((c) => `${c.url} ${String(c.headers['x-vigil-fencing-epoch'] ?? '-')}`)).toContain('/fence 12');
    run.signal('SIGTERM');
    await waitFor('the first signal to be heard', () => run.err().includes('no further step starts'), 10_000);
    run.signal('SIGTERM');
    expect(await run.code).toBe(1);
    const events = run.out().trim().split('\n').map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toEqual(['break-glass', 'step-started', 'step-finished', 'step-started', 'step-finished', 'activation-finished']);
    const saved = JSON.parse(readFileSync(record, 'utf8')) as ExportedState;
    const activationRecord = saved.activations[0] as Activation;
    expect(activationRecord).toMatchObject({ status: 'interrupted', epoch: 12, reason: 'stopped by a signal' });
    expect(activationRecord.steps.map((s) => `${s.name} ${s.status}`)).toEqual(['fence-primary succeeded', 'held failed']);
    // Interrupted holds the target for an operator; the epoch moves on when it is imported.
    expect(saved.targets).toEqual({ app: { active: 'primary', epoch: 12, activationId: activationRecord.id } });
    expect(standby.calls.map((c) => c.url)).not.toContain('/never');
  });
});
