/**
 * The activation service killed with SIGKILL in the middle of a plan, then started again on the
 * same data directory: a step that may have had an effect is never run twice unless it is
 * marked idempotent; the recorded outcome says what happened and an operator is paged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import { activationRequest, fakeEndpoint, SECRET_1, signed } from '../services/activation/src/test-support/fixtures.js';

const TOKEN = 'operator-token-0123456789abcdefghijklmnop';
type Endpoint = Awaited<ReturnType<typeof fakeEndpoint>>;
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Until `release`, calls to a path ending in /switch hang, as a step in flight when the process dies. */
async function standbyThatBlocks(): Promise<Endpoint & { release(): void }> {
  let released = false;
  const endpoint = await fakeEndpoint((_n, req, res) => {
    if (req.url.endsWith('/switch') && !released) return;
    res.end('ok');
  });
  return { ...endpoint, release: () => (released = true) };
}

describe('activation service killed mid-plan', () => {
  it('marks a plan cut short in a non-idempotent step interrupted and pages; resumes one cut short in an idempotent step; fails back the interrupted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-activation-crash-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const standby = await standbyThatBlocks();
    const sink = await fakeEndpoint();
    cleanup.push(() => standby.close(), () => sink.close());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const plan = (target: string, idempotent: boolean) => `
    plan:
      - { name: enable-standby, kind: http, url: "${standby.url}/${target}/enable" }
      - { name: switch-traffic, kind: http, url: "${standby.url}/${target}/switch", timeout: 60s, idempotent: ${idempotent} }
      - { name: announce, kind: notify, message: "traffic switched" }`;
    const configPath = join(dir, 'activation.yaml');
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: ${port} }
dataDir: ${dir}/data
voters: [{ id: watchdog-1, secret: "\${VOTER_1}" }]
operators: [{ name: alice, token: "\${OPERATOR_TOKEN}" }]
alerts: { webhooks: [{ name: sink, url: "${sink.url}/alerts", secret: "\${VOTER_1}" }] }
targets:
  - name: once-only${plan('once-only', false)}
    failback:
      plan: [{ name: undo, kind: http, url: "${standby.url}/once-only/undo" }]
      primaryHealthy: { probe: { kind: http, url: "${standby.url}/primary-health" }, for: 100ms, interval: 50ms }
  - name: repeatable${plan('repeatable', true)}
`,
    );
    const start = async (): Promise<ServiceProcess> => {
      const service = startService('activation', configPath, { env: { VOTER_1: SECRET_1, OPERATOR_TOKEN: TOKEN } });
      cleanup.push(() => service.stop('SIGKILL'));
      await waitFor('activation to be ready', async () => {
        if (service.child.exitCode !== null) throw new Error(`activation exited: ${service.lines.join('\n')}`);
        return (await fetch(`${base}/readyz`)).ok;
      });
      return service;
    };
    const post = async (target: string) => {
      const { payload, headers } = signed(activationRequest({ target, incident: { ...activationRequest().incident, id: `inc-${target}` } }));
      const res = await fetch(`${base}/v1/activations`, { method: 'POST', headers, body: payload });
      return { status: res.status, body: (await res.json()) as Activation };
    };
    const get = async <T>(path: string) => (await (await fetch(`${base}${path}`)).json()) as T;
    const calls = (path: string) => standby.calls.filter((c) => c.url === path).length;

    const first = await start();
    const onceOnly = (await post('once-only')).body;
    const repeatable = (await post('repeatable')).body;
    // Both plans are between steps: the first step completed, the second is in flight.
    await waitFor('both switch steps to be in flight', () => calls('/once-only/switch') === 1 && calls('/repeatable/switch') === 1);
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    standby.release();

    await start();
    await waitFor('the resumed plan to succeed', async () => (await get<Activation>(`/v1/activations/${repeatable.id}`)).status === 'succeeded');
    const interrupted = await get<Activation>(`/v1/activations/${onceOnly.id}`);
    expect(interrupted).toMatchObject({ status: 'interrupted', epoch: 1 });
    expect(interrupted.reason).toContain('switch-traffic, which is not idempotent');
    expect(interrupted.steps.map((s) => [s.name, s.status])).toEqual([
      ['enable-standby', 'succeeded'],
      ['switch-traffic', 'failed'],
    ]);
    // No step ran twice in the non-idempotent plan; only the idempotent step ran again in the other.
    expect(calls('/once-only/enable')).toBe(1);
    expect(calls('/once-only/switch')).toBe(1);
    expect(calls('/repeatable/enable')).toBe(1);
    expect(calls('/repeatable/switch')).toBe(2);
    const resumed = await get<Activation>(`/v1/activations/${repeatable.id}`);
    expect(resumed.steps.map((s) => [s.name, s.status])).toEqual([
      ['enable-standby', 'succeeded'],
      ['switch-traffic', 'failed'],
      ['switch-traffic', 'succeeded'],
      ['announce', 'succeeded'],
    ]);

    // The interrupted target stays held (primary still reported, epoch kept); an operator is paged.
    expect(await get<ActiveSide>('/v1/active?target=once-only')).toEqual({ target: 'once-only', active: 'primary', epoch: 1, revision: 1, activationId: onceOnly.id });
    expect((await post('once-only')).status).toBe(409);
    expect(await get<ActiveSide>('/v1/active?target=repeatable')).toMatchObject({ active: 'secondary', epoch: 1 });
    await waitFor('the interruption page', () => sink.calls.some((c) => c.body.includes(`${onceOnly.id} was interrupted`)));
    const audit = await get<{ records: { event: string }[] }>(`/v1/activations/${repeatable.id}/audit`);
    expect(audit.records.map((r) => r.event)).toContain('plan-resumed');

    // The operator undoes the half-run activation with its failback plan: the target is free again, with the next epoch.
    const failback = await fetch(`${base}/v1/failbacks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ target: 'once-only', comment: 'checked the standby by hand' }),
    });
    expect(failback.status).toBe(202);
    const started = (await failback.json()) as Activation;
    await waitFor('the failback to succeed', async () => (await get<Activation>(`/v1/activations/${started.id}`)).status === 'succeeded');
    expect(calls('/once-only/undo')).toBe(1);
    expect(await get<ActiveSide>('/v1/active?target=once-only')).toMatchObject({ active: 'primary', epoch: 2 });
    expect(await get<ActiveSide>('/v1/active?target=once-only')).not.toHaveProperty('activationId');
  });
});
