import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecret, parseConfigValue } from '@vigil/core';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAlerting, type Alerting } from './alerting.js';
import { AlertingConfig } from './routing.js';
import { sampleAlert } from './testkit/conformance.js';
import { capturedLogger } from './testkit/logger.js';
import { TestReceiver } from './testkit/receiver.js';

describe('createAlerting', () => {
  const hook = new TestReceiver();
  const am0 = new TestReceiver();
  const am1 = new TestReceiver();
  const urls = { hook: '', am0: '', am1: '' };
  let dataDir = '';
  const running: Alerting[] = [];

  beforeAll(async () => {
    [urls.hook, urls.am0, urls.am1] = await Promise.all([hook.start(), am0.start(), am1.start()]);
  });
  afterAll(() => Promise.all([hook.stop(), am0.stop(), am1.stop()]));
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vigil-alerting-'));
    for (const r of [hook, am0, am1]) r.reset();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  function start(routes: unknown[] = [], registry = new Registry()) {
    const config = parseConfigValue(
      AlertingConfig,
      {
        receivers: [
          { type: 'webhook', name: 'hook', url: `${urls.hook}/alerts`, secret: generateSecret() },
          { type: 'alertmanager', name: 'am', urls: [urls.am0, urls.am1] },
        ],
        routes,
        delivery: { initialBackoff: '20ms', maxBackoff: '100ms' },
      },
      'test',
    );
    const { logger, lines } = capturedLogger();
    const alerting = createAlerting({ config, dataDir, logger, registry, closeTimeoutMs: 100 });
    running.push(alerting);
    return { alerting, lines, registry };
  }

  it('sends an alert to every routed receiver, and to every Alertmanager', async () => {
    const { alerting, registry } = start([{ severities: ['critical'], receivers: ['hook', 'am'] }]);
    await alerting.send(sampleAlert());
    await vi.waitFor(() => expect(alerting.depth).toBe(0));
    expect([hook.requests.length, am0.requests.length, am1.requests.length]).toEqual([1, 1, 1]);
    expect(hook.requests[0]?.headers['webhook-id']).toBe(sampleAlert().id);
    expect(am0.requests[0]?.path).toBe('/api/v2/alerts');

    await alerting.send(sampleAlert({ id: 'warn-1', severity: 'warning' }));
    expect(alerting.depth).toBe(0);
    const delivered = (await registry.getSingleMetric('vigil_notifications_total')!.get()).values.filter((v) => v.labels.outcome === 'delivered');
    expect(Object.fromEntries(delivered.map((v) => [v.labels.receiver, v.value]))).toEqual({ hook: 1, 'am#1': 1, 'am#2': 1 });
  });

  it('retries one Alertmanager without repeating the others', async () => {
    am1.reset({ status: 503 }, { status: 503 });
    const { alerting } = start();
    await alerting.send(sampleAlert());
    await vi.waitFor(() => expect(alerting.depth).toBe(0));
    expect([hook.requests.length, am0.requests.length, am1.requests.length]).toEqual([1, 1, 3]);
  });

  it('delivers after a restart what a failing receiver had not taken', async () => {
    hook.reset(...Array.from({ length: 1000 }, () => ({ status: 503 })));
    const first = start([{ receivers: ['hook'] }]);
    await first.alerting.send(sampleAlert({ id: 'restart-1' }));
    await vi.waitFor(() => expect(hook.requests.length).toBeGreaterThanOrEqual(2));
    await first.alerting.close();

    hook.reset();
    const second = start([{ receivers: ['hook'] }]);
    await vi.waitFor(() => expect(second.alerting.depth).toBe(0), { timeout: 5_000 });
    expect(hook.requests.map((r) => r.headers['webhook-id'])).toEqual(['restart-1']);
  });
});
