/**
 * The activation service as a real process in front of real local HTTP servers (standbys, an
 * alert sink, a primary to probe, a replication-lag endpoint): exactly-once under concurrency,
 * quorum, approval, cancel, data-loss guard, hold-off, the operator API, the change stream and
 * the requests it must refuse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import { activationRequest, fakeEndpoint, SECRET_1, SECRET_2, signed } from '../services/activation/src/test-support/fixtures.js';

const SECRET_3 = 'whsec_dGhpcmQtd2F0Y2hkb2ctc2VjcmV0LTU2Nzg=';
const TOKEN = 'operator-token-0123456789abcdefghijklmnop';
const SECRETS = { 'watchdog-1': SECRET_1, 'watchdog-2': SECRET_2, 'watchdog-3': SECRET_3 } as const;

type Endpoint = Awaited<ReturnType<typeof fakeEndpoint>>;
let dir: string;
let service: ServiceProcess;
let base: string;
let standby: Endpoint;
let sink: Endpoint;
let primary: Endpoint;
let replication: Endpoint;
let primaryStatus = 503;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-activation-system-'));
  standby = await fakeEndpoint();
  sink = await fakeEndpoint();
  primary = await fakeEndpoint((_n, _req, res) => {
    res.statusCode = primaryStatus;
    res.end();
  });
  replication = await fakeEndpoint((_n, _req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ lagSeconds: 120 }));
  });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const step = (target: string) => `[{ name: enable-standby, kind: http, url: "${standby.url}/${target}/enable" }]`;
  writeFileSync(
    join(dir, 'activation.yaml'),
    `server: { host: 127.0.0.1, port: ${port} }
dataDir: ${dir}/data
voters:
  - { id: watchdog-1, secret: "\${VOTER_1}" }
  - { id: watchdog-2, secret: "\${VOTER_2}" }
  - { id: watchdog-3, secret: "\${VOTER_3}" }
operators:
  - { name: alice, token: "\${OPERATOR_TOKEN}" }
alerts:
  webhooks:
    - { name: sink, url: "${sink.url}/alerts", secret: "\${VOTER_1}" }
targets:
  - { name: concurrent, plan: ${step('concurrent')} }
  - { name: quorum, quorum: { votes: 2, window: 1m }, plan: ${step('quorum')} }
  - { name: approval, mode: approval, plan: ${step('approval')} }
  - { name: cancelled, mode: approval, plan: ${step('cancelled')} }
  - name: guarded
    dataLoss: { kind: http, url: "${replication.url}/lag", maxDataLoss: 30s }
    plan: ${step('guarded')}
  - name: held-off
    holdOff: { duration: 300ms, probe: { kind: http, url: "${primary.url}/health" } }
    plan: ${step('held-off')}
`,
  );
  service = startService('activation', join(dir, 'activation.yaml'), {
    env: { VOTER_1: SECRET_1, VOTER_2: SECRET_2, VOTER_3: SECRET_3, OPERATOR_TOKEN: TOKEN },
  });
  await waitFor('activation to be ready', async () => {
    if (service.child.exitCode !== null) throw new Error(`activation exited: ${service.lines.join('\n')}`);
    return (await fetch(`${base}/readyz`)).ok;
  });
});

afterAll(async () => {
  await service.stop('SIGTERM');
  await Promise.all([standby.close(), sink.close(), primary.close(), replication.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function body(target: string, voter: keyof typeof SECRETS = 'watchdog-1', incident = `inc-${target}-${voter}`) {
  return activationRequest({ target, voter, incident: { ...activationRequest().incident, id: incident } });
}

async function send(delivery: ReturnType<typeof signed>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/activations`, { method: 'POST', headers: delivery.headers, body: delivery.payload });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const vote = (target: string, voter: keyof typeof SECRETS = 'watchdog-1') => send(signed(body(target, voter), { secret: SECRETS[voter] }));

async function operator(path: string, payload: unknown = {}, token = TOKEN) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(payload) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const getJson = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;
const activation = (id: unknown) => getJson<Activation>(`/v1/activations/${String(id)}`);
const active = (target: string) => getJson<ActiveSide>(`/v1/active?target=${target}`);
const until = (id: unknown, status: Activation['status']) => waitFor(`activation ${String(id)} to be ${status}`, async () => (await activation(id)).status === status, 15_000);
const enableCalls = (target: string) => standby.calls.filter((c) => c.url === `/${target}/enable`).length;
const pagesAbout = (text: string) => sink.calls.map((c) => JSON.parse(c.body) as { summary: string; annotations: Record<string, string> }).filter((a) => a.summary.includes(text));

describe('activation service (real process)', () => {
  it('turns 100 identical concurrent deliveries and 100 concurrent requests into one activation, one plan run, epoch + 1', async () => {
    const identical = signed(body('concurrent'), { id: 'msg-concurrent' });
    const results = await Promise.all([
      ...Array.from({ length: 100 }, () => send(identical)),
      ...Array.from({ length: 100 }, (_, i) => send(signed(body('concurrent'), { id: `msg-concurrent-${i}` }))),
    ]);
    const created = results.filter((r) => r.status === 202);
    expect(created).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 202)) expect(['replayed', 'already-active']).toContain(r.body.error);
    await until(created[0]!.body.id, 'succeeded');
    expect(enableCalls('concurrent')).toBe(1);
    expect(await active('concurrent')).toMatchObject({ active: 'secondary', epoch: 1, activationId: created[0]!.body.id });
    expect((await getJson<{ activations: Activation[] }>('/v1/activations?target=concurrent')).activations).toHaveLength(1);
    const audit = await getJson<{ records: { event: string }[] }>(`/v1/activations/${String(created[0]!.body.id)}/audit`);
    expect(audit.records.map((r) => r.event)).toEqual(['activation-created', 'step-started', 'step-finished', 'activation-finished']);
  });

  it('quorum 2 of 3: one vote does nothing, the same voter twice counts once, a second distinct voter triggers', async () => {
    expect(await vote('quorum', 'watchdog-1')).toEqual({ status: 202, body: { status: 'vote-recorded', target: 'quorum', votes: 1, quorum: 2 } });
    expect((await vote('quorum', 'watchdog-1')).body).toMatchObject({ status: 'vote-recorded', votes: 1 });
    expect(await active('quorum')).toEqual({ target: 'quorum', active: 'primary', epoch: 0 });
    expect(enableCalls('quorum')).toBe(0);
    const second = await vote('quorum', 'watchdog-2');
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ epoch: 1, voter: 'watchdog-2' });
    await until(second.body.id, 'succeeded');
    expect(enableCalls('quorum')).toBe(1);
  });

  it('approval: pages how to approve, runs nothing until an operator approves', async () => {
    const created = await vote('approval');
    expect(created.body).toMatchObject({ status: 'awaiting-approval' });
    const [page] = await waitFor('the page', () => (pagesAbout('approval —').length > 0 ? pagesAbout('approval —') : undefined));
    expect(page!.annotations.approve).toContain(`/v1/activations/${String(created.body.id)}/approve`);
    expect(enableCalls('approval')).toBe(0);
    expect((await operator(`/v1/activations/${String(created.body.id)}/approve`, {}, 'not-the-token')).status).toBe(401);
    const approved = await operator(`/v1/activations/${String(created.body.id)}/approve`, { comment: 'go' });
    expect(approved.status).toBe(200);
    await until(created.body.id, 'succeeded');
    expect(enableCalls('approval')).toBe(1);
    expect(await active('approval')).toMatchObject({ active: 'secondary', epoch: 1 });
  });

  it('cancel: the operator cancels, nothing runs, the primary stays active', async () => {
    const created = await vote('cancelled');
    const cancelled = await operator(`/v1/activations/${String(created.body.id)}/cancel`, { comment: 'planned maintenance' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect(await active('cancelled')).toMatchObject({ active: 'primary' });
    expect(enableCalls('cancelled')).toBe(0);
  });

  it('data-loss guard: auto mode waits for approval and the page says how much data would be lost', async () => {
    const created = await vote('guarded');
    await until(created.body.id, 'awaiting-approval');
    const [page] = await waitFor('the page', () => (pagesAbout('guarded').length > 0 ? pagesAbout('guarded') : undefined));
    expect(page!.summary).toContain('up to 120s of writes would be lost');
    expect((await activation(created.body.id)).dataLoss).toMatchObject({ lagMs: 120_000, maxMs: 30_000, exceeded: true });
    expect(enableCalls('guarded')).toBe(0);
    await operator(`/v1/activations/${String(created.body.id)}/approve`);
    await until(created.body.id, 'succeeded');
    expect(enableCalls('guarded')).toBe(1);
  });

  it('hold-off: cancels when the primary answers the direct re-probe', async () => {
    primaryStatus = 503;
    const created = await vote('held-off');
    expect(created.body).toMatchObject({ status: 'holding-off' });
    primaryStatus = 200;
    await until(created.body.id, 'cancelled');
    expect((await activation(created.body.id)).reason).toContain('primary answered');
    expect(enableCalls('held-off')).toBe(0);
  });

  it.each([
    ['a bad signature', () => signed(body('concurrent'), { secret: 'whsec_bm90LWEtY29uZmlndXJlZC1zZWNyZXQ=' }), 401, 'bad-signature'],
    ['a stale timestamp', () => signed(body('concurrent'), { nowMs: Date.now() - 10 * 60_000 }), 401, 'stale-timestamp'],
    ['an unknown voter', () => signed({ ...body('concurrent'), voter: 'ghost' }), 401, 'unknown-voter'],
    ['an oversized body', () => signed({ ...body('concurrent'), padding: 'x'.repeat(70 * 1024) }), 413, 'body-too-large'],
  ])('refuses %s', async (_name, make, status, error) => {
    const result = await send(make());
    expect(result).toMatchObject({ status, body: { error } });
  });

  it('refuses a replayed delivery', async () => {
    const delivery = signed(body('quorum', 'watchdog-3'), { secret: SECRET_3 });
    expect((await send(delivery)).status).toBe(409); // the target is already held
    expect(await send(delivery)).toMatchObject({ status: 401, body: { error: 'replayed' } });
  });

  it('streams changes of the active side as server-sent events', async () => {
    const events: ActiveSide[] = [];
    const req = httpRequest(`${base}/v1/active/stream?target=cancelled`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const m of chunk.matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(m[1]!) as ActiveSide);
      });
    });
    req.end();
    try {
      await waitFor('the first event', () => events.length === 1);
      const created = await vote('cancelled', 'watchdog-2');
      await waitFor('the claim event', () => events.some((e) => e.activationId === created.body.id));
      await operator(`/v1/activations/${String(created.body.id)}/cancel`);
      await waitFor('the release event', () => events.at(-1)?.activationId === undefined && events.length >= 3);
      expect(events.map((e) => e.epoch)).toEqual([1, 2, 2]);
    } finally {
      req.destroy();
    }
  });

  it('exports activations by outcome, epoch and active side', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('vigil_activations_total{target="concurrent",outcome="succeeded"} 1');
    expect(text).toContain('vigil_activations_total{target="held-off",outcome="cancelled"} 1');
    expect(text).toContain('vigil_activation_epoch{target="quorum"} 1');
    expect(text).toContain('vigil_active_side{target="approval",side="secondary"} 1');
    expect(text).toContain('vigil_activation_step_duration_seconds_count{target="concurrent",step="enable-standby"} 1');
  });
});
