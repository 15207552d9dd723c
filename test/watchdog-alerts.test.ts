import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecret } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../packages/core/src/test-support/components.js';

/**
 * The watchdog's alerts through its durable outbox: killed with SIGKILL while the receivers
 * fail, restarted, it delivers every pending notification once; and its alert reaches a real
 * Alertmanager, whose own webhook receiver gets the firing and later the resolved notification.
 */

const TRIALS = 3;
const MONITORS = ['primary', 'db', 'cache'];
const RECEIVERS = ['hook-a', 'hook-b'];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The monitored target: healthy or not, as the test says. */
function target() {
  const state = { healthy: false };
  const server = createServer((_req, res) => res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'application/json' }).end('{"status":"pass"}'));
  return { state, server };
}

/** Alert receivers: 503 while failing, 200 otherwise; every request recorded by path and webhook-id. */
function receivers() {
  const state = { failing: true };
  const seen: { receiver: string; id: string; status: number; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = state.failing ? 503 : 200;
      seen.push({ receiver: (req.url ?? '').slice(1), id: String(req.headers['webhook-id']), status, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end();
    });
  });
  return { state, seen, server, delivered: () => seen.filter((s) => s.status === 200) };
}

function watchdogYaml(port: number, dataDir: string, targetUrl: string, alerts: string): string {
  return `server: { host: 127.0.0.1, port: ${port} }
dataDir: ${dataDir}
alerts:
${alerts}
  delivery: { initialBackoff: 50ms, maxBackoff: 300ms, maxAttempts: 1000 }
monitors:
${MONITORS.map((name) => `  - { name: ${name}, url: "${targetUrl}/health", interval: 300ms, timeout: 200ms, failureThreshold: 1, successThreshold: 1 }`).join('\n')}
`;
}

describe('watchdog alerts across SIGKILL', () => {
  const { state: targetState, server: targetServer } = target();
  const sink = receivers();
  let targetUrl = '';
  let sinkUrl = '';
  let dir = '';
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    [targetUrl, sinkUrl] = await Promise.all([listen(targetServer), listen(sink.server)]);
    dir = mkdtempSync(join(tmpdir(), 'vigil-watchdog-alerts-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop('SIGKILL')));
    await Promise.all([close(targetServer), close(sink.server)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`delivers every pending alert once after a restart, over ${TRIALS} trials`, async () => {
    const secret = generateSecret();
    for (let trial = 1; trial <= TRIALS; trial++) {
      targetState.healthy = false;
      sink.state.failing = true;
      sink.seen.length = 0;
      const dataDir = join(dir, `trial-${trial}`);
      const config = join(dir, `watchdog-${trial}.yaml`);
      const webhooks = `  webhooks:\n${RECEIVERS.map((r) => `    - { name: ${r}, url: "${sinkUrl}/${r}", secret: "${secret}", timeout: 2s }`).join('\n')}`;
      writeFileSync(config, watchdogYaml(await freePort(), dataDir, targetUrl, webhooks));

      const first = startService('watchdog', config);
      running.push(first);
      const expected = MONITORS.length * RECEIVERS.length;
      await waitFor(`trial ${trial}: a failed attempt per notification`, () => new Set(sink.seen.map((s) => `${s.receiver}/${s.id}`)).size === expected || undefined, 30_000);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 300)));
      await first.stop('SIGKILL');
      expect(sink.delivered()).toEqual([]);

      sink.state.failing = false;
      const second = startService('watchdog', config);
      running.push(second);
      await waitFor(`trial ${trial}: every notification delivered`, () => new Set(sink.delivered().map((s) => `${s.receiver}/${s.id}`)).size === expected || undefined, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const delivered = sink.delivered().map((s) => `${s.receiver}/${s.id}`);
      expect(delivered.length, `trial ${trial}: no notification twice: ${delivered.join(', ')}`).toBe(expected);
      expect(new Set(sink.delivered().map((s) => (JSON.parse(s.body) as { monitor: string }).monitor))).toEqual(new Set(MONITORS));
      await second.stop('SIGTERM');
    }
  });
});

const alertmanagerBinary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');

describe.skipIf(!alertmanagerBinary)("the watchdog's alert in a real Alertmanager", () => {
  const { state: targetState, server: targetServer } = target();
  const notifications: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];
  const recorder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof notifications)[number]);
      res.writeHead(200).end();
    });
  });
  let dir = '';
  let alertmanager: ChildProcess | undefined;
  let watchdog: ServiceProcess | undefined;

  afterAll(async () => {
    await watchdog?.stop('SIGTERM');
    if (alertmanager && alertmanager.exitCode === null) {
      const exited = once(alertmanager, 'exit');
      alertmanager.kill('SIGTERM');
      await exited;
    }
    await Promise.all([close(targetServer), close(recorder)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets the firing notification, and later the resolved one', async () => {
    const [targetUrl, recorderUrl] = await Promise.all([listen(targetServer), listen(recorder)]);
    dir = mkdtempSync(join(tmpdir(), 'vigil-watchdog-am-'));
    mkdirSync(join(dir, 'am'));
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route: { receiver: recorder, group_by: [alertname, monitor], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: recorder
    webhook_configs: [{ url: "${recorderUrl}/am", send_resolved: true }]
`,
    );
    const amPort = await freePort();
    alertmanager = spawn(
      alertmanagerBinary!,
      [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn'],
      { stdio: 'ignore' },
    );
    const amUrl = `http://127.0.0.1:${amPort}`;
    await waitFor('Alertmanager to be ready', async () => (await fetch(`${amUrl}/-/ready`)).ok || undefined, 30_000, 100);

    const config = join(dir, 'watchdog.yaml');
    const alerts = `  receivers:\n    - { type: alertmanager, name: am, urls: ["${amUrl}"], resendInterval: 1s }`;
    writeFileSync(config, watchdogYaml(await freePort(), join(dir, 'watchdog'), targetUrl, alerts));
    targetState.healthy = false;
    watchdog = startService('watchdog', config);

    const firing = () => notifications.find((n) => n.status === 'firing' && n.alerts.some((a) => a.labels.monitor === 'primary'));
    await waitFor('the firing notification from Alertmanager', firing, 30_000);
    expect(firing()?.alerts[0]?.labels).toMatchObject({ alertname: 'VigilMonitorDown', monitor: 'primary', severity: 'critical' });

    targetState.healthy = true;
    await waitFor(
      'the resolved notification from Alertmanager',
      () => notifications.find((n) => n.status === 'resolved' && n.alerts.some((a) => a.labels.monitor === 'primary')),
      30_000,
    );
  });
});
