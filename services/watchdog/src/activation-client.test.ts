import { Writable } from 'node:stream';
import { createLogger, generateSecret, verify, type ActivationRequest } from '@vigil/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActivationClient, activationRequestId, combinedOutcome, type ActivationOutcome } from './activation-client.js';
import { closedPort, receiver, type Answer, type LocalServer, type Received } from './test-support/servers.js';

const secret = generateSecret();
const logger = createLogger({ service: 'test', level: 'silent' });
const servers: LocalServer[] = [];
const clients: ActivationClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
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
    urls: [server.url],
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
    const client = new ActivationClient({ urls: [server.url], timeoutMs: 2000, retries: 5, voter: { id: 'watchdog-1', secret }, logger, backoff: { baseMs: 10, maxMs: 10 } });
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
      urls: [`http://127.0.0.1:${port}`],
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
    const client = new ActivationClient({ urls: [server.url], timeoutMs: 1000, retries: 5, voter: { id: 'w', secret }, logger, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const pending = client.request(body);
    await expect.poll(() => server.requests.length).toBe(1);
    const closed = client.close();
    expect(await pending).toMatchObject({ outcome: 'cancelled', attempts: 1 });
    await closed;
  });
});

describe('combinedOutcome', () => {
  it.each<[(ActivationOutcome | 'pending')[], ActivationOutcome]>([
    [['accepted'], 'accepted'],
    [['failed', 'pending', 'accepted'], 'accepted'],
    [['rejected', 'conflict', 'accepted'], 'accepted'],
    [['conflict', 'failed'], 'conflict'],
    [['conflict', 'rejected'], 'conflict'],
    [['rejected', 'rejected'], 'rejected'],
    [['rejected', 'failed'], 'failed'],
    [['failed', 'failed'], 'failed'],
    [['cancelled', 'rejected'], 'cancelled'],
    [['conflict', 'cancelled'], 'conflict'],
  ])('%j → %s', (outcomes, expected) => expect(combinedOutcome(outcomes)).toBe(expected));
});

