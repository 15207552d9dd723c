import { parseConfigValue } from '@vigil/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotifiers } from '../registry.js';
import { runNotifierConformance, sampleAlert } from '../testkit/conformance.js';
import { TestReceiver } from '../testkit/receiver.js';
import { alertmanager, AlertmanagerConfig, alertmanagerAlerts, alertsEndpoint } from './alertmanager.js';

const base = { type: 'alertmanager' as const, name: 'am', timeout: 5_000, resendInterval: 60_000, alertname: 'VigilMonitorDown' };
const makeAlertmanager = (url: string, timeoutMs = 5_000) => alertmanager.create({ ...base, urls: [url], timeout: timeoutMs });

// Alertmanager identifies an alert by its labels: retries must be the same body.
runNotifierConformance('alertmanager', (url, { timeoutMs }) => makeAlertmanager(url, timeoutMs));

describe('alertmanager', () => {
  const receiver = new TestReceiver();
  let url = '';
  beforeAll(async () => {
    url = await receiver.start();
  });
  afterAll(() => receiver.stop());
  beforeEach(() => receiver.reset());

  it('POSTs /api/v2/alerts with labels, annotations and startsAt, and no endsAt while firing', async () => {
    const notifier = alertmanager.create({ ...base, urls: [`${url}/am/`], generatorURL: 'http://watchdog.example:8082/v1/monitors' });
    expect(notifier.resendIntervalMs).toBe(60_000);
    expect(await notifier.notify(sampleAlert({ labels: { region: 'eu-west-1', 'k8s.io/zone': 'a' } }), new AbortController().signal)).toEqual({ ok: true, status: 200 });
    const [request] = receiver.requests;
    expect(request?.path).toBe('/am/api/v2/alerts');
    expect(JSON.parse(request!.body)).toEqual([
      {
        labels: { alertname: 'VigilMonitorDown', region: 'eu-west-1', k8s_io_zone: 'a', monitor: 'primary-eu', severity: 'critical' },
        annotations: { summary: sampleAlert().summary, runbook: 'https://runbooks.example.com/failover', incident: 'primary-eu/health' },
        startsAt: '2026-11-22T10:00:00.000Z',
        generatorURL: 'http://watchdog.example:8082/v1/monitors',
      },
    ]);
  });

  it('sends a resolution with endsAt and the same labels', () => {
    const firing = alertmanagerAlerts(sampleAlert(), base)[0]!;
    const resolved = alertmanagerAlerts(sampleAlert({ id: 'x', status: 'resolved', endsAt: '2026-11-22T10:07:00.000Z' }), base)[0]!;
    expect(resolved.labels).toEqual(firing.labels);
    expect(resolved.endsAt).toBe('2026-11-22T10:07:00.000Z');
  });

  it('keeps an alertname label set by the alert', () => {
    expect(alertmanagerAlerts(sampleAlert({ labels: { alertname: 'PrimaryDown' } }), base)[0]!.labels).toMatchObject({ alertname: 'PrimaryDown' });
  });

  it('makes every configured Alertmanager its own destination', () => {
    const notifiers = createNotifiers({ ...base, urls: ['http://am-0:9093', 'http://am-1:9093'] });
    expect(notifiers.map((n) => n.name)).toEqual(['am#1', 'am#2']);
    expect(createNotifiers({ ...base, urls: ['http://am-0:9093'] }).map((n) => n.name)).toEqual(['am']);
  });

  it('appends the API path and keeps a query', () => {
    expect(alertsEndpoint('http://am:9093')).toBe('http://am:9093/api/v2/alerts');
    expect(alertsEndpoint('http://proxy/am/?token=t')).toBe('http://proxy/am/api/v2/alerts?token=t');
  });
});

describe('AlertmanagerConfig', () => {
  it('needs at least one URL and defaults the resend interval inside resolve_timeout', () => {
    const config = parseConfigValue(AlertmanagerConfig, { type: 'alertmanager', name: 'am', urls: ['http://127.0.0.1:9093'] }, 'test');
    expect(config).toMatchObject({ resendInterval: 60_000, timeout: 10_000, alertname: 'VigilMonitorDown' });
    expect(() => parseConfigValue(AlertmanagerConfig, { type: 'alertmanager', name: 'am', urls: [] }, 'test')).toThrow('urls');
  });
});
