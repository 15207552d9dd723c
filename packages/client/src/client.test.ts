import diagnostics from 'node:diagnostics_channel';
import { Agent, interceptors, request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, Endpoints } from './control-plane.js';
import type { StateEvent, SwitchedEvent, SwitchRequiredEvent } from './events.js';
import { VigilClient } from './client.js';
import { VigilConfigError, VigilRouteError, VigilSwitchedError } from './errors.js';
import type { VigilClientOptions } from './options.js';
import type { ActiveState } from './state.js';
import { FakeActivation } from './test-support/fake-activation.js';
import { SideServer } from './test-support/sides.js';

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});
const keep = <T extends { close(): Promise<unknown> }>(o: T): T => {
  open.push(o);
  return o;
};

const state = (active: 'primary' | 'secondary', epoch: number, revision: number, extra: Partial<ActiveState> = {}): ActiveState => ({ target: 'app', active, epoch, revision, ...extra });

/** A port nothing listens on: a server is started and closed on it. */
async function deadUrl(): Promise<string> {
  const server = await new SideServer('dead').start();
  const url = server.origin;
  await server.close();
  return url;
}

interface Setup {
  activation: FakeActivation;
  primary: SideServer;
  secondary: SideServer;
  client: VigilClient;
  events: { name: string; payload: unknown }[];
}

async function setup(options: Partial<VigilClientOptions> = {}, initial = state('primary', 0, 0)): Promise<Setup> {
  const activation = keep(await new FakeActivation([initial]).start());
  const primary = keep(await new SideServer('primary').start());
  const secondary = keep(await new SideServer('secondary').start());
  const client = keep(new VigilClient({ activation: [activation.url], targets: { app: { primary: primary.origin, secondary: secondary.origin } }, ...options }));
  const events: Setup['events'] = [];
  for (const name of ['state', 'switchRequired', 'switched', 'stale', 'recovered', 'controlPlaneError', 'ignored'] as const) {
    client.on(name, (payload: unknown) => events.push({ name, payload }));
  }
  await client.ready();
  return { activation, primary, secondary, client, events };
}

async function get(client: VigilClient, origin: string, path = '/x', init: Omit<NonNullable<Parameters<typeof request>[1]>, 'dispatcher'> = {}) {
  const res = await request(`${origin}${path}`, { dispatcher: client.dispatcher, ...init });
  return { status: res.statusCode, body: (await res.body.json()) as { side: string } };
}

