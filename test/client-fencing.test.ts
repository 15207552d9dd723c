/**
 * Epoch fencing with a real activation service: each side's Fastify server runs `vigilFence`
 * with an `EpochFence` that follows a VigilClient of its own. After a failover the deposed
 * primary refuses writes stamped with an old epoch (409, `vigil-fenced-epoch`); a client that
 * followed the switch writes to the secondary; a client that missed it is refused, re-checks,
 * and its write lands on the secondary, never on the deposed side.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpochFence, FENCED_HEADER, VigilClient, vigilFence, type Side, type SwitchedEvent } from '@vigil/client';
import { waitFor } from '@vigil/demo';
import { startActivation, type ActivationUnderTest } from './support/client-system.js';

const TARGET = 'shop';
let activation: ActivationUnderTest;
const clients: VigilClient[] = [];
const apps: FastifyInstance[] = [];

interface AppSide {
  side: Side;
  origin: string;
  fence: EpochFence;
  /** Writes the handler ran (the fence lets through before any handler). */
  writes: { epoch: string | undefined; body: unknown }[];
}

/** An application server of one side, fenced, its fence following `follower`. */
async function startApp(side: Side, follower: VigilClient): Promise<AppSide> {
  const fence = new EpochFence({ side });
  fence.follow(follower, TARGET);
  const writes: AppSide['writes'] = [];
  const app = Fastify();
  await app.register(vigilFence, { fence });
  app.post('/orders', (req, reply) => {
    writes.push({ epoch: req.headers['vigil-epoch'] as string | undefined, body: req.body });
    void reply.send({ side, stored: true });
  });
  // Clients call these servers, never the activation service: any free port will do.
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  return { side, origin: address, fence, writes };
}

beforeAll(async () => {
  activation = await startActivation(TARGET);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(apps.map((a) => a.close()));
  await activation?.close();
});

describe('fencing with a real activation service', () => {
  it('the deposed side refuses an old epoch with 409 vigil-fenced-epoch; an up-to-date client writes to the new side; a client that missed the switch ends there too', async () => {
    // The servers' own client (placeholder origins: it routes nothing, it only feeds the fences).
    const servers = new VigilClient({ activation: activation.url, targets: { [TARGET]: { primary: 'http://127.0.0.1:9', secondary: 'http://127.0.0.2:9' } }, pollIntervalMs: 2_000 });
    clients.push(servers);
    const [primary, secondary] = await Promise.all([startApp('primary', servers), startApp('secondary', servers)]);
    await servers.ready(AbortSignal.timeout(10_000));
    const targets = { [TARGET]: { primary: primary.origin, secondary: secondary.origin } };

    // An application client following the stream, and one that misses every change: no stream,
    // and its next poll 48–72 s away (pollIntervalMs 60 s ± 20%), far beyond this test.
    const current = new VigilClient({ activation: activation.url, targets, pollIntervalMs: 2_000 });
    const missing = new VigilClient({ activation: activation.url, targets, stream: false, pollIntervalMs: 60_000 });
    clients.push(current, missing);
    await Promise.all([current.ready(AbortSignal.timeout(10_000)), missing.ready(AbortSignal.timeout(10_000))]);
    const before = missing.status(TARGET);
    expect(before).toMatchObject({ side: 'primary' });

    const flip = await activation.failover();
    await waitFor('both fences to learn the failover', () => [primary, secondary].every((s) => s.fence.epoch === flip.epoch), 10_000, 5);
    await waitFor('the up-to-date client to switch', () => current.status(TARGET).side === 'secondary', 10_000, 5);
    expect(missing.status(TARGET)).toMatchObject({ side: 'primary', epoch: before.epoch });

    // A raw request stamped with epoch 0 to the deposed primary: refused before its handler.
    const stale = await request(`${primary.origin}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'vigil-epoch': '0' }, body: '{"order":1}' });
    expect(stale.statusCode).toBe(409);
    expect(stale.headers[FENCED_HEADER]).toBe(String(flip.epoch));
    expect(await stale.body.json()).toMatchObject({ error: 'stale-epoch', epoch: flip.epoch });
    // Even the current epoch is refused there: the primary knows it was deposed at it.
    const deposed = await request(`${primary.origin}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'vigil-epoch': String(flip.epoch) }, body: '{"order":2}' });
    expect(deposed.statusCode).toBe(409);
    expect(await deposed.body.json()).toMatchObject({ error: 'deposed', epoch: flip.epoch });

    // Through the up-to-date client: sent to the secondary under the new epoch, accepted.
    const fetchCurrent = current.createFetch();
    const ok = await fetchCurrent(`${primary.origin}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":3}' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ side: 'secondary', stored: true });

    // Through the client that missed the switch: stamped with the old epoch, sent to the primary,
    // refused there unprocessed (409 + vigil-fenced-epoch); the client re-checks, switches and
    // repeats it once on the secondary (a refusal by a fence is safe to repeat, even for a POST).
    const switched: SwitchedEvent[] = [];
    missing.on('switched', (e) => switched.push(e));
    const late = await missing.createFetch()(`${primary.origin}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":4}' });
    expect(late.status).toBe(200);
    expect(await late.json()).toEqual({ side: 'secondary', stored: true });
    expect(switched).toEqual([expect.objectContaining({ source: 'recheck', next: expect.objectContaining({ side: 'secondary', epoch: flip.epoch }) as unknown })]);

    // The deposed primary's handler never ran a write; the secondary's ran both, under the new epoch.
    expect(primary.writes).toEqual([]);
    expect(secondary.writes).toEqual([
      { epoch: String(flip.epoch), body: { order: 3 } },
      { epoch: String(flip.epoch), body: { order: 4 } },
    ]);
  });
});