describe('ActivationClient with several replicas', () => {
  /** `down`: a closed port (refused at once); a list: a replica answering it in order, then 202. */
  type ReplicaSpec = 'down' | Answer[];

  const retryAfter = (seconds: number): Answer => ({ status: 503, headers: { 'retry-after': String(seconds) } });

  async function replicas(specs: ReplicaSpec[]) {
    return Promise.all(
      specs.map(async (spec) => {
        if (spec === 'down') return { url: `http://127.0.0.1:${await closedPort()}`, requests: [] as Received[] };
        const server = await receiver(spec, 202);
        servers.push(server);
        return server;
      }),
    );
  }

  /** A client over `urls` that collects its log lines and each replica's final outcome. */
  function fanOut(urls: string[], retries = 2) {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const ended = new Map<string, ActivationOutcome>();
    let allEnded: () => void;
    const everyReplicaEnded = new Promise<void>((resolve) => (allEnded = resolve));
    const client = new ActivationClient({
      urls,
      timeoutMs: 2000,
      retries,
      voter: { id: 'watchdog-1', secret },
      logger: createLogger({ service: 'test', level: 'info', destination }),
      backoff: { baseMs: 10, maxMs: 50 },
      onReplicaResult: (url, outcome) => {
        ended.set(url, outcome);
        if (ended.size === urls.length) allEnded();
      },
    });
    clients.push(client);
    return { client, lines, ended, everyReplicaEnded };
  }

  it('is accepted once one replica accepts, and still delivers to the others: a 503 one after its Retry-After', async () => {
    const RETRY_AFTER_S = 1;
    // The busy replica's second answer waits for the test: the result is known to come before it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const [down, busy, healthy] = await replicas(['down', [retryAfter(RETRY_AFTER_S), { status: 202, after: released }], []]);
    const { client, lines, ended, everyReplicaEnded } = fanOut([down!.url, busy!.url, healthy!.url]);

    const result = await client.request(body);
    expect(result).toMatchObject({ outcome: 'accepted', status: 202 });
    expect(result.replicas).toEqual([
      expect.objectContaining({ url: down!.url }),
      expect.objectContaining({ url: busy!.url, outcome: 'pending' }),
      { url: healthy!.url, outcome: 'accepted', attempts: 1, status: 202 },
    ]);
    release();

    await everyReplicaEnded;
    expect(Object.fromEntries(ended)).toEqual({ [down!.url]: 'failed', [busy!.url]: 'accepted', [healthy!.url]: 'accepted' });
    expect(busy!.requests).toHaveLength(2);
    expect(healthy!.requests).toHaveLength(1);
    // setTimeout may fire up to a millisecond early against performance.now().
    expect(busy!.requests[1]!.at - busy!.requests[0]!.at).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 2);

    const delivered = [...busy!.requests, ...healthy!.requests];
    for (const r of delivered) {
      expect(r.headers['webhook-id']).toBe(activationRequestId(body.incident.id));
      expect(JSON.parse(r.body)).toEqual(body);
      expect(verify({ secrets: [secret], headers: r.headers, body: r.body, toleranceSeconds: 60 }).ok).toBe(true);
    }
    // Replicas that share their records must not take one replica's delivery for a replay of another's.
    expect(new Set(delivered.map((r) => r.headers['webhook-signature'])).size).toBe(delivered.length);

    // Each replica's result is logged with its origin, and the secret never is.
    const finals = lines.filter((l) => l.outcome !== undefined && l.url !== undefined);
    expect(finals.map((l) => [l.url, l.outcome])).toEqual(
      expect.arrayContaining([
        [down!.url, 'failed'],
        [busy!.url, 'accepted'],
        [healthy!.url, 'accepted'],
      ]),
    );
    expect(lines.find((l) => l.url === down!.url && l.outcome === 'failed')).toMatchObject({ level: 'error', error: expect.stringContaining('ECONNREFUSED') as unknown });
    expect(JSON.stringify(lines)).not.toContain(secret.slice('whsec_'.length));
  });

  it('is a conflict when no replica accepts and one answers 409', async () => {
    const [a, b] = await replicas([[409], [409]]);
    const { client } = fanOut([a!.url, b!.url]);
    const result = await client.request(body);
    expect(result).toMatchObject({ outcome: 'conflict', status: 409, attempts: 2 });
    expect(result.error).toContain(`${a!.url}: HTTP 409`);
    expect(result.error).toContain(`${b!.url}: HTTP 409`);
    expect(a!.requests).toHaveLength(1);
    expect(b!.requests).toHaveLength(1);
  });

  it.each<[ActivationOutcome, string, ReplicaSpec[]]>([
    ['failed', 'one 400 and one down', [[400], 'down']],
    ['rejected', '400 from every replica', [[400], [422]]],
    ['conflict', 'a 400 and a 409', [[400], [409]]],
    ['accepted', 'a 400 and a 202', [[400], [202]]],
  ])('is %s for %s', async (expected, _what, specs) => {
    const urls = (await replicas(specs)).map((r) => r.url);
    const { client, everyReplicaEnded } = fanOut(urls, 1);
    const result = await client.request(body);
    expect(result.outcome).toBe(expected);
    if (expected !== 'accepted') for (const url of urls) expect(result.error).toContain(url);
    await everyReplicaEnded;
  });

  it('records the request on a replica that comes back within its retry budget', async () => {
    const port = await closedPort();
    const [healthy] = await replicas([[]]);
    const coming = `http://127.0.0.1:${port}`;
    const { client, lines, ended, everyReplicaEnded } = fanOut([coming, healthy!.url], 5);

    expect(await client.request(body)).toMatchObject({ outcome: 'accepted' });
    // Back only after it refused at least once.
    await vi.waitFor(() => expect(lines.some((l) => l.url === coming && l.msg === 'activation request failed; retrying')).toBe(true), { timeout: 5000, interval: 10 });
    const back = await receiver([], 202, port);
    servers.push(back);

    await everyReplicaEnded;
    expect(ended.get(coming)).toBe('accepted');
    expect(back.requests).toHaveLength(1);
    expect(back.requests[0]!.headers['webhook-id']).toBe(activationRequestId(body.incident.id));
    expect(back.requests[0]!.body).toBe(healthy!.requests[0]!.body);
  });

  it('on close, ends the deliveries still going on in the background at once, leaving no timer behind', async () => {
    const RETRY_AFTER_S = 60;
    const [busy, healthy] = await replicas([Array<Answer>(10).fill(retryAfter(RETRY_AFTER_S)), []]);
    const { client, ended, everyReplicaEnded } = fanOut([busy!.url, healthy!.url], 5);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();

    expect(await client.request(body)).toMatchObject({ outcome: 'accepted' });
    await vi.waitFor(() => expect(busy!.requests).toHaveLength(1));
    expect(ended.has(busy!.url)).toBe(false);

    const started = performance.now();
    await client.close();
    await everyReplicaEnded;
    // Far sooner than the Retry-After it was waiting out.
    expect(performance.now() - started).toBeLessThan((RETRY_AFTER_S * 1000) / 10);
    expect(ended.get(busy!.url)).toBe('cancelled');
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    expect(busy!.requests).toHaveLength(1);
  });

  it('answers cancelled to a request made after close, without sending it', async () => {
    const [a, b] = await replicas([[], []]);
    const { client } = fanOut([a!.url, b!.url]);
    await client.close();
    expect(await client.request(body)).toMatchObject({ outcome: 'cancelled', attempts: 0 });
    expect(a!.requests.length + b!.requests.length).toBe(0);
  });
});
