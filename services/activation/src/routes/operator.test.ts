import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Activation } from '@vigil/core';
import { auditOf, getActivation, operator, opsHarness, vote } from '../test-support/ops.js';

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
