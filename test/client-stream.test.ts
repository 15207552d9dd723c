/**
 * @vigil/client when its event stream is cut (the activation service killed and started again
 * while the client's stream reconnect is slow): the poll brings the next failover. And an older
 * event replayed on the live stream by an intermediary: ignored, the route does not move back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilClient, type IgnoredEvent, type StateEvent, type SwitchedEvent } from '@vigil/client';
import { waitFor } from '@vigil/demo';
import { SideServer } from '../packages/client/src/test-support/sides.js';
import { startReplayProxy, type ReplayProxy } from './support/client-proxy.js';
import { startActivation, type ActivationUnderTest } from './support/client-system.js';

const TARGET = 'shop';
let activation: ActivationUnderTest;
let primary: SideServer;
let secondary: SideServer;
let proxy: ReplayProxy | undefined;
const clients: VigilClient[] = [];

beforeAll(async () => {
  [activation, primary, secondary] = await Promise.all([startActivation(TARGET), new SideServer('primary').start(), new SideServer('secondary').start()]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([activation?.close(), primary?.close(), secondary?.close(), proxy?.close()]);
});

function newClient(url: string, options: Partial<ConstructorParameters<typeof VigilClient>[0]>): VigilClient {
  const client = new VigilClient({ activation: [url], targets: { [TARGET]: { primary: primary.origin, secondary: secondary.origin } }, ...options });
  clients.push(client);
  return client;
}

describe('client event stream cut', () => {
  it('activation service killed and restarted while the stream reconnect is slow: the failover after the restart arrives by the poll', async () => {
    await activation.toPrimary();
    const POLL_MS = 500;
    // After a stream that had connected ends, the next attempt waits reconnectMinMs × [½, 1] =
    // 20–40 s: far longer than this test needs from the kill to the switch (a restart of 1–3 s,
    // one failover of well under a second, one poll), so only the poll can bring the switch.
    const client = newClient(activation.url, { pollIntervalMs: POLL_MS, reconnectMinMs: 40_000, reconnectMaxMs: 60_000 });
    await client.ready(AbortSignal.timeout(10_000));
    await waitFor('the event stream to connect', () => client.stats.streamConnects === 1);
    const states: StateEvent[] = [];
    const switched: { event: SwitchedEvent; at: number; streamConnects: number }[] = [];
    client.on('state', (e) => states.push(e));
    client.on('switched', (event) => switched.push({ event, at: Date.now(), streamConnects: client.stats.streamConnects }));

    const killedAt = performance.now();
    await activation.stop('SIGKILL');
    await activation.start();
    const flip = await activation.failover();
    await waitFor('the client to switch', () => switched.length === 1, 10_000, 5);
    const elapsed = performance.now() - killedAt;

    const { event, at, streamConnects } = switched[0]!;
    expect(event).toMatchObject({ target: TARGET, source: 'poll', reason: 'failover', next: { side: 'secondary', origin: secondary.origin } });
    expect(streamConnects).toBe(1); // the stream had not come back yet
    expect(states.filter((s) => s.state.active === 'secondary')).toEqual([expect.objectContaining({ source: 'poll', state: expect.objectContaining({ epoch: flip.epoch }) as unknown })]);
    // The poll runs every POLL_MS × [0.8, 1.2]: the switch reaches the client at most 600 ms
    // after the flip, plus the poll's own answer (local, a few ms) and 1,400 ms for a loaded
    // machine: 2,000 ms. The stream would have needed ≥ 20 s (its reconnect delay).
    const since = Date.parse(client.status(TARGET).state!.since!);
    expect(at - since).toBeLessThanOrEqual(POLL_MS * 1.2 + 1_400);
    expect(elapsed).toBeLessThan(20_000);
    // Requests follow.
    const res = await client.dispatcher.request({ origin: primary.origin, path: '/after-restart', method: 'GET' });
    expect(await res.body.json()).toEqual({ side: 'secondary', path: '/after-restart' });
  });

  it('an older event replayed on the live stream is ignored: the route does not move back', async () => {
    await activation.toPrimary();
    proxy = await startReplayProxy(activation.url);
    // The poll is slow (30 s ± 20%, the default) so that the stream is the only source here.
    const client = newClient(proxy.url, { pollIntervalMs: 30_000 });
    await client.ready(AbortSignal.timeout(10_000));
    await waitFor('the first event through the proxy', () => proxy!.events.length >= 1 && proxy!.openStreams() === 1);
    const old = proxy.events[0]!;
    expect(old).toContain('"active":"primary"');

    const switched: SwitchedEvent[] = [];
    const ignored: IgnoredEvent[] = [];
    client.on('switched', (e) => switched.push(e));
    client.on('ignored', (e) => ignored.push(e));
    const flip = await activation.failover();
    await waitFor('the client to switch', () => switched.length === 1, 10_000, 5);
    expect(switched[0]).toMatchObject({ source: 'stream', next: { side: 'secondary' } });

    proxy.replay(old);
    await waitFor('the replayed event to be ignored', () => ignored.length === 1, 10_000, 5);
    expect(ignored[0]).toMatchObject({
      target: TARGET,
      source: 'stream',
      state: { active: 'primary' },
      held: { active: 'secondary', epoch: flip.epoch },
    });
    expect(ignored[0]!.state.epoch).toBeLessThan(flip.epoch);
    // Anything the replay could have started would have happened synchronously with `ignored`;
    // 300 ms more leaves room for a switch that went through a listener's `waitUntil` (none here).
    await new Promise((ok) => setTimeout(ok, 300));
    expect(switched).toHaveLength(1);
    expect(client.status(TARGET)).toMatchObject({ side: 'secondary', state: { active: 'secondary', epoch: flip.epoch } });
    const res = await client.dispatcher.request({ origin: primary.origin, path: '/after-replay', method: 'GET' });
    expect(await res.body.json()).toEqual({ side: 'secondary', path: '/after-replay' });
  });
});