describe('following the active side', () => {
  it('sends a followed origin to the active side stamped with the epoch, and other origins unchanged', async () => {
    const { client, primary, secondary } = await setup({}, state('secondary', 3, 5));
    const other = keep(await new SideServer('other').start());
    expect((await get(client, primary.origin)).body.side).toBe('secondary');
    expect(secondary.received[0]).toMatchObject({ path: '/x', epoch: '3' });
    expect(primary.received).toHaveLength(0);
    expect((await get(client, other.origin)).body.side).toBe('other');
    expect(other.received[0]!.epoch).toBeUndefined();
  });

  it('switches on a pushed change: state, switchRequired, switched, in that order; later requests go to the new side only', async () => {
    const { client, activation, primary, secondary, events } = await setup();
    expect((await get(client, primary.origin)).body.side).toBe('primary');
    events.length = 0;
    activation.set(state('primary', 1, 1, { activationId: 'act_1' }));
    await vi.waitFor(() => expect(client.status('app').epoch).toBe(1));
    expect(events.map((e) => e.name)).toEqual(['state']); // a new epoch on the same side is no switch
    activation.set(state('secondary', 1, 2, { activationId: 'act_1', since: new Date().toISOString() }));
    await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'));
    expect(events.map((e) => e.name)).toEqual(['state', 'state', 'switchRequired', 'switched']);
    const required = events[2]!.payload as SwitchRequiredEvent;
    expect(required).toMatchObject({ target: 'app', epoch: 1, reason: 'failover', activationId: 'act_1', source: 'stream', previous: { side: 'primary', origin: primary.origin }, next: { side: 'secondary', origin: secondary.origin, epoch: 1 } });
    const before = primary.received.length;
    for (let i = 0; i < 5; i++) expect((await get(client, primary.origin)).body.side).toBe('secondary');
    expect(primary.received).toHaveLength(before);
    expect(secondary.received.map((r) => r.epoch)).toEqual(['1', '1', '1', '1', '1']);
  });

  it('ignores an older or replayed state and takes an equal one as a confirmation only', async () => {
    const { client, activation, events } = await setup({}, state('secondary', 4, 9));
    events.length = 0;
    activation.replay(state('primary', 4, 8)); // same epoch, older revision: the plan-running state of this epoch
    activation.replay(state('primary', 3, 12)); // older epoch, whatever its revision
    activation.replay(state('secondary', 4, 9)); // a duplicate
    await vi.waitFor(() => expect(events.filter((e) => e.name === 'ignored')).toHaveLength(2));
    await client.recheck('app');
    expect(events.map((e) => e.name)).toEqual(['ignored', 'ignored']);
    expect(client.status('app')).toMatchObject({ side: 'secondary', epoch: 4, state: { revision: 9 } });
  });

  it('resumes the stream with Last-Event-ID after it is dropped, and rotates to the next URL when one is down', async () => {
    const dead = await deadUrl();
    const activation = keep(await new FakeActivation([state('primary', 2, 3)]).start());
    const primary = keep(await new SideServer('primary').start());
    const secondary = keep(await new SideServer('secondary').start());
    const client = keep(new VigilClient({ activation: [dead, activation.url], targets: { app: { primary: primary.origin, secondary: secondary.origin } }, reconnectMinMs: 20, reconnectMaxMs: 100 }));
    const errors: string[] = [];
    client.on('controlPlaneError', (e) => errors.push(e.url));
    await client.ready();
    expect(errors).toContain(dead);
    await vi.waitFor(() => expect(activation.openStreams()).toBe(1));
    activation.dropStreams();
    await vi.waitFor(() => expect(activation.requests.filter((r) => r.path === '/v1/active/stream').at(-1)?.lastEventId).toBe('2.3'));
    activation.set(state('secondary', 2, 4));
    await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'));
  });

  it('learns a change through the poll when the stream stays silent', async () => {
    const { client, activation, events } = await setup({ pollIntervalMs: 200 });
    activation.mute = true;
    activation.set(state('secondary', 1, 2));
    await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'), { timeout: 3_000 });
    expect((events.find((e) => e.name === 'switched')!.payload as SwitchedEvent).source).toBe('poll');
  });

  it('keeps the last state when no URL answers, says how old it is, emits stale after staleAfterMs and recovered when one returns', async () => {
    // Stale is checked every staleAfterMs/4 = 150 ms: it fires between 600 and ~750 ms after the
    // last confirmation (plus event-loop delay); asserting ≥ 600 ms and < 3,000 ms leaves 2 s for a loaded machine.
    const { client, activation, primary, events } = await setup({ staleAfterMs: 600, pollIntervalMs: 100_000, reconnectMinMs: 50, reconnectMaxMs: 200 });
    const port = activation.port;
    await activation.close();
    const lostAt = performance.now();
    await vi.waitFor(() => expect(events.some((e) => e.name === 'stale')).toBe(true), { timeout: 3_000 });
    const staleAfter = performance.now() - lostAt;
    expect(staleAfter).toBeGreaterThanOrEqual(550);
    const stale = events.find((e) => e.name === 'stale')!.payload as { ageMs: number; state: ActiveState };
    expect(stale.ageMs).toBeGreaterThan(600);
    expect(stale.state).toMatchObject({ active: 'primary', epoch: 0 });
    expect(client.status('app')).toMatchObject({ stale: true, side: 'primary' });
    expect(client.status('app').ageMs).toBeGreaterThan(600);
    expect((await get(client, primary.origin)).body.side).toBe('primary'); // the last state still routes
    expect(events.some((e) => e.name === 'controlPlaneError')).toBe(true);
    const back = keep(new FakeActivation([state('primary', 0, 0)]));
    await back.start(port);
    await vi.waitFor(() => expect(events.some((e) => e.name === 'recovered')).toBe(true), { timeout: 5_000 });
    expect(client.status('app').stale).toBe(false);
  });
});

