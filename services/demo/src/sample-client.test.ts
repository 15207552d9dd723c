import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './system.js';
import { startSampleClient, type SampleClient } from './sample-client.js';
import { FakeActivation } from '../../../packages/client/src/test-support/fake-activation.js';
import { SideServer } from '../../../packages/client/src/test-support/sides.js';

describe('the demo sample client', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  async function setup(): Promise<{ activation: FakeActivation; primary: SideServer; standby: SideServer; client: SampleClient; lines: string[] }> {
    const activation = await new FakeActivation([{ target: 'primary', active: 'primary', epoch: 0, revision: 0 }]).start();
    const primary = await new SideServer('primary').start();
    const standby = await new SideServer('secondary').start();
    cleanup.push(() => activation.close(), () => primary.close(), () => standby.close());
    const lines: string[] = [];
    const client = startSampleClient({ activation: activation.url, target: 'primary', primary: primary.origin, secondary: standby.origin, everyMs: 20, reportEveryMs: 200, say: (l) => lines.push(l) });
    cleanup.push(() => client.close());
    return { activation, primary, standby, client, lines };
  }

  it('sums up the answers per period, tells the switch at once, and then the standby answers', async () => {
    const { activation, primary, standby, lines } = await setup();
    await waitFor('answers by the primary', () => lines.some((l) => /^\d+\/\d+ answered by primary \(epoch 0\)$/.test(l)), 5_000, 20);
    expect(lines[0]).toBe('activation service: primary is active, epoch 0 [stream]');

    await primary.stop(); // the primary region goes away: requests fail, the client does not move by itself
    await waitFor('failures', () => lines.some((l) => /failed: ECONNREFUSED ×\d+/.test(l)), 5_000, 20);
    expect(lines.some((l) => l.includes('SWITCH'))).toBe(false);
    expect(standby.received).toHaveLength(0);

    activation.set({ target: 'primary', active: 'secondary', epoch: 1, revision: 1 });
    await waitFor('answers by the standby', () => lines.some((l) => /^\d+\/\d+ answered by standby \(epoch 1\)$/.test(l)), 5_000, 20);
    const required = lines.findIndex((l) => l.startsWith('SWITCH REQUIRED (failover): primary'));
    const switched = lines.findIndex((l) => l.startsWith(`SWITCHED to the standby (${standby.origin}, epoch 1)`));
    expect(required).toBeGreaterThan(0);
    expect(switched).toBeGreaterThan(required);
    expect(standby.received.every((r) => r.epoch === '1')).toBe(true);
  });

  it('stops cleanly: no request and no line after close, and the event stream is closed', async () => {
    const { activation, standby, primary, client, lines } = await setup();
    await waitFor('a summary line', () => lines.some((l) => l.includes('answered')), 5_000, 20);
    await client.close();
    const [count, received] = [lines.length, primary.received.length + standby.received.length];
    await new Promise((ok) => setTimeout(ok, 300));
    expect(lines.length).toBe(count);
    expect(primary.received.length + standby.received.length).toBe(received);
    await waitFor('the event stream to close', () => activation.openStreams() === 0, 2_000, 20);
  });
});
