import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Activation } from '@vigil/core';
import { activationRequest, SECRET_1, signed } from '../test-support/fixtures.js';
import { auth, auditOf, getActivation, operator, opsHarness, vote } from '../test-support/ops.js';

const harness = opsHarness();
afterEach(() => harness.cleanup());

/** An app whose target waits for approval after one vote; the created activation's id. */
async function awaitingApproval() {
  const setup = await harness.setup(() => ({ mode: 'approval', holdOff: { enabled: false } }));
  const created = (await vote(setup.app)).json<Activation>();
  await vi.waitFor(async () => expect((await getActivation(setup.app, created.id)).status).toBe('awaiting-approval'));
  return { ...setup, id: created.id };
}

describe('operator bodies carry a reason (comment is its alias)', () => {
  it('approve: the reason is recorded as the approval\'s comment, with the operator', async () => {
    const { app, id } = await awaitingApproval();
    const res = await operator(app, `/v1/activations/${id}/approve`, { reason: 'primary confirmed dead by the DBA' });
    expect(res.statusCode).toBe(200);
    expect((await auditOf(app, id)).find((r) => r.event === 'approved')).toMatchObject({ operator: 'alice', comment: 'primary confirmed dead by the DBA' });
  });

  it('cancel: reason wins over comment when both are given', async () => {
    const { app, id } = await awaitingApproval();
    const res = await operator(app, `/v1/activations/${id}/cancel`, { reason: 'false alarm', comment: 'ignored' });
    expect(res.statusCode).toBe(200);
    expect((await auditOf(app, id)).find((r) => r.event === 'cancelled')).toMatchObject({ operator: 'alice', comment: 'false alarm' });
    expect(res.json<Activation>().reason).toBe('cancelled by alice: false alarm');
  });

  it('comment alone still works; a reason over 1000 characters is refused', async () => {
    const { app, id } = await awaitingApproval();
    expect((await operator(app, `/v1/activations/${id}/cancel`, { reason: 'x'.repeat(1001) })).statusCode).toBe(400);
    expect((await operator(app, `/v1/activations/${id}/cancel`, { comment: 'old client' })).statusCode).toBe(200);
    expect((await auditOf(app, id)).find((r) => r.event === 'cancelled')).toMatchObject({ comment: 'old client' });
  });

  it('failback: failback-created records the reason', async () => {
    const { app } = await harness.setup(() => ({ holdOff: { enabled: false } }));
    const created = (await vote(app)).json<Activation>();
    await vi.waitFor(async () => expect((await getActivation(app, created.id)).status).toBe('succeeded'));
    const res = await operator(app, '/v1/failbacks', { target: 'primary', reason: 'primary repaired' });
    expect(res.statusCode).toBe(202);
    const failback = res.json<Activation>();
    expect((await auditOf(app, failback.id))[0]).toMatchObject({ event: 'failback-created', operator: 'alice', comment: 'primary repaired' });
  });
});

describe('GET /v1/operator', () => {
  it('names the operator a token belongs to, and refuses a missing or unknown token without acting', async () => {
    const { app } = await harness.setup(() => ({}));
    const known = await app.inject({ url: '/v1/operator', headers: auth });
    expect(known.statusCode).toBe(200);
    expect(known.json()).toEqual({ operator: 'alice' });
    const unknown = await app.inject({ url: '/v1/operator', headers: { authorization: 'Bearer not-a-known-token-0123456789' } });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ error: 'bad-token' });
    expect((await app.inject({ url: '/v1/operator' })).json()).toMatchObject({ error: 'missing-token' });
  });
});

describe('votes keep the probe evidence their watchdogs sent', () => {
  it('the activation record holds each vote with its monitor, failures and the last probes, outputs bounded', async () => {
    const { app } = await harness.setup(() => ({ mode: 'approval', holdOff: { enabled: false } }));
    const evidence = Array.from({ length: 14 }, (_, i) => ({ time: `2026-11-22T10:00:${String(10 + i).padStart(2, '0')}Z`, status: 'fail' as const, durationMs: 100 + i, output: i === 13 ? 'x'.repeat(1500) : `refused ${i}` }));
    const { payload, headers } = signed(activationRequest({ incident: { ...activationRequest().incident, id: 'inc-evidence', consecutiveFailures: 14, evidence } }), { secret: SECRET_1 });
    const created = (await app.inject({ method: 'POST', url: '/v1/activations', payload, headers })).json<Activation>();
    const [kept] = (await getActivation(app, created.id)).votes!;
    expect(kept).toMatchObject({ voter: 'watchdog-1', monitor: 'primary-health', incidentId: 'inc-evidence', incidentStartedAt: '2026-11-22T10:00:00Z', consecutiveFailures: 14 });
    // The last 10 of 14, in order; the 1,500-character output cut to 500.
    expect(kept!.evidence!.map((e) => e.output?.slice(0, 10))).toEqual([...evidence.slice(4, 13).map((e) => e.output), 'xxxxxxxxxx']);
    expect(kept!.evidence!.at(-1)!.output).toHaveLength(500);
    expect(kept!.evidence!.at(-1)!.output!.endsWith('…')).toBe(true);
  });
});