describe('requests around a switch', () => {
  it('repeats idempotent requests in flight on the new side, never a POST without an Idempotency-Key', async () => {
    const { client, activation, primary, secondary } = await setup({ drainTimeoutMs: 100 });
    primary.mode = 'hang';
    const getting = get(client, primary.origin, '/read');
    const keyed = get(client, primary.origin, '/keyed', { method: 'POST', body: 'order-1', headers: { 'idempotency-key': 'k-1' } });
    const posting = get(client, primary.origin, '/write', { method: 'POST', body: 'order-2' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await vi.waitFor(() => expect(primary.received).toHaveLength(3));
    activation.set(state('secondary', 1, 1));
    expect((await getting).body.side).toBe('secondary');
    expect((await keyed).body.side).toBe('secondary');
    const error = await posting;
    expect(error).toBeInstanceOf(VigilSwitchedError);
    expect(error).toMatchObject({ code: 'VIGIL_SWITCHED', sentEpoch: 0, epoch: 1 });
    expect((error as Error).message).toMatch(/POST \/write .*not idempotent/);
    expect(secondary.received.map((r) => `${r.method} ${r.path} ${r.body}`).sort()).toEqual(['GET /read ', 'POST /keyed order-1']);
  });

  it('repeats a streamed fetch body intact (the bytes are kept while it is sent)', async () => {
    const { client, activation, primary, secondary } = await setup({ drainTimeoutMs: 100 });
    primary.mode = 'hang';
    const fetch = client.createFetch();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of ['a'.repeat(1000), 'b'.repeat(1000), 'c']) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const put = fetch(`${primary.origin}/doc`, { method: 'PUT', body, duplex: 'half' });
    await vi.waitFor(() => expect(primary.received).toHaveLength(1));
    activation.set(state('secondary', 1, 1));
    const res = await put;
    expect(((await res.json()) as { side: string }).side).toBe('secondary');
    expect(secondary.received[0]!.body).toBe(`${'a'.repeat(1000)}${'b'.repeat(1000)}c`);
  });

  it('a burst of failures asks the activation service once, and a request that never reached the dead side goes to the new one', async () => {
    const { client, activation, primary } = await setup({ pollIntervalMs: 100_000, recheckIntervalMs: 10_000 });
    await primary.stop();
    await vi.waitFor(() => expect(activation.count('/v1/active')).toBe(1)); // the first poll, before counting
    const asked = activation.count('/v1/active');
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => get(client, primary.origin)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'ECONNREFUSED' });
    expect(activation.count('/v1/active') - asked).toBe(1);
    expect(client.stats.rechecks).toBe(1);

    // A client that missed the switch (no stream, no poll soon): its refused POST re-checks, finds
    // the new side, and goes there, since it never reached the dead one.
    const secondary = client.options.targets.get('app')!.secondary;
    const missed = keep(new VigilClient({ activation: [activation.url], targets: { app: { primary: primary.origin, secondary } }, pollIntervalMs: 100_000, stream: false }));
    await missed.ready();
    activation.set(state('secondary', 1, 1));
    const res = await request(`${primary.origin}/order`, { method: 'POST', body: 'x', dispatcher: missed.dispatcher });
    expect(((await res.body.json()) as { side: string }).side).toBe('secondary');
    expect(missed.stats.rechecks).toBe(1);
  });

  it('errors of an older epoch trigger no re-check', async () => {
    const { client, activation, primary } = await setup({ pollIntervalMs: 100_000, drainTimeoutMs: 50 });
    primary.mode = 'hang';
    const posting = get(client, primary.origin, '/w', { method: 'POST', body: 'x' });
    await vi.waitFor(() => expect(primary.received).toHaveLength(1));
    activation.set(state('secondary', 1, 1));
    await expect(posting).rejects.toBeInstanceOf(VigilSwitchedError);
    expect(client.stats.rechecks).toBe(0);
  });

  it('holds requests while switchRequired listeners prepare (waitUntil), bounded by switchTimeoutMs, and honours abort', async () => {
    const { client, activation, primary, secondary } = await setup({ switchTimeoutMs: 2_000 });
    let release!: () => void;
    client.once('switchRequired', (e) => e.waitUntil(new Promise<void>((resolve) => (release = resolve))));
    activation.set(state('secondary', 1, 1));
    await vi.waitFor(() => expect(client.status('app').switching).toBe(true));
    const waiting = get(client, primary.origin, '/held');
    const aborted = get(client, primary.origin, '/aborted', { signal: AbortSignal.timeout(100) });
    await expect(aborted).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) as unknown });
    expect(secondary.received).toHaveLength(0);
    release();
    expect((await waiting).body.side).toBe('secondary');
    expect(secondary.received.map((r) => r.path)).toEqual(['/held']);
  });

  it('without any state: fails after switchTimeoutMs, or uses the fallback side under epoch 0', async () => {
    const dead = await deadUrl();
    const primary = keep(await new SideServer('primary').start());
    const secondary = keep(await new SideServer('secondary').start());
    const targets = { app: { primary: primary.origin, secondary: secondary.origin } };
    const strict = keep(new VigilClient({ activation: [dead], targets, switchTimeoutMs: 200 }));
    const error = await get(strict, primary.origin).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VigilRouteError);
    expect(error).toMatchObject({ code: 'VIGIL_NO_STATE' });
    const lenient = keep(new VigilClient({ activation: [dead], targets, switchTimeoutMs: 200, fallbackSide: 'primary' }));
    expect((await get(lenient, secondary.origin)).body.side).toBe('primary');
    expect(primary.received[0]!.epoch).toBe('0');
  });

  it('caps the requests waiting at maxWaiting', async () => {
    const dead = await deadUrl();
    const primary = keep(await new SideServer('primary').start());
    const client = keep(new VigilClient({ activation: [dead], targets: { app: { primary: primary.origin, secondary: 'http://127.0.0.1:9' } }, switchTimeoutMs: 300, maxWaiting: 2 }));
    const results = await Promise.allSettled([get(client, primary.origin), get(client, primary.origin), get(client, primary.origin)]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as VigilRouteError).code : 'ok'))).toEqual(['VIGIL_NO_STATE', 'VIGIL_NO_STATE', 'VIGIL_TOO_MANY_WAITING']);
  });
});

