import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, createLogger, parseConfigValue } from '@vigil/core';
import { freePort, waitFor } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertingConfig, createAlerting, type Alert, type Alerting } from '../packages/alerting/src/index.js';
import { findBinary } from '../packages/core/src/test-support/components.js';

/**
 * Alerts sent through the alerting package reach two real Alertmanagers (not clustered, each sent
 * to directly); each one's webhook receiver gets the firing notification, and later the resolved one.
 */

const binary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');

/** One notification an Alertmanager's webhook receiver got (Alertmanager's webhook format, version 4). */
interface AmNotification {
  from: string;
  status: 'firing' | 'resolved';
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
}

class WebhookRecorder {
  readonly received: AmNotification[] = [];
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<AmNotification, 'from'>;
      this.received.push({ ...body, from: (req.url ?? '').slice(1) });
      res.writeHead(200).end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface RunningAlertmanager {
  url: string;
  process: ChildProcess;
  output: string[];
}

async function startAlertmanager(path: string, dir: string, name: string, webhookUrl: string): Promise<RunningAlertmanager> {
  const home = join(dir, name);
  mkdirSync(join(home, 'data'), { recursive: true });
  const config = join(home, 'alertmanager.yml');
  // Short group timings so the test sees notifications within seconds.
  writeFileSync(
    config,
    `route:
  receiver: recorder
  group_by: [alertname, monitor]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: recorder
    webhook_configs:
      - url: ${webhookUrl}/${name}
        send_resolved: true
`,
  );
  const port = await freePort();
  const child = spawn(
    path,
    [`--config.file=${config}`, `--storage.path=${join(home, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `Alertmanager ${name} to be ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`Alertmanager exited: ${output.join('')}`);
      return (await fetch(`${url}/-/ready`)).ok || undefined;
    },
    30_000,
    100,
  );
  return { url, process: child, output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

describe.skipIf(!binary)('real Alertmanager', () => {
  const recorder = new WebhookRecorder();
  const managers: RunningAlertmanager[] = [];
  let dir = '';
  let alerting: Alerting | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-alertmanager-'));
    const webhookUrl = await recorder.start();
    managers.push(...(await Promise.all(['am0', 'am1'].map((name) => startAlertmanager(binary!, dir, name, webhookUrl)))));
  });

  afterAll(async () => {
    await alerting?.close();
    await Promise.all(managers.map((m) => stop(m.process)));
    await recorder.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets the firing notification to every Alertmanager, re-sends it while firing, and later the resolution', async () => {
    const config = parseConfigValue(
      AlertingConfig,
      {
        receivers: [{ type: 'alertmanager', name: 'am', urls: managers.map((m) => m.url), resendInterval: '1s', generatorURL: 'http://127.0.0.1:8082/v1/monitors' }],
        routes: [{ monitors: ['primary'], receivers: ['am'] }],
      },
      'test',
    );
    const registry = createRegistry('test', '0.0.0');
    alerting = createAlerting({ config, dataDir: join(dir, 'outbox'), logger: createLogger({ service: 'test', level: 'warn' }), registry });

    const startsAt = new Date(Date.now() - 10_000).toISOString();
    const firing: Alert = {
      id: 'inc-am-1:firing',
      dedupKey: 'inc-am-1',
      monitor: 'primary',
      severity: 'critical',
      status: 'firing',
      summary: 'primary is down: 3 consecutive failed probes',
      startsAt,
      labels: { target: 'primary' },
      annotations: { summary: 'primary is down: 3 consecutive failed probes' },
    };
    await alerting.send(firing);

    const firingFrom = (name: string) =>
      recorder.received.find((n) => n.from === name && n.status === 'firing' && n.alerts.some((a) => a.labels.monitor === 'primary'));
    for (const name of ['am0', 'am1']) await waitFor(`the firing notification from ${name}`, () => firingFrom(name), 30_000);
    expect(firingFrom('am0')?.alerts[0]).toMatchObject({
      status: 'firing',
      labels: { alertname: 'VigilMonitorDown', monitor: 'primary', severity: 'critical', target: 'primary' },
      annotations: { summary: firing.summary, incident: 'inc-am-1' },
    });

    // Firing alerts are sent again (every second here), so Alertmanager keeps them active.
    await waitFor(
      'a re-sent firing alert',
      async () => {
        const metrics = await registry.metrics();
        return /vigil_notifications_total\{channel="alertmanager",receiver="am#1",outcome="delivered"\} ([2-9]|\d{2,})/.test(metrics) || undefined;
      },
      30_000,
    );

    await alerting.send({ ...firing, id: 'inc-am-1:resolved', status: 'resolved', endsAt: new Date().toISOString() });
    const resolvedFrom = (name: string) =>
      recorder.received.find((n) => n.from === name && n.status === 'resolved' && n.alerts.some((a) => a.labels.monitor === 'primary'));
    for (const name of ['am0', 'am1']) await waitFor(`the resolved notification from ${name}`, () => resolvedFrom(name), 30_000);
    expect(resolvedFrom('am1')?.alerts[0]).toMatchObject({ status: 'resolved', labels: { monitor: 'primary' } });
  });
});
