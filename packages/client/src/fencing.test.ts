import Fastify from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VigilClient } from './client.js';
import { EpochFence, vigilFence } from './fencing.js';
import type { ActiveState } from './state.js';
import { FakeActivation } from './test-support/fake-activation.js';

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

const state = (active: 'primary' | 'secondary', epoch: number, revision: number): ActiveState => ({ target: 'app', active, epoch, revision });

describe('EpochFence', () => {
  it('refuses an epoch older than the one it knows, learns a newer one, and lets unstamped requests through unless told', () => {
    const fence = new EpochFence({ epoch: 3 });
    expect(fence.check('3')).toEqual({ ok: true, epoch: 3 });
    expect(fence.check(undefined)).toEqual({ ok: true });
    expect(fence.check('2')).toMatchObject({ ok: false, status: 409, error: 'stale-epoch', known: 3 });
    expect(fence.check('5')).toEqual({ ok: true, epoch: 5 });
    expect(fence.epoch).toBe(5);
    expect(fence.check('4')).toMatchObject({ ok: false, error: 'stale-epoch', known: 5 });
    expect(fence.check('x1')).toMatchObject({ ok: false, status: 400, error: 'bad-epoch' });
    expect(fence.check('-1')).toMatchObject({ ok: false, status: 400 });
    expect(new EpochFence({ requireEpoch: true }).check(undefined)).toMatchObject({ ok: false, status: 400, error: 'missing-epoch' });
    const strict = new EpochFence({ epoch: 1, learnFromRequests: false });
    expect(strict.check('9')).toEqual({ ok: true, epoch: 9 });
    expect(strict.epoch).toBe(1);
  });

  it('a deposed side refuses its deposing epoch as well, once it knows the other side is active at it', () => {
    const primary = new EpochFence({ side: 'primary' });
    primary.observe(4, 'primary'); // epoch 4 raised while the plan runs: the primary still serves
    expect(primary.check('4')).toMatchObject({ ok: true });
    primary.observe(4, 'secondary'); // the plan succeeded: traffic moved in that same epoch
    expect(primary.check('4')).toMatchObject({ ok: false, status: 409, error: 'deposed' });
    expect(primary.check('3')).toMatchObject({ ok: false, error: 'stale-epoch' });
    primary.observe(2, 'primary'); // never goes back
    expect(primary.epoch).toBe(4);
    expect(new EpochFence({ side: 'secondary', epoch: 4 }).check('4')).toMatchObject({ ok: true });
  });

  it('rejects a bad starting epoch with a clear error', () => {
    expect(() => new EpochFence({ epoch: -2 })).toThrow(/epoch must be a whole number ≥ 0, got -2/);
  });
});

describe('vigilFence (Fastify)', () => {
  async function server(fence: EpochFence) {
    const app = Fastify();
    await app.register(vigilFence, { fence });
    const writes: unknown[] = [];
    app.post('/orders', (req, reply) => {
      writes.push(req.body);
      void reply.send({ ok: true, epoch: fence.epoch });
    });
    app.get('/orders', (_req, reply) => void reply.send({ ok: true }));
    open.push(app);
    return { app, writes };
  }

  it('refuses a write stamped with a stale epoch before its handler runs; reads pass', async () => {
    const { app, writes } = await server(new EpochFence({ epoch: 2 }));
    const stale = await app.inject({ method: 'POST', url: '/orders', headers: { 'vigil-epoch': '1' }, payload: { n: 1 } });
    expect(stale.statusCode).toBe(409);
    expect(stale.headers['vigil-fenced-epoch']).toBe('2');
    expect(stale.json()).toMatchObject({ error: 'stale-epoch', epoch: 2 });
    expect(writes).toHaveLength(0);
    expect((await app.inject({ method: 'POST', url: '/orders', headers: { 'vigil-epoch': '2' }, payload: { n: 2 } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/orders', headers: { 'vigil-epoch': '1' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/orders', headers: { 'vigil-epoch': 'two' }, payload: {} })).statusCode).toBe(400);
    expect(writes).toEqual([{ n: 2 }]);
  });

  it('refuses a fence that is not an EpochFence at registration', async () => {
    const app = Fastify();
    open.push(app);
    await expect(app.register(vigilFence, { fence: {} as EpochFence }).ready()).rejects.toThrow(/must be an EpochFence/);
  });

  it('a client that missed an epoch is refused, re-checks, and repeats the write under the new epoch', async () => {
    const activation = await new FakeActivation([state('primary', 1, 1)]).start();
    open.push(activation);
    const fence = new EpochFence({ epoch: 2 });
    const { app, writes } = await server(fence);
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    // The stream is off and the poll slow: this client still holds epoch 1 when it writes.
    const client = new VigilClient({ activation: [activation.url], targets: { app: { primary: origin, secondary: 'http://127.0.0.1:9' } }, stream: false, pollIntervalMs: 100_000 });
    open.push(client);
    await client.ready();
    activation.set(state('primary', 2, 2));
    const res = await request(`${origin}/orders`, { method: 'POST', body: JSON.stringify({ n: 7 }), headers: { 'content-type': 'application/json' }, dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, epoch: 2 });
    expect(writes).toEqual([{ n: 7 }]);
    expect(client.status('app').epoch).toBe(2);
  });

  it('passes the refusal on when the activation service knows no newer epoch', async () => {
    const activation = await new FakeActivation([state('primary', 1, 1)]).start();
    open.push(activation);
    const { app } = await server(new EpochFence({ epoch: 5 }));
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const client = new VigilClient({ activation: [activation.url], targets: { app: { primary: origin, secondary: 'http://127.0.0.1:9' } }, stream: false, pollIntervalMs: 100_000 });
    open.push(client);
    await client.ready();
    const res = await request(`${origin}/orders`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(409);
    expect(await res.body.json()).toMatchObject({ error: 'stale-epoch', epoch: 5 });
  });

  it('follows a client: the deposed side learns the switch and refuses a client that missed it', async () => {
    const activation = await new FakeActivation([state('primary', 0, 0)]).start();
    open.push(activation);
    const fence = new EpochFence({ side: 'primary' });
    const watcher = new VigilClient({ activation: [activation.url], targets: { app: { primary: 'http://127.0.0.1:8', secondary: 'http://127.0.0.1:9' } } });
    open.push(watcher);
    const stop = fence.follow(watcher, 'app');
    activation.set(state('primary', 1, 1));
    activation.set(state('secondary', 1, 2));
    await vi.waitFor(() => expect(fence.check('1')).toMatchObject({ ok: false, error: 'deposed' }));
    expect(fence.check('0')).toMatchObject({ ok: false, error: 'stale-epoch' });
    stop();
    activation.set(state('primary', 2, 3));
    await vi.waitFor(() => expect(watcher.status('app').epoch).toBe(2));
    expect(fence.epoch).toBe(1);
  });
});
