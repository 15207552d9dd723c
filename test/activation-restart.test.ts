import { afterEach, describe, expect, it } from 'vitest';
import { signedHeaders, type ActivationRequest } from '@vigil/core';
import { FAST, getJson, startSystem, waitFor, type System } from '@vigil/demo';

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const startedAt = new Date().toISOString();

function request(incident: string): string {
  const body: ActivationRequest = {
    target: 'primary',
    voter: 'watchdog-1',
    incident: { id: incident, monitor: 'primary', startedAt, consecutiveFailures: 3, evidence: [] },
  };
  return JSON.stringify(body);
}

async function post(s: System, body: string, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(s.url('activation', '/v1/activations'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signedHeaders(s.secrets.VIGIL_VOTER_SECRET, body, id) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('activation service restarted after activating', () => {
  it('keeps the epoch and refuses to run the plan again', async () => {
    system = await startSystem({ timing: FAST });
    await system.services.watchdog.stop('SIGTERM'); // this test drives activation directly

    const first = await post(system, request('inc-1'), 'msg-1');
    expect(first.status).toBe(202);
    await waitFor('the plan to succeed', async () => (await getJson<{ active: string }>(system!.url('activation', '/v1/active?target=primary'))).body.active === 'secondary');
    expect(system.standby.enableCalls()).toBe(1);

    await system.restart('activation');

    const { body: active } = await getJson(system.url('activation', '/v1/active?target=primary'));
    expect(active).toMatchObject({ target: 'primary', active: 'secondary', epoch: 1 });

    // The same request retried by its sender (same id, fresh signature): the same activation, no new run.
    // Signatures have one-second timestamps: a retry is signed in a later second than the original.
    await new Promise((ok) => setTimeout(ok, 1000 - (Date.now() % 1000) + 10));
    const retried = await post(system, request('inc-1'), 'msg-1');
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: first.body.id, epoch: 1 });

    // A new incident while the secondary is already active: refused, no plan run.
    const repeated = await post(system, request('inc-2'), 'msg-2');
    expect(repeated.status).toBe(409);
    expect(repeated.body).toMatchObject({ error: 'already-active', epoch: 1 });

    await new Promise((ok) => setTimeout(ok, 500));
    expect(system.standby.enableCalls()).toBe(1);
    const { body: record } = await getJson<{ status: string; epoch: number }>(system.url('activation', `/v1/activations/${String(first.body.id)}`));
    expect(record).toMatchObject({ status: 'succeeded', epoch: 1 });
  });
});
