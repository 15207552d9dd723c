import { parseConfigValue } from '@vigil/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNotifierConformance, sampleAlert } from '../testkit/conformance.js';
import { TestReceiver } from '../testkit/receiver.js';
import { slack, SlackConfig, slackMessage } from './slack.js';

const makeSlack = (url: string, timeoutMs = 5_000) => slack.create({ type: 'slack', name: 'ops-chat', url, timeout: timeoutMs });

// Slack has no delivery id: a retry must be the very same message.
runNotifierConformance('slack', (url, { timeoutMs }) => makeSlack(url, timeoutMs));

describe('slack', () => {
  const receiver = new TestReceiver();
  let url = '';
  beforeAll(async () => {
    url = await receiver.start();
  });
  afterAll(() => receiver.stop());

  it('POSTs an incoming-webhook message with severity, summary, monitor, time and links', async () => {
    receiver.reset();
    const alert = sampleAlert();
    expect(await makeSlack(`${url}/services/T000/B000/XXXX`).notify(alert, new AbortController().signal)).toEqual({ ok: true, status: 200 });
    const [request] = receiver.requests;
    expect(request?.path).toBe('/services/T000/B000/XXXX');
    const message = JSON.parse(request!.body) as { text: string; blocks: unknown[] };
    expect(message.text).toBe(':rotating_light: FIRING [critical] primary-eu: primary-eu health check failed 3 times in a row');
    const text = JSON.stringify(message.blocks);
    for (const part of ['*Monitor*\\nprimary-eu', '*Severity*\\ncritical', '*Status*\\nfiring', 'since 2026-11-22T10:00:00.000Z', '<https://runbooks.example.com/failover|runbook>']) {
      expect(text).toContain(part);
    }
  });

  it('shows a resolution with its time span, and escapes Slack control characters', () => {
    const message = slackMessage(sampleAlert({ status: 'resolved', endsAt: '2026-11-22T10:05:00.000Z', summary: 'a <b> & c', annotations: {} }));
    expect(message.text).toBe(':white_check_mark: RESOLVED [critical] primary-eu: a <b> & c');
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('a &lt;b&gt; &amp; c');
    expect(text).toContain('2026-11-22T10:00:00.000Z – 2026-11-22T10:05:00.000Z');
    expect(text).not.toContain('context');
  });

  it('keeps the section text within Slack limits', () => {
    const message = slackMessage(sampleAlert({ summary: 'x'.repeat(10_000) }));
    const [section] = message.blocks as { text: { text: string } }[];
    expect(section!.text.text.length).toBeLessThanOrEqual(3_000);
  });
});

describe('SlackConfig', () => {
  it('defaults the timeout and never echoes the URL in errors', () => {
    expect(parseConfigValue(SlackConfig, { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T0/B0/abc' }, 'test').timeout).toBe(5_000);
    expect(() => parseConfigValue(SlackConfig, { type: 'slack', name: 'chat', url: 'hooks.slack.com/services/T0/B0/abc' }, 'test')).toThrow('url');
  });
});