describe('with undici and Node', () => {
  it("undici's retry interceptor, composed after it, goes through it again and reaches the new side", async () => {
    const { client, activation, primary } = await setup();
    primary.mode = 'fail'; // 500: retried by undici's interceptor
    const agent = keep(new Agent().compose(client.interceptor(), interceptors.retry({ minTimeout: 300, maxRetries: 3, statusCodes: [500] })) as Agent);
    setTimeout(() => activation.set(state('secondary', 1, 1)), 50);
    const res = await request(`${primary.origin}/r`, { dispatcher: agent });
    expect(((await res.body.json()) as { side: string }).side).toBe('secondary');
  });

  it("follows through Node's built-in fetch with setGlobalDispatcher", async () => {
    const { client, activation, primary } = await setup();
    const { getGlobalDispatcher, setGlobalDispatcher } = await import('undici');
    const before = getGlobalDispatcher();
    setGlobalDispatcher(client.dispatcher);
    try {
      activation.set(state('secondary', 1, 1));
      await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'));
      const res = await globalThis.fetch(`${primary.origin}/global`);
      expect(((await res.json()) as { side: string }).side).toBe('secondary');
    } finally {
      setGlobalDispatcher(before);
    }
  });

  it('publishes its events on node:diagnostics_channel', async () => {
    const seen: unknown[] = [];
    const listener = (message: unknown) => seen.push(message);
    diagnostics.subscribe('vigil:client:switched', listener);
    try {
      const { client, activation } = await setup();
      activation.set(state('secondary', 1, 1));
      await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ target: 'app', epoch: 1, reason: 'failover' });
    } finally {
      diagnostics.unsubscribe('vigil:client:switched', listener);
    }
  });

  it('a listener that throws does not break the switch', async () => {
    const { client, activation, primary } = await setup();
    const warned = vi.fn();
    process.on('warning', warned);
    client.on('switchRequired', () => {
      throw new Error('listener bug');
    });
    activation.set(state('secondary', 1, 1));
    await vi.waitFor(() => expect(client.status('app').side).toBe('secondary'));
    expect((await get(client, primary.origin)).body.side).toBe('secondary');
    await vi.waitFor(() => expect(warned).toHaveBeenCalled());
    process.off('warning', warned);
  });
});

