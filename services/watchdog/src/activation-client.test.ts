import { createLogger, generateSecret, verify, type ActivationRequest } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationClient, activationRequestId } from './activation-client.js';
import { closedPort, receiver, type LocalServer } from './test-support/servers.js';

const secret = generateSecret();
const logger = createLogger({ service: 'test', level: 'silent' });
const servers: LocalServer[] = [];
const clients: ActivationClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const body: ActivationRequest = {
  target: 'primary',
  voter: 'watchdog-1',
  incident: {
    id: 'primary-20261122T100000.000Z',
    monitor: 'primary',
    startedAt: '2026-11-22T10:00:00.000Z',
    consecutiveFailures: 3,
    evidence: [{ time: '2026-11-22T10:00:04.000Z', status: 'fail', durationMs: 3.2, output: 'HTTP 503 (expected 2xx)' }],
  },
};

async function setup(script: number[], fallback = 202, retries = 5) {
  const server = await receiver(script, fallback);
  servers.push(server);
  // Each signing reads the clock once; a second apart makes every attempt's timestamp distinct.
  let signings = 0;
  const client = new ActivationClient({
    url: server.url,
    timeoutMs: 2000,
    retries,
    voter: { id: 'watchdog-1', secret },
    logger,
    backoff: { baseMs: 10, maxMs: 50 },
    now: () => Date.now() + 1000 * signings++,
  });
  clients.push(client);
  return { server, client };
}

describe('ActivationClient', () => {
  it('POSTs the request to /v1/activations, signed with Standard Webhooks headers', async () => {
    const { server, client } = await setup([]);
    expect(await client.request(body)).toMatchObject({ outcome: 'accepted', attempts: 1, status: 202 });
    const [received] = server.requests;
    expect(received!.path).toBe('/v1/activations');
    expect(received!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(received!.body)).toEqual(body);
    expect(received!.headers['webhook-id']).toBe(activationRequestId(body.incident.id));
    expect(verify({ secrets: [secret], headers: received!.headers, body: received!.body })).toMatchObject({ ok: true });
  });

  it('retries 503 under the same webhook-id, re-signed each time, until accepted', async () => {
    const { server, client } = await setup([503, 503], 202);
    expect(await client.request(body)).toMatchObject({ outcome: 'accepted', attempts: 3 });
    expect(server.requests).toHaveLength(3);
    const ids = new Set(server.requests.map((r) => r.headers['webhook-id']));
    expect(ids).toEqual(new Set([`act-${body.incident.id}`]));
    for (const r of server.requests) expect(verify({ secrets: [secret], headers: r.headers, body: r.body, toleranceSeconds: 60 }).ok).toBe(true);
    expect(new Set(server.requests.map((r) => r.headers['webhook-timestamp'])).size).toBe(3);
    expect(new Set(server.requests.map((r) => r.headers['webhook-signature'])).size).toBe(3);
  });

  it('never signs two attempts in the same second, however short the backoff (it would read as a replay)', async () => {
    const server = await receiver([503, 503], 202);
    servers.push(server);
    const client = new ActivationClient({ url: server.url, timeoutMs: 2000, retries: 5, voter: { id: 'watchdog-1', secret }, logger, backoff: { baseMs: 10, maxMs: 10 } });
    clients.push(client);
    expect(await client.request(body)).toMatchObject({ outcome: 'accepted', attempts: 3 });
    expect(new Set(server.requests.map((r) => r.headers['webhook-signature'])).size).toBe(3);
    expect(new Set(server.requests.map((r) => r.headers['webhook-timestamp'])).size).toBe(3);
  });

  it.each([408, 429, 500, 502])('retries HTTP %i', async (status) => {
    const { server, client } = await setup([status], 200);
    expect(await client.request(body)).toMatchObject({ outcome: 'accepted', attempts: 2 });
    expect(server.requests).toHaveLength(2);
  });

  it('treats 409 as final: already active or already requested', async () => {
    const { server, client } = await setup([409]);
    expect(await client.request(body)).toMatchObject({ outcome: 'conflict', attempts: 1, status: 409 });
    expect(server.requests).toHaveLength(1);
  });

  it.each([400, 401, 403, 404, 422])('treats HTTP %i as final', async (status) => {
    const { server, client } = await setup([status]);
    expect(await client.request(body)).toMatchObject({ outcome: 'rejected', attempts: 1, status });
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after the configured retries', async () => {
    const { server, client } = await setup([], 503, 2);
    expect(await client.request(body)).toMatchObject({ outcome: 'failed', attempts: 3, status: 503 });
    expect(server.requests).toHaveLength(3);
  });

  it('retries network errors and says why it failed', async () => {
    const port = await closedPort();
    const client = new ActivationClient({
      url: `http://127.0.0.1:${port}`,
      timeoutMs: 1000,
      retries: 1,
      voter: { id: 'w', secret },
      logger,
      backoff: { baseMs: 10, maxMs: 10 },
    });
    clients.push(client);
    const result = await client.request(body);
    expect(result).toMatchObject({ outcome: 'failed', attempts: 2 });
    expect(result.error).toContain('ECONNREFUSED');
  });

  it('stops retrying when closed', async () => {
    const server = await receiver([], 503);
    servers.push(server);
    const client = new ActivationClient({ url: server.url, timeoutMs: 1000, retries: 5, voter: { id: 'w', secret }, logger, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const pending = client.request(body);
    await expect.poll(() => server.requests.length).toBe(1);
    client.close();
    expect(await pending).toMatchObject({ outcome: 'cancelled', attempts: 1 });
  });
});
