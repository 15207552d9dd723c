/**
 * @vigil/client with two activation-service URLs, the first never listening: rotation reaches
 * the live one. Then the live one stops too: the last state is kept and used, `stale` after
 * `staleAfterMs`, `recovered` once the service is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilClient, type ControlPlaneErrorEvent, type RecoveredEvent, type StaleEvent } from '@vigil/client';
import { freePort, waitFor } from '@vigil/demo';
import { SideServer } from '../packages/client/src/test-support/sides.js';
import { startActivation, type ActivationUnderTest } from './support/client-system.js';

const TARGET = 'shop';
let activation: ActivationUnderTest;
let primary: SideServer;
let secondary: SideServer;
let client: VigilClient | undefined;

beforeAll(async () => {
  [activation, primary, secondary] = await Promise.all([startActivation(TARGET), new SideServer('primary').start(), new SideServer('secondary').start()]);
});

afterAll(async () => {
  await client?.close();
  await Promise.all([activation?.close(), primary?.close(), secondary?.close()]);
});

describe('client with every activation URL unreachable', () => {
  it('rotates past a dead URL; keeps and uses the last state while none answers; stale after staleAfterMs; recovered when the service is back', async () => {
    // A port that nothing listens on (freePort hands it to no one else in this process).
    const dead = `http://127.0.0.1:${await freePort()}`;
    const STALE_MS = 1_500;
    const errors: ControlPlaneErrorEvent[] = [];
    const stale: { event: StaleEvent; at: number }[] = [];
    const recovered: RecoveredEvent[] = [];
    client = new VigilClient({
      activation: [dead, activation.url],
      targets: { [TARGET]: { primary: primary.origin, secondary: secondary.origin } },
      pollIntervalMs: 300,
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
      staleAfterMs: STALE_MS,
    });
    client.on('controlPlaneError', (e) => errors.push(e));
    client.on('stale', (event) => stale.push({ event, at: performance.now() }));
    client.on('recovered', (e) => recovered.push(e));

    // Rotation: the dead URL is tried first and fails; the live one answers.
    await client.ready(AbortSignal.timeout(10_000));
    expect(errors.some((e) => e.url === dead)).toBe(true);
    expect(client.status(TARGET).state).toMatchObject({ target: TARGET, active: 'primary' });
    await waitFor('the event stream to connect to the live URL', () => client!.stats.streamConnects >= 1);

    // A failover, so that the state to keep is not the initial one.
    const flip = await activation.failover();
    await waitFor('the client to follow the failover', () => client!.status(TARGET).side === 'secondary', 10_000, 5);
    const held = client.status(TARGET).state!;
    expect(held).toMatchObject({ active: 'secondary', epoch: flip.epoch });

    // Now no URL answers.
    await activation.stop('SIGKILL');
    const stoppedAt = performance.now();
    const first = client.status(TARGET);
    const lastConfirmed = stoppedAt - first.ageMs;
    expect(first.stale).toBe(false);

    // Requests keep going to the last known side, before and after `stale`.
    const sideOf = async (path: string) => {
      const res = await client!.dispatcher.request({ origin: primary.origin, path, method: 'GET' });
      return ((await res.body.json()) as { side: string }).side;
    };
    expect(await sideOf('/outage/1')).toBe('secondary');
    await waitFor('stale', () => stale.length === 1, STALE_MS + 10_000, 10);
    expect(await sideOf('/outage/2')).toBe('secondary');
    const later = client.status(TARGET);
    expect(later).toMatchObject({ stale: true, side: 'secondary', state: held });
    expect(later.ageMs).toBeGreaterThan(first.ageMs);
    expect(later.ageMs).toBeGreaterThan(STALE_MS);
    expect(primary.received.filter((r) => r.path.startsWith('/outage/'))).toEqual([]);

    // `stale` fires once the last confirmation is more than STALE_MS old, found by a timer that
    // runs every min(1 s, STALE_MS / 4) = 375 ms: between STALE_MS and STALE_MS + 375 ms after the
    // last confirmation, plus timer lateness on a loaded machine (1,000 ms allowed): at most
    // 2,875 ms. Never before STALE_MS: the last confirmation cannot be earlier than measured (no
    // answer comes from a killed process), and the client compares ages strictly.
    const staleAt = stale[0]!.at - lastConfirmed;
    expect(staleAt).toBeGreaterThanOrEqual(STALE_MS - 1);
    expect(staleAt).toBeLessThanOrEqual(STALE_MS + 375 + 1_000);
    expect(stale[0]!.event).toMatchObject({ target: TARGET, staleAfterMs: STALE_MS, state: held });
    expect(stale[0]!.event.ageMs).toBeGreaterThan(STALE_MS);
    // Both URLs were tried and failed during the outage.
    const duringOutage = errors.filter((e) => e.url === activation.url);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(recovered).toEqual([]);

    // The service comes back: the next poll or the stream confirms the state.
    await activation.start();
    await waitFor('recovered', () => recovered.length === 1, 10_000, 10);
    expect(recovered[0]).toMatchObject({ target: TARGET, state: { active: 'secondary', epoch: flip.epoch } });
    expect(recovered[0]!.staleForMs).toBeGreaterThan(0);
    const back = client.status(TARGET);
    expect(back.stale).toBe(false);
    // `recovered` is emitted at a confirmation, read here within one 10 ms step of waitFor (and
    // polls keep confirming every 300 ms × 1.2 at most); 1,000 ms allowed for a loaded machine.
    expect(back.ageMs).toBeLessThan(360 + 1_000);
    expect(await sideOf('/after-recovery')).toBe('secondary');
    expect(stale).toHaveLength(1);
  });
});
