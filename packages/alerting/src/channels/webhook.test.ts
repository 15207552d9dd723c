import { generateSecret, parseConfigValue, verify } from '@vigil/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runNotifierConformance, sampleAlert } from '../testkit/conformance.js';
import { TestReceiver } from '../testkit/receiver.js';
import { webhook, WebhookConfig } from './webhook.js';

const secret = generateSecret();

const makeWebhook = (url: string, timeoutMs = 5_000, headers?: Record<string, string>) =>
  webhook.create({ type: 'webhook', name: 'ops-hook', url, secret, timeout: timeoutMs, ...(headers && { headers }) });

runNotifierConformance('webhook', (url, { timeoutMs }) => makeWebhook(url, timeoutMs), {
  secrets: [secret, secret.slice('whsec_'.length)],
  deliveryId: (request) => request.headers['webhook-id'] as string | undefined,
});

describe('webhook', () => {
  const receiver = new TestReceiver();
  let url = '';
  beforeAll(async () => {
    url = `${await receiver.start()}/alerts`;
  });
  afterAll(() => receiver.stop());
  beforeEach(() => receiver.reset());

  it('POSTs the alert as JSON, signed with the configured secret', async () => {
    const alert = sampleAlert({ id: 'alert-signed-1' });
    expect(await makeWebhook(url).notify(alert, new AbortController().signal)).toEqual({ ok: true, status: 200 });

    const [request] = receiver.requests;
    expect(request?.path).toBe('/alerts');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual(alert);
    const verified = verify({ secrets: [secret], headers: request!.headers, body: request!.body });
    expect(verified).toMatchObject({ ok: true, id: 'alert-signed-1' });
    expect(verify({ secrets: [generateSecret()], headers: request!.headers, body: request!.body })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('keeps the id across attempts but signs each one afresh', async () => {
    const notifier = makeWebhook(url);
    const alert = sampleAlert();
    await notifier.notify(alert, new AbortController().signal);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the timestamp has one-second resolution
    await notifier.notify(alert, new AbortController().signal);

    const [first, second] = receiver.requests.map((r) => r.headers);
    expect(first?.['webhook-id']).toBe(alert.id);
    expect(second?.['webhook-id']).toBe(alert.id);
    expect(second?.['webhook-timestamp']).not.toBe(first?.['webhook-timestamp']);
    expect(second?.['webhook-signature']).not.toBe(first?.['webhook-signature']);
  });

  it('sends configured headers without letting them replace its own', async () => {
    const headers = { Authorization: 'Bearer hook-token', 'Content-Type': 'text/plain', 'webhook-id': 'forged' };
    await makeWebhook(url, 5_000, headers).notify(sampleAlert(), new AbortController().signal);

    const sent = receiver.requests[0]?.headers;
    expect(sent?.authorization).toBe('Bearer hook-token');
    expect(sent?.['content-type']).toBe('application/json');
    expect(sent?.['webhook-id']).toBe(sampleAlert().id);
  });
});

describe('WebhookConfig', () => {
  const base = { type: 'webhook', name: 'ops-hook', url: 'https://hooks.example.com/vigil', secret };

  it('defaults the timeout to 5s, in milliseconds', () => {
    expect(parseConfigValue(WebhookConfig, base, 'test').timeout).toBe(5_000);
    expect(parseConfigValue(WebhookConfig, { ...base, timeout: '750ms' }, 'test').timeout).toBe(750);
  });

  it.each([
    ['a secret without the whsec_ prefix', { secret: secret.slice('whsec_'.length) }, 'secret'],
    ['a secret shorter than 16 bytes', { secret: `whsec_${Buffer.alloc(8).toString('base64')}` }, 'secret'],
    ['a URL that is not http(s)', { url: 'ftp://hooks.example.com' }, 'url'],
    ['a header name that is not a token', { headers: { 'bad header': 'x' } }, 'headers'],
    ['a header value with a line break', { headers: { 'x-team': 'ops\r\nx-injected: 1' } }, 'headers'],
    ['an unknown key', { retries: 3 }, 'retries'],
  ])('rejects %s', (_, change, field) => {
    expect(() => parseConfigValue(WebhookConfig, { ...base, ...change }, 'test')).toThrow(field);
  });
});
