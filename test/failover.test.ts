import { afterEach, describe, expect, it } from 'vitest';
import { parseDuration } from '@vigil/core';
import { FAST, getJson, startHangingServer, startSystem, waitFor, type System } from '@vigil/demo';

/** The detection bound the README states: interval × (failureThreshold − 1) + timeout. */
const boundMs = parseDuration(FAST.interval)! * (FAST.failureThreshold - 1) + parseDuration(FAST.timeout)!;
const intervalMs = parseDuration(FAST.interval)!;

type Monitors = { monitors: { name: string; state: string }[] };

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const firing = (s: System) => s.sink.alerts.filter((a) => a.status === 'firing');
const resolved = (s: System) => s.sink.alerts.filter((a) => a.status === 'resolved');
const distinct = (ids: (string | undefined)[]) => new Set(ids).size;

async function expectOneFailover(s: System, failedAt: number, scenario: string): Promise<void> {
  await waitFor('the standby to be enabled', () => s.standby.enableCalls() === 1);
  const active = await waitFor('the secondary to be reported active', async () => {
    const { body } = await getJson<{ active: string; epoch: number }>(s.url('activation', '/v1/active?target=primary'));
    return body.active === 'secondary' ? body : undefined;
  });
  expect(active.epoch).toBe(1);

  const detectionMs = s.activationRequests[0]!.at - failedAt;
  console.log(
    `${scenario}: failure → activation request ${detectionMs}ms; bound interval×(failureThreshold−1)+timeout = ${boundMs}ms ` +
      `(interval ${FAST.interval}, failureThreshold ${FAST.failureThreshold}, timeout ${FAST.timeout}; plus up to one interval until the first failed probe)`,
  );
  expect(detectionMs).toBeLessThanOrEqual(boundMs + intervalMs + 1_000);

  // Let several more probe cycles fail: nothing more may be sent for this incident.
  await new Promise((ok) => setTimeout(ok, intervalMs * 4));
  expect(firing(s)).toHaveLength(1);
  expect(firing(s)[0]).toMatchObject({ severity: 'critical', monitor: 'primary' });
  expect(s.activationRequests).toHaveLength(1);
  expect(s.activationRequests[0]).toMatchObject({ method: 'POST', path: '/v1/activations', status: 202 });
  expect(s.standby.enableCalls()).toBe(1);
  expect(s.sink.rejected()).toBe(0);
  const { body } = await getJson<{ activations: unknown[] }>(s.url('activation', '/v1/activations?target=primary'));
  expect(body.activations).toHaveLength(1);
}

async function expectOneResolution(s: System): Promise<void> {
  await waitFor('the resolved alert', () => resolved(s).length === 1, 20_000);
  await new Promise((ok) => setTimeout(ok, intervalMs * 3));
  expect(resolved(s)).toHaveLength(1);
  expect(resolved(s)[0]!.dedupKey).toBe(firing(s)[0]!.dedupKey);
  expect(distinct(s.sink.alerts.map((a) => a.id))).toBe(2);
  // No automatic failback: the secondary stays active, the standby is not called again.
  const { body } = await getJson<{ active: string; epoch: number }>(s.url('activation', '/v1/active?target=primary'));
  expect(body).toMatchObject({ active: 'secondary', epoch: 1 });
  expect(s.standby.enableCalls()).toBe(1);
  expect(s.activationRequests).toHaveLength(1);
}

describe('failover loop with real processes', () => {
  it('primary region killed (connection refused): one alert, one activation, epoch 1, one resolution', async () => {
    system = await startSystem({ timing: FAST });
    await waitFor('a first healthy probe', async () => {
      const { body } = await getJson<Monitors>(system!.url('watchdog', '/v1/monitors'));
      return body.monitors[0]?.state === 'up';
    });
    const failedAt = Date.now();
    await Promise.all([system.services['health-check'].stop('SIGKILL'), system.primary.setMode('stopped')]);
    await expectOneFailover(system, failedAt, 'region killed');

    await system.primary.setMode('up');
    await system.restart('health-check');
    await expectOneResolution(system);
  });

  it('primary app hanging behind the health-check: /health fails within its deadline, one activation', async () => {
    system = await startSystem({ timing: FAST });
    await waitFor('a first healthy probe', async () => (await getJson<Monitors>(system!.url('watchdog', '/v1/monitors'))).body.monitors[0]?.state === 'up');
    const failedAt = Date.now();
    await system.primary.setMode('hanging');
    const started = Date.now();
    const health = await fetch(system.url('health-check', '/health'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(health.status).toBe(503);
    await expectOneFailover(system, failedAt, 'primary app hanging');

    await system.primary.setMode('up');
    await expectOneResolution(system);
  });

  it('primary region hanging (accepts, never answers): probes time out, one activation', async () => {
    system = await startSystem({ timing: FAST });
    await waitFor('a first healthy probe', async () => (await getJson<Monitors>(system!.url('watchdog', '/v1/monitors'))).body.monitors[0]?.state === 'up');
    const failedAt = Date.now();
    await system.services['health-check'].stop('SIGKILL');
    const hanging = await startHangingServer(system.settings.ports.healthCheck);
    try {
      await expectOneFailover(system, failedAt, 'region hanging');
    } finally {
      await hanging.close();
    }
    await system.restart('health-check');
    await expectOneResolution(system);
  });
});
