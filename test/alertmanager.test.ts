import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, createLogger, parseConfigValue } from '@vigil/core';
import { waitFor } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertingConfig, createAlerting, type Alert, type Alerting } from '../packages/alerting/src/index.js';
import { findBinary } from '../packages/core/src/test-support/components.js';
import { startAlertmanager, WebhookRecorder, type Component } from './support/components.js';

/**
 * Alerts sent through the alerting package reach two real Alertmanagers (not clustered, each sent
 * to directly); each one's webhook receiver gets the firing notification, and later the resolved one.
 */

const binary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');

// Short group timings so the test sees notifications within seconds.
const recorderConfig = (webhookUrl: string) => `route:
  receiver: recorder
  group_by: [alertname, monitor]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: recorder
    webhook_configs:
      - url: ${webhookUrl}
        send_resolved: true
`;

describe.skipIf(!binary)('real Alertmanager', () => {
  const recorder = new WebhookRecorder();
  const managers: Component[] = [];
  let dir = '';
  let alerting: Alerting | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-alertmanager-'));
    const webhookUrl = await recorder.start();
    managers.push(...(await Promise.all(['am0', 'am1'].map((name) => startAlertmanager(binary!, dir, name, recorderConfig(`${webhookUrl}/${name}`))))));
  });

  afterAll(async () => {
    await alerting?.close();
    await Promise.all(managers.map((m) => m.stop()));
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
