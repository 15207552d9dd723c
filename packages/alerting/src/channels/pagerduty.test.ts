import { parseConfigValue } from '@vigil/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runNotifierConformance, sampleAlert } from '../testkit/conformance.js';
import { TestReceiver } from '../testkit/receiver.js';
import { PAGERDUTY_EVENTS_URL, pagerduty, PagerDutyConfig, pagerDutyEvent } from './pagerduty.js';

const routingKey = 'R0UT1NGKEYa1b2c3d4e5f6a7b8c9d0e1f';

const makePagerDuty = (url: string, timeoutMs = 5_000, extra: Partial<PagerDutyConfig> = {}) =>
  pagerduty.create({ type: 'pagerduty', name: 'pager', routingKey, url, timeout: timeoutMs, ...extra });

runNotifierConformance('pagerduty', (url, { timeoutMs }) => makePagerDuty(url, timeoutMs), {
  secrets: [routingKey],
  deliveryId: (request) => (JSON.parse(request.body) as { dedup_key?: string }).dedup_key,
});

describe('pagerduty', () => {
  const receiver = new TestReceiver();
  let url = '';
  beforeAll(async () => {
    url = `${await receiver.start()}/v2/enqueue`;
  });
  afterAll(() => receiver.stop());
  beforeEach(() => receiver.reset({ status: 202, body: '{"status":"success","message":"Event processed"}' }));

  it('triggers an event with the incident as dedup_key, and 202 is success', async () => {
    const alert = sampleAlert();
    expect(await makePagerDuty(url).notify(alert, new AbortController().signal)).toEqual({ ok: true, status: 202 });
    const [request] = receiver.requests;
    expect(request?.path).toBe('/v2/enqueue');
    expect(JSON.parse(request!.body)).toEqual({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: 'primary-eu/health',
      client: 'Vigil',
      payload: {
        summary: alert.summary,
        source: 'primary-eu',
        severity: 'critical',
        timestamp: '2026-11-22T10:00:00.000Z',
        component: 'primary-eu',
        group: 'primary-eu',
        class: 'availability',
        custom_details: { monitor: 'primary-eu', severity: 'critical', startsAt: alert.startsAt, labels: alert.labels, annotations: alert.annotations },
      },
      links: [{ href: 'https://runbooks.example.com/failover', text: 'runbook' }],
    });
  });

  it('resolves with the same dedup_key', async () => {
    await makePagerDuty(url).notify(sampleAlert({ status: 'resolved', id: 'other', endsAt: '2026-11-22T10:05:00Z' }), new AbortController().signal);
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual({ routing_key: routingKey, event_action: 'resolve', dedup_key: 'primary-eu/health' });
  });

  it.each([
    ['critical', undefined, 'critical'],
    ['warning', undefined, 'warning'],
    ['info', undefined, 'info'],
    ['critical', { critical: 'error' as const }, 'error'],
  ] as const)('maps severity %s (map %j) to %s', (severity, severities, expected) => {
    const event = pagerDutyEvent(sampleAlert({ severity }), { routingKey, ...(severities && { severities }) });
    expect((event.payload as { severity: string }).severity).toBe(expected);
  });

  it('keeps summary and dedup_key within the API limits', () => {
    const event = pagerDutyEvent(sampleAlert({ summary: 's'.repeat(2_000), dedupKey: 'd'.repeat(300) }), { routingKey });
    expect((event.payload as { summary: string }).summary).toHaveLength(1_024);
    expect(event.dedup_key).toHaveLength(255);
  });
});

describe('PagerDutyConfig', () => {
  it('defaults to the public Events API v2 endpoint', () => {
    const config = parseConfigValue(PagerDutyConfig, { type: 'pagerduty', name: 'pager', routingKey }, 'test');
    expect(config).toMatchObject({ url: PAGERDUTY_EVENTS_URL, timeout: 10_000 });
  });

  it('rejects an unknown severity without echoing the routing key', () => {
    let message = '';
    try {
      parseConfigValue(PagerDutyConfig, { type: 'pagerduty', name: 'pager', routingKey: `${routingKey} x`, severities: { critical: 'fatal' } }, 'test');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('severities.critical');
    expect(message).toContain('routingKey');
    expect(message).not.toContain(routingKey);
  });
});
