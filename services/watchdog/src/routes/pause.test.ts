import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../audit.js';
import type { Pause } from '../maintenance.js';
import { operatorOf, pauseRoutes, type ApiAccess } from './pause.js';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const alice = { name: 'alice', token: 'alice-token-0123456789' };
const bob = { name: 'bob', token: 'bob-token-0123456789' };
const shared = 'shared-token-0123456789';

async function setup(access: ApiAccess | undefined) {
  const pauses = new Map<string, Pause>();
  const audit: AuditRecord[] = [];
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  await app.register(pauseRoutes, {
    access,
    exists: (name) => name === 'primary',
    pause: (name, pause) => {
      pauses.set(name, pause);
      return Promise.resolve();
    },
    resume: (name) => Promise.resolve(pauses.delete(name)),
    audit: (record) => {
      audit.push(record);
      return Promise.resolve();
    },
    now: () => NOW,
  });
  const post = (url: string, token: string | undefined, payload?: unknown) =>
    app.inject({ method: 'POST', url, ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }), ...(payload !== undefined && { payload: payload as object }) });
  return { app, pauses, audit, post };
}

describe('operator tokens', () => {
  it('maps each token to its operator, the shared token to none, anything else to no match', () => {
    const access = { token: shared, operators: [alice, bob] };
    expect(operatorOf(alice.token, access)).toEqual({ operator: 'alice' });
    expect(operatorOf(bob.token, access)).toEqual({ operator: 'bob' });
    expect(operatorOf(shared, access)).toEqual({ operator: undefined });
    expect(operatorOf('bob-token-012345678', access)).toBeUndefined();
    expect(operatorOf('', access)).toBeUndefined();
    expect(operatorOf(alice.token, { operators: [] })).toBeUndefined();
  });
});

describe('pause and resume routes', () => {
  it('pauses for a duration: until is now + for, recorded with the reason and the named operator (the body cannot claim another)', async () => {
    const { pauses, audit, post } = await setup({ operators: [alice, bob] });
    const response = await post('/v1/monitors/primary/pause', alice.token, { for: '30m', reason: 'db upgrade', operator: 'mallory' });
    expect(response.statusCode).toBe(200);
    const pause = { since: '2026-11-22T10:00:00.000Z', until: '2026-11-22T10:30:00.000Z', reason: 'db upgrade', operator: 'alice' };
    expect(response.json()).toEqual({ monitor: 'primary', paused: true, pause });
    expect(pauses.get('primary')).toEqual(pause);
    expect(audit).toEqual([{ time: '2026-11-22T10:00:00.000Z', event: 'paused', monitor: 'primary', operator: 'alice', reason: 'db upgrade', until: '2026-11-22T10:30:00.000Z' }]);

    const resumed = await post('/v1/monitors/primary/resume', bob.token, { reason: 'done early' });
    expect(resumed.json()).toEqual({ monitor: 'primary', paused: false, wasPaused: true });
    expect(audit[1]).toEqual({ time: '2026-11-22T10:00:00.000Z', event: 'resumed', monitor: 'primary', operator: 'bob', reason: 'done early' });
  });

  it('with the shared token, takes the body\'s operator, else "api"; without `for` the pause has no end', async () => {
    const { audit, post } = await setup({ token: shared });
    expect((await post('/v1/monitors/primary/pause', shared, { operator: 'carol', reason: 'r' })).json()).toMatchObject({ pause: { operator: 'carol' } });
    const second = await post('/v1/monitors/primary/pause', shared);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ monitor: 'primary', paused: true, pause: { since: '2026-11-22T10:00:00.000Z', operator: 'api' } });
    expect((await post('/v1/monitors/primary/resume', shared)).statusCode).toBe(200);
    expect(audit.map((r) => [r.event, r.operator, r.until])).toEqual([
      ['paused', 'carol', undefined],
      ['paused', 'api', undefined],
      ['resumed', 'api', undefined],
    ]);
  });

  it.each(['soon', '30', '-5m', '0s', '400d', ''])('refuses `for: %j` with 400 and a clear message, pausing nothing', async (value) => {
    const { pauses, audit, post } = await setup({ operators: [alice] });
    const response = await post('/v1/monitors/primary/pause', alice.token, { for: value });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ error: string; message: string }>().error).toBe('bad-duration');
    expect(response.json<{ message: string }>().message).toContain('`for` must be a duration');
    expect(pauses.size).toBe(0);
    expect(audit).toEqual([]);
  });

  it('answers 401 without a matching token, 404 for an unknown monitor, and 404 when no token is configured', async () => {
    const { post, audit } = await setup({ operators: [alice] });
    expect((await post('/v1/monitors/primary/pause', undefined)).statusCode).toBe(401);
    expect((await post('/v1/monitors/primary/pause', shared)).statusCode).toBe(401);
    expect((await post('/v1/monitors/nope/pause', alice.token)).statusCode).toBe(404);
    expect(audit).toEqual([]);
    expect((await (await setup(undefined)).post('/v1/monitors/primary/pause', alice.token)).statusCode).toBe(404);
    expect((await (await setup({ operators: [] })).post('/v1/monitors/primary/pause', alice.token)).statusCode).toBe(404);
  });
});
