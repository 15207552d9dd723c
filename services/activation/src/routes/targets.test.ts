import { afterEach, describe, expect, it, vi } from 'vitest';
import { closedPort, SECRET_2 } from '../test-support/fixtures.js';
import { opsHarness, vote } from '../test-support/ops.js';
import type { TargetView } from '../views.js';

const harness = opsHarness();
afterEach(() => harness.cleanup());

const targets = async (app: Awaited<ReturnType<typeof harness.setup>>['app']) => {
  const res = await app.inject({ url: '/v1/targets' });
  expect(res.statusCode).toBe(200);
  return res.json<{ targets: TargetView[] }>().targets;
};

describe('GET /v1/targets', () => {
  it('shows each target: side, mode, rto, quorum, voters, hold-off, guard, plans with their worst case', async () => {
    const { app } = await harness.setup((urls) => ({
      mode: 'approval',
      rto: '1m',
      quorum: { votes: 2, window: '2m' },
      holdOff: { duration: '10s' },
      dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '5s' },
      plan: [
        { name: 'fence', kind: 'http', url: `${urls.standby}/fence`, timeout: '2s', retries: 2, retryDelay: '1s' },
        { name: 'enable-standby', kind: 'http', url: `${urls.standby}/enable`, timeout: '3s' },
      ],
    }));
    const [view] = await targets(app);
    expect(view).toEqual({
      name: 'primary',
      active: { target: 'primary', active: 'primary', epoch: 0 },
      mode: 'approval',
      rtoMs: 60_000,
      quorum: { votes: 2, windowMs: 120_000 },
      voters: ['watchdog-1', 'watchdog-2'],
      votes: [],
      holdOff: { durationMs: 10_000, probe: true },
      dataLoss: { kind: 'http', maxMs: 5_000 },
      plan: [
        { name: 'fence', kind: 'http', timeoutMs: 2_000, attempts: 3, budgetMs: 6_000 + 1_000 + 2_000 },
        { name: 'enable-standby', kind: 'http', timeoutMs: 3_000, attempts: 1, budgetMs: 3_000 },
      ],
      failback: { approval: false, plan: [{ name: 'disable-standby', kind: 'http', timeoutMs: 5_000, attempts: 1, budgetMs: 5_000 }] },
    });
  });

  it('shows the votes towards the quorum, then the pending activation', async () => {
    const { app } = await harness.setup(() => ({ mode: 'approval', quorum: { votes: 2, window: '2m' } }));
    expect((await vote(app, 'watchdog-1')).statusCode).toBe(202);
    let [view] = await targets(app);
    expect(view!.votes).toEqual([{ voter: 'watchdog-1', at: expect.any(String) as string, incidentId: 'inc-watchdog-1' }]);
    expect(view!.pending).toBeUndefined();

    const created = (await vote(app, 'watchdog-2', SECRET_2)).json<{ id: string }>();
    await vi.waitFor(async () => {
      [view] = await targets(app);
      expect(view!.pending).toMatchObject({ id: created.id, status: 'awaiting-approval' });
    });
    // The votes were taken by the activation.
    expect(view!.votes).toEqual([]);
    expect(view!.active).toMatchObject({ active: 'primary', epoch: 1, activationId: created.id });
  });

  it('holdOff off: no wait and no probe; no guard, no failback, no rto', async () => {
    const { app } = await harness.setup(() => ({ holdOff: { enabled: false, duration: '30s' }, failback: undefined }));
    const [view] = await targets(app);
    expect(view!.holdOff).toEqual({ durationMs: 0, probe: false });
    expect(view).not.toHaveProperty('dataLoss');
    expect(view).not.toHaveProperty('failback');
    expect(view).not.toHaveProperty('rtoMs');
  });
});

describe('GET /v1/targets/:name/data-loss', () => {
  it('measures the lag now and judges it against the limit (read-only)', async () => {
    const { app, replication } = await harness.setup((urls) => ({ dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '5s' } }), { lagSeconds: 2.5 });
    const res = await app.inject({ url: '/v1/targets/primary/data-loss' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      target: 'primary',
      configured: true,
      lagMs: 2_500,
      maxMs: 5_000,
      withinLimit: true,
      output: expect.stringContaining('lagSeconds 2.5') as string,
      checkedAt: expect.any(String) as string,
    });
    expect(replication.calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('over the limit, and unknown when the endpoint cannot be read', async () => {
    const over = await harness.setup((urls) => ({ dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '1s' } }), { lagSeconds: 3 });
    expect((await over.app.inject({ url: '/v1/targets/primary/data-loss' })).json()).toMatchObject({ lagMs: 3_000, maxMs: 1_000, withinLimit: false });

    const port = await closedPort();
    const down = await harness.setup(() => ({ dataLoss: { kind: 'http', url: `http://127.0.0.1:${port}/lag`, maxDataLoss: '1s' } }));
    const body = (await down.app.inject({ url: '/v1/targets/primary/data-loss' })).json<Record<string, unknown>>();
    expect(body).toMatchObject({ configured: true, maxMs: 1_000, withinLimit: false, output: expect.stringContaining('ECONNREFUSED') as string });
    expect(body).not.toHaveProperty('lagMs');
  });

  it('a target without a guard: configured false; an unknown target: 404', async () => {
    const { app } = await harness.setup();
    const res = await app.inject({ url: '/v1/targets/primary/data-loss' });
    expect(res.json()).toEqual({ target: 'primary', configured: false, checkedAt: expect.any(String) as string });
    const unknown = await app.inject({ url: '/v1/targets/nope/data-loss' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown-target' });
  });
});
