/**
 * The demo image's program (services/demo/dist/sample.js): one sample role per process, as each
 * vigil/demo container runs it. The image itself is built and run in test/images.test.ts and
 * test/compose-up.test.ts; these tests hold the roles to what the Compose demo relies on.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecret, signedHeaders } from '@vigil/core';
import { freePort, waitFor } from '@vigil/demo';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinary } from '../packages/core/src/test-support/components.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface Proc {
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function startProcess(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(...c.toString('utf8').split('\n').filter(Boolean)));
  child.stderr.on('data', (c: Buffer) => stderr.push(...c.toString('utf8').split('\n').filter(Boolean)));
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return { stdout, stderr, exited, kill: (signal) => child.kill(signal) };
}

/** Runs a command to its end; a command still running after `timeoutMs` is killed and reported. */
async function runToEnd(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> }, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  const proc = startProcess(argv, options);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited.finally(() => clearTimeout(timer));
  return { code, out: [...proc.stdout, ...proc.stderr].join('\n') };
}

describe('vigil/demo sample roles (services/demo/dist/sample.js)', () => {
  const sample = join(REPO, 'services/demo/dist/sample.js');
  const running: Proc[] = [];
  afterAll(() => running.forEach((p) => p.kill('SIGKILL')));

  async function startRole(env: Record<string, string>): Promise<Proc & { env: Record<string, string | undefined> }> {
    const fullEnv = { PATH: process.env.PATH, ...env };
    const proc = startProcess([process.execPath, sample], { env: fullEnv });
    running.push(proc);
    await waitFor(`the sample ${env.VIGIL_SAMPLE_ROLE} to listen`, () => {
      if (proc.stderr.length > 0) throw new Error(proc.stderr.join('\n'));
      return proc.stdout.some((l) => l.includes('listening'));
    });
    return { ...proc, env: fullEnv };
  }
  const healthcheck = (env: Record<string, string | undefined>) => runToEnd([process.execPath, sample, 'healthcheck'], { env }, 10_000);
  const post = (url: string, body = '', headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  async function stop(proc: Proc): Promise<{ event: string; msg: string }[]> {
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.stderr).toEqual([]);
    return proc.stdout.map((l) => JSON.parse(l) as { event: string; msg: string });
  }

  it('primary: the app follows the mode set on the control port, and the healthcheck asks the control port', async () => {
    const [port, controlPort] = [await freePort(), await freePort()];
    const primary = await startRole({ VIGIL_SAMPLE_ROLE: 'primary', PORT: String(port), CONTROL_PORT: String(controlPort) });
    const app = `http://127.0.0.1:${port}/health`;
    const control = `http://127.0.0.1:${controlPort}/primary`;
    expect((await fetch(app)).status).toBe(200);
    expect((await post(`${control}/erroring`)).status).toBe(200);
    const erroring = await fetch(app);
    expect([erroring.status, await erroring.json()]).toEqual([503, { status: 'fail', serviceId: 'sample-primary' }]);
    expect((await post(`${control}/stopped`)).status).toBe(200);
    await expect(fetch(app)).rejects.toThrow(); // refused: nothing listens
    expect(await (await fetch(control)).json()).toEqual({ primary: 'stopped' });
    // A primary stopped on purpose is still a healthy container.
    expect((await healthcheck(primary.env)).code).toBe(0);
    expect((await post(`${control}/sideways`)).status).toBe(404);
    expect((await post(`${control}/up`)).status).toBe(200);
    expect((await fetch(app)).status).toBe(200);
    const log = await stop(primary);
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['sample primary is now erroring', 'sample primary is now stopped', 'sample primary is now up', 'stopped']));
    expect((await healthcheck(primary.env)).code).toBe(1);
  });

  it('standby: POST /admin/enable makes it the serving side', async () => {
    const port = await freePort();
    const standby = await startRole({ VIGIL_SAMPLE_ROLE: 'standby', PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/`)).json()).toEqual({ side: 'secondary', enabled: false, enableCalls: 0 });
    expect((await healthcheck(standby.env)).code).toBe(0);
    expect((await post(`${base}/admin/enable`, '{"reason":"primary region failed"}')).status).toBe(200);
    expect(await (await fetch(`${base}/`)).json()).toEqual({ side: 'secondary', enabled: true, enableCalls: 1 });
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: 'pass', serviceId: 'sample-standby' });
    const log = await stop(standby);
    expect(log.map((l) => l.msg)).toContain('standby enabled: the secondary region now serves');
  });

  it('sink: records signed alerts and Alertmanager notifications, refuses bad signatures and bad payloads', async () => {
    const port = await freePort();
    const secret = generateSecret();
    const sink = await startRole({ VIGIL_SAMPLE_ROLE: 'sink', PORT: String(port), VIGIL_ALERT_SECRET: secret });
    const base = `http://127.0.0.1:${port}`;
    expect((await healthcheck(sink.env)).code).toBe(0);

    const alert = { id: 'a-1', dedupKey: 'primary', monitor: 'primary', severity: 'critical', status: 'firing', summary: 'primary is down', startsAt: new Date().toISOString(), labels: {}, annotations: {} };
    const body = JSON.stringify(alert);
    const headers = signedHeaders(secret, body);
    expect((await post(`${base}/alerts`, body, headers)).status).toBe(200);
    const forged = await post(`${base}/alerts`, body, signedHeaders(generateSecret(), body));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: 'bad-signature' });

    const notification = amNotification('firing');
    expect((await post(`${base}/alertmanager`, JSON.stringify(notification))).status).toBe(200);
    const wrongVersion = await post(`${base}/alertmanager`, JSON.stringify({ ...notification, version: '3' }));
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.json()).toMatchObject({ message: expect.stringContaining('version "4"') as string });
    expect((await post(`${base}/alertmanager`, 'not json')).status).toBe(400);

    expect(await (await fetch(`${base}/received`)).json()).toEqual({
      alerts: [{ id: headers['webhook-id'], status: 'firing', severity: 'critical', monitor: 'primary', summary: 'primary is down', dedupKey: 'primary' }],
      alertmanager: [notification],
    });
    const log = await stop(sink);
    expect(log.filter((l) => l.msg.startsWith('delivery refused')).length).toBe(3);
  });

  it('sink: receives what a real Alertmanager sends to /alertmanager', async (ctx) => {
    const binary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');
    if (!binary) return ctx.skip();
    const [port, amPort] = [await freePort(), await freePort()];
    const sink = await startRole({ VIGIL_SAMPLE_ROLE: 'sink', PORT: String(port), VIGIL_ALERT_SECRET: generateSecret() });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sample-am-'));
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route: { receiver: sink, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: sink
    webhook_configs: [{ url: "http://127.0.0.1:${port}/alertmanager", send_resolved: true }]
`,
    );
    const am = startProcess([binary, `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn']);
    running.push(am);
    try {
      const alerts = JSON.stringify([{ labels: { alertname: 'VigilMonitorDown', monitor: 'primary' }, annotations: { summary: 'primary is down' } }]);
      await waitFor('Alertmanager to take the alert', async () => (await post(`http://127.0.0.1:${amPort}/api/v2/alerts`, alerts)).ok);
      const received = await waitFor('the sink to receive the notification', async () => {
        const { alertmanager } = (await (await fetch(`http://127.0.0.1:${port}/received`)).json()) as { alertmanager: { version: string; status: string; receiver: string; alerts: { labels: Record<string, string> }[] }[] };
        return alertmanager[0];
      });
      expect(received).toMatchObject({ version: '4', status: 'firing', receiver: 'sink', alerts: [{ labels: { alertname: 'VigilMonitorDown', monitor: 'primary' } }] });
      await stop(sink);
    } finally {
      am.kill('SIGTERM');
      await am.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a bad environment, naming each variable', async () => {
    const run = (env: Record<string, string>) => runToEnd([process.execPath, sample], { env: { PATH: process.env.PATH, ...env } }, 10_000);
    const noRole = await run({});
    expect(noRole.code).toBe(2);
    expect(noRole.out).toContain('VIGIL_SAMPLE_ROLE="": must be one of primary, standby, sink');
    const bad = await run({ VIGIL_SAMPLE_ROLE: 'sink', PORT: 'eighty', VIGIL_ALERT_SECRET: 'hunter2' });
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('PORT="eighty": must be a port number from 1 to 65535');
    expect(bad.out).toContain('VIGIL_ALERT_SECRET: the sink needs the secret alerts are signed with (whsec_<base64>)');
    const unknown = await runToEnd([process.execPath, sample, 'helthcheck'], { env: { PATH: process.env.PATH, VIGIL_SAMPLE_ROLE: 'standby' } }, 10_000);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('unknown command "helthcheck"');
  });
});

/** An Alertmanager webhook notification (version 4), as Alertmanager 0.25 sends it. */
function amNotification(status: 'firing' | 'resolved') {
  const labels = { alertname: 'VigilMonitorDown', monitor: 'primary', severity: 'critical' };
  return {
    version: '4',
    groupKey: '{}:{alertname="VigilMonitorDown"}',
    truncatedAlerts: 0,
    status,
    receiver: 'vigil-sink',
    groupLabels: { alertname: 'VigilMonitorDown' },
    commonLabels: labels,
    commonAnnotations: { summary: 'primary is down' },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels,
        annotations: { summary: 'primary is down' },
        startsAt: '2026-11-22T10:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: 'c1a7b2e3d4f50617',
      },
    ],
  };
}