describe('options and pieces', () => {
  it('names every problem in the options', () => {
    expect(
      () =>
        new VigilClient({
          activation: ['ftp://x', 'not a url'],
          targets: { a: { primary: 'http://a', secondary: 'http://a' }, b: { primary: 'http://a', secondary: 'http://b' } },
          pollIntervalMs: 5,
          reconnectMinMs: 500,
          reconnectMaxMs: 100,
          fallbackSide: 'left' as 'primary',
        }),
    ).toThrow(VigilConfigError);
    try {
      new VigilClient({ activation: [], targets: {} });
    } catch (error) {
      expect((error as Error).message).toMatch(/activation: give at least one/);
      expect((error as Error).message).toMatch(/targets: name at least one target/);
    }
    try {
      new VigilClient({ activation: ['ftp://x'], targets: { a: { primary: 'http://a', secondary: 'http://a' } }, pollIntervalMs: 5, reconnectMaxMs: 1 });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/activation\[0\]: "ftp:\/\/x" must be http or https/);
      expect(message).toMatch(/targets\.a: primary and secondary are the same origin/);
      expect(message).toMatch(/pollIntervalMs: 5 ms would hammer/);
      expect(message).toMatch(/reconnectMaxMs \(1\) is below reconnectMinMs \(250\)/);
    }
  });

  it('reconnect delays double up to the cap and stay within [½, 1] of it', () => {
    expect(backoffMs(0, 250, 10_000, () => 0)).toBe(125);
    expect(backoffMs(0, 250, 10_000, () => 1)).toBe(250);
    expect(backoffMs(3, 250, 10_000, () => 1)).toBe(2_000);
    expect(backoffMs(10, 250, 10_000, () => 0)).toBe(5_000);
    expect(backoffMs(1_000, 250, 10_000, () => 1)).toBe(10_000);
  });

  it('tries the URL that answered last first, and moves on past one that failed', () => {
    const e = new Endpoints(['a', 'b', 'c']);
    expect(e.order()).toEqual(['a', 'b', 'c']);
    e.failed('a');
    expect(e.order()).toEqual(['b', 'c', 'a']);
    e.failed('c'); // not the preferred one: no change
    expect(e.first()).toBe('b');
    e.answered('c');
    expect(e.order()).toEqual(['c', 'a', 'b']);
  });

  it('refuses an activation-service answer that is not a state, and keeps what it held', async () => {
    const { client, activation, events } = await setup({ pollIntervalMs: 100_000 });
    await vi.waitFor(() => expect(activation.count('/v1/active')).toBe(1)); // the first poll has been answered
    await vi.waitFor(() => expect(client.stats.polls).toBe(1));
    activation.failWith = 500;
    await client.recheck('app');
    const error = events.find((e) => e.name === 'controlPlaneError' && (e.payload as { operation: string }).operation === 'recheck')!.payload as { error: Error };
    expect(error.error.message).toMatch(/answered 500/);
    expect(client.status('app')).toMatchObject({ side: 'primary', epoch: 0 });
    const seen = events.filter((e) => e.name === 'state').map((e) => (e.payload as StateEvent).state.epoch);
    expect(seen).toEqual([0]);
  });
});
