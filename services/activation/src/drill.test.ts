import { afterEach, describe, expect, it } from 'vitest';
import type { DrillReport } from './drill.js';
import { config } from './test-support/fixtures.js';
import { auditOf, operator, opsHarness } from './test-support/ops.js';
import { seedFailover, withStore } from './test-support/state.js';

const harness = opsHarness();
afterEach(() => harness.cleanup());

describe('POST /v1/drills', () => {
  it('evaluates a failover without running any step: mode, approval reasons, probe, data loss, budgets against the RTO, audited', async () => {
    const { app, standby, primary, replication } = await harness.setup(
      (urls) => ({
        mode: 'approval',
        rto: '1m',
        holdOff: { duration: '10s', probe: { kind: 'http', url: `${urls.primary}/health` } },
        dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '1s' },
        plan: [
          { name: 'fence', kind: 'http', url: `${urls.standby}/fence`, timeout: '2s', retries: 2, retryDelay: '1s' },
          { name: 'enable-standby', kind: 'http', url: `${urls.standby}/enable`, timeout: '3s' },
        ],
      }),
      { lagSeconds: 3, primaryStatus: 200 },
    );
    const res = await operator(app, '/v1/drills', { target: 'primary', reason: 'quarterly rehearsal' });
    expect(res.statusCode).toBe(200);
    const report = res.json<DrillReport>();
    expect(report).toEqual({
      id: expect.stringMatching(/^drill_/) as string,
      target: 'primary',
      kind: 'failover',
      dryRun: true,
      mode: 'approval',
      wouldWaitForApproval: true,
      approvalReasons: ['approval mode: an operator must approve the failover', expect.stringContaining('data-loss guard: the standby lags 3s behind') as string],
      holdOff: { durationMs: 10_000, probe: { status: 'pass', durationMs: expect.any(Number) as number, probe: expect.stringContaining('/health') as string, output: expect.any(String) as string } },
      dataLoss: { lagMs: 3_000, maxMs: 1_000, withinLimit: false, output: expect.stringContaining('lagSeconds 3') as string },
      steps: [
        { name: 'fence', kind: 'http', budgetMs: 9_000 },
        { name: 'enable-standby', kind: 'http', budgetMs: 3_000 },
      ],
      planBudgetMs: 12_000,
      rtoMs: 60_000,
      withinRto: true,
      notes: ['the primary answers the direct probe now: a real failover now would be cancelled after the hold-off'],
    });
    // Read-only probes ran; no step endpoint was called, nothing changed.
    expect(standby.calls).toEqual([]);
    expect(primary.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /health']);
    expect(replication.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /lag']);
    expect((await app.inject({ url: '/v1/activations' })).json()).toEqual({ activations: [] });
    expect((await app.inject({ url: '/v1/active?target=primary' })).json()).toEqual({ target: 'primary', active: 'primary', epoch: 0 });
    // The audit log has the drill, with who and why.
    expect(await auditOf(app, report.id)).toEqual([
      {
        time: expect.any(String) as string,
        activationId: report.id,
        target: 'primary',
        epoch: 0,
        event: 'drill',
        operator: 'alice',
        reason: 'quarterly rehearsal',
        kind: 'failover',
        mode: 'approval',
        wouldWaitForApproval: true,
        approvalReasons: report.approvalReasons,
        planBudgetMs: 12_000,
        rtoMs: 60_000,
        withinRto: true,
      },
    ]);
  });

  it('auto mode within the guard: no approval; over the RTO: withinRto false; a failing primary: the failover would go on', async () => {
    const { app, standby } = await harness.setup(
      (urls) => ({
        rto: '20s',
        holdOff: { duration: '10s', probe: { kind: 'http', url: `${urls.primary}/health`, timeout: '1s' }, attempts: 1 },
        dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '5s' },
        plan: [{ name: 'enable-standby', kind: 'http', url: `${urls.standby}/enable`, timeout: '5s', retries: 1, retryDelay: '1s' }],
      }),
      { lagSeconds: 1, primaryStatus: 503 },
    );
    const report = (await operator(app, '/v1/drills', { target: 'primary' })).json<DrillReport>();
    expect(report).toMatchObject({ mode: 'auto', wouldWaitForApproval: false, approvalReasons: [], planBudgetMs: 11_000, rtoMs: 20_000, withinRto: false });
    expect(report.holdOff.probe?.status).toBe('fail');
    expect(report.dataLoss).toMatchObject({ lagMs: 1_000, withinLimit: true });
    expect(report.notes).toEqual(['the primary fails the direct probe now: a real failover now would go on after the hold-off']);
    expect(standby.calls).toEqual([]);
  });

  it('an unknown lag needs approval; without a pinned probe nothing is probed; notify-only never waits', async () => {
    const { app, standby } = await harness.setup(() => ({
      mode: 'notify-only',
      holdOff: { duration: '5s' },
      dataLoss: { kind: 'http', url: 'http://127.0.0.1:9/lag', maxDataLoss: '1s', timeout: '500ms' },
    }));
    const report = (await operator(app, '/v1/drills', { target: 'primary', kind: 'failover' })).json<DrillReport>();
    expect(report.mode).toBe('notify-only');
    expect(report.approvalReasons).toEqual([expect.stringContaining('lag is unknown') as string]);
    expect(report.wouldWaitForApproval).toBe(false);
    expect(report.holdOff).toEqual({ durationMs: 5_000 });
    expect(report.notes).toEqual([expect.stringContaining('notify-only mode'), expect.stringContaining('no holdOff.probe is pinned')]);
    expect(report).not.toHaveProperty('rtoMs');
    expect(report).not.toHaveProperty('withinRto');
    expect(standby.calls).toEqual([]);
  });

  it('a failback: its plan, the healthy period as hold-off, failback approval; the last real step durations', async () => {
    const { app, standby, primary } = await harness.setup(
      (urls) => ({
        failback: {
          approval: true,
          plan: [{ name: 'enable-standby', kind: 'http', url: `${urls.standby}/disable`, timeout: '4s' }],
          primaryHealthy: { probe: { kind: 'http', url: `${urls.primary}/health` }, for: '30s' },
        },
      }),
      {
        // A failback of this target succeeded before, its step taking 1 s (seeded as a failover, then marked a failback).
        before: async (raw) =>
          withStore(config(raw), async (coordination) => {
            const seeded = await seedFailover(coordination, 'primary', 1, 'act_old_failback');
            await coordination.transact({ activations: [seeded.id] }, (tx) => tx.putActivation({ ...seeded, kind: 'failback' }));
          }),
      },
    );
    const report = (await operator(app, '/v1/drills', { target: 'primary', kind: 'failback', reason: 'practice' })).json<DrillReport>();
    expect(report).toMatchObject({
      kind: 'failback',
      mode: 'approval',
      wouldWaitForApproval: true,
      approvalReasons: [expect.stringContaining('failback.approval') as string],
      holdOff: { durationMs: 30_000, probe: { status: 'pass' } },
      steps: [{ name: 'enable-standby', kind: 'http', budgetMs: 4_000, lastDurationMs: 1_000 }],
      planBudgetMs: 4_000,
    });
    expect(report).not.toHaveProperty('dataLoss');
    expect(standby.calls).toEqual([]);
    expect(primary.calls).toHaveLength(1);
  });

  it('the last real duration comes from the newest succeeded activation of the same kind', async () => {
    const { app } = await harness.setup(() => ({}), {
      before: async (raw) => withStore(config(raw), async (coordination) => void (await seedFailover(coordination, 'primary', 1))),
    });
    const report = (await operator(app, '/v1/drills', { target: 'primary' })).json<DrillReport>();
    expect(report.steps).toEqual([{ name: 'enable-standby', kind: 'http', budgetMs: 2_000, lastDurationMs: 1_000 }]);
    const failback = (await operator(app, '/v1/drills', { target: 'primary', kind: 'failback' })).json<DrillReport>();
    expect(failback.steps).toEqual([{ name: 'disable-standby', kind: 'http', budgetMs: 5_000 }]);
  });

  it('needs an operator token; 404 for an unknown target; 409 without a failback plan; 400 for a bad kind', async () => {
    const { app, standby } = await harness.setup(() => ({ failback: undefined }));
    expect((await operator(app, '/v1/drills', { target: 'primary' }, {})).statusCode).toBe(401);
    const unknown = await operator(app, '/v1/drills', { target: 'nope' });
    expect([unknown.statusCode, unknown.json<{ error: string }>().error]).toEqual([404, 'unknown-target']);
    const noFailback = await operator(app, '/v1/drills', { target: 'primary', kind: 'failback' });
    expect([noFailback.statusCode, noFailback.json<{ error: string }>().error]).toEqual([409, 'no-failback-plan']);
    expect((await operator(app, '/v1/drills', { target: 'primary', kind: 'sideways' })).statusCode).toBe(400);
    expect(standby.calls).toEqual([]);
  });
});
