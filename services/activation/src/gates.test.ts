import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { buildApp, type ActivationApp } from './app.js';
import { activationRequest, closedPort, config, fakeEndpoint, memoryLogger, SECRET_1, SECRET_2, signed, tempDir } from './test-support/fixtures.js';

const SECRET_3 = 'whsec_dGhpcmQtd2F0Y2hkb2ctc2VjcmV0LTU2Nzg=';
const TOKEN = 'operator-token-0123456789abcdefghijklmnop';
const auth = { authorization: `Bearer ${TOKEN}` };

let dir: Awaited<ReturnType<typeof tempDir>>;
let endpoints: Awaited<ReturnType<typeof fakeEndpoint>>[];
let apps: ActivationApp[];
let log: ReturnType<typeof memoryLogger>;

beforeEach(async () => {
  dir = await tempDir();
  apps = [];
  endpoints = [];
  log = memoryLogger();
});

afterEach(async () => {
  for (const app of apps) await app.close();
  for (const e of endpoints) await e.close();
  await dir.remove();
});

async function endpoint(respond?: Parameters<typeof fakeEndpoint>[0]) {
  const e = await fakeEndpoint(respond);
  endpoints.push(e);
  return e;
}

type Urls = { primary: string; replication: string };

/** A standby, an alert sink, a primary to probe and a replication-lag endpoint, and the app in front of them with `target` settings. */
async function setup(target: Record<string, unknown> | ((urls: Urls) => Record<string, unknown>) = {}, options: { primaryStatus?: () => number; lagSeconds?: number } = {}) {
  const standby = await endpoint();
  const sink = await endpoint();
  const primary = await endpoint((_n, _req, res) => {
    res.statusCode = options.primaryStatus?.() ?? 503;
    res.end();
  });
  const replication = await endpoint((_n, _req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ lagSeconds: options.lagSeconds ?? 0 }));
  });
  const urls = { primary: primary.url, replication: replication.url };
  const rawConfig = (target: Record<string, unknown> | ((urls: Urls) => Record<string, unknown>)) => ({
    dataDir: dir.path,
    externalUrl: 'https://activation.example',
    voters: [
      { id: 'watchdog-1', secret: SECRET_1 },
      { id: 'watchdog-2', secret: SECRET_2 },
      { id: 'watchdog-3', secret: SECRET_3 },
    ],
    operators: [{ name: 'alice', token: TOKEN }],
    alerts: { webhooks: [{ name: 'sink', url: `${sink.url}/alerts`, secret: SECRET_1 }] },
    targets: [
      {
        name: 'primary',
        plan: [{ name: 'enable-standby', kind: 'http', url: `${standby.url}/enable`, timeout: '2s' }],
        failback: {
          plan: [{ name: 'disable-standby', kind: 'http', url: `${standby.url}/disable` }],
          primaryHealthy: { probe: { kind: 'http', url: `${primary.url}/health` }, for: '200ms', interval: '50ms' },
        },
        ...(typeof target === 'function' ? target(urls) : target),
      },
    ],
  });
  const app = await buildApp({ config: config(rawConfig(target)), logger: log.logger });
  apps.push(app);
  /** Closes `app` and starts it again on the same state, with these target settings. */
  const restart = async (settings: Parameters<typeof rawConfig>[0]) => {
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    const again = await buildApp({ config: config(rawConfig(settings)), logger: log.logger });
    apps.push(again);
    return again;
  };
  return { app, standby, sink, primary, replication, restart };
}

const incident = (id: string) => ({ ...activationRequest().incident, id });
function vote(app: ActivationApp, voter: string, secret: string, id?: string) {
  const { payload, headers } = signed(activationRequest({ voter, incident: incident(`inc-${voter}`) }), { secret, ...(id && { id }) });
  return app.inject({ method: 'POST', url: '/v1/activations', payload, headers });
}
/** A vote whose request describes the probe its watchdog runs (`incident.probe`). */
function voteProbing(app: ActivationApp, probe: Record<string, unknown>, voter = 'watchdog-1', secret = SECRET_1) {
  const { payload, headers } = signed(activationRequest({ voter, incident: { ...incident(`inc-${voter}`), probe } }), { secret });
  return app.inject({ method: 'POST', url: '/v1/activations', payload, headers });
}
/**
 * What a watchdog's http monitor sends (services/watchdog/src/monitor.ts, probeDescription). The
 * next attempt would start only after the timeout, so that a slow machine cannot add one: the
 * number of attempts and requests below depends on what the primary answers, not on its speed.
 */
const httpProbe = (url: string) => ({ kind: 'http', url, method: 'GET', expectStatus: ['2xx'], timeout: '2s', attempts: 4, hedgeDelay: '1m' });
type AuditRecords = { records: ({ event: string } & Record<string, unknown>)[] };
const auditOf = async (app: ActivationApp, id: string) => (await app.inject({ url: `/v1/activations/${id}/audit` })).json<AuditRecords>().records;
const operator = (app: ActivationApp, path: string, body: unknown = {}, headers: Record<string, string> = auth) =>
  app.inject({ method: 'POST', url: path, payload: body as Record<string, unknown>, headers });
const get = async (app: ActivationApp, id: string) => (await app.inject({ url: `/v1/activations/${id}` })).json<Activation>();
const FINAL_STATUSES: readonly Activation['status'][] = ['succeeded', 'failed', 'interrupted', 'cancelled', 'notified'];
/**
 * Waits for the status; for a final one, also for its `activation-finished` record and the saved
 * state: the status turns final in memory before the record and the file are written.
 */
const waitStatus = (app: ActivationApp, id: string, status: Activation['status']) =>
  vi.waitFor(
    async () => {
      expect((await get(app, id)).status).toBe(status);
      if (!FINAL_STATUSES.includes(status)) return;
      expect((await auditOf(app, id)).map((r) => r.event)).toContain('activation-finished');
      const saved = JSON.parse(await readFile(join(dir.path, 'state.json'), 'utf8')) as { activations: Activation[] };
      expect(saved.activations.find((a) => a.id === id)?.status).toBe(status);
    },
    { timeout: 5_000, interval: 20 },
  );
const side = async (app: ActivationApp) => (await app.inject({ url: '/v1/active?target=primary' })).json<ActiveSide>();
const pages = (sink: { calls: { body: string }[] }) => sink.calls.map((c) => JSON.parse(c.body) as { summary: string; annotations: Record<string, string> });

describe('quorum', () => {
  it('2 of 3: one vote does nothing, the same voter again counts once, a second distinct voter activates', async () => {
    const { app, standby } = await setup({ quorum: { votes: 2, window: '1m' } });
    const first = await vote(app, 'watchdog-1', SECRET_1);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ status: 'vote-recorded', target: 'primary', votes: 1, quorum: 2 });
    const again = await vote(app, 'watchdog-1', SECRET_1);
    expect(again.json()).toMatchObject({ status: 'vote-recorded', votes: 1 });
    expect(await side(app)).toEqual({ target: 'primary', active: 'primary', epoch: 0 });

    const second = await vote(app, 'watchdog-2', SECRET_2);
    expect(second.statusCode).toBe(202);
    const created = second.json<Activation>();
    expect(created).toMatchObject({ status: 'running', epoch: 1, voter: 'watchdog-2' });
    expect(created.votes?.map((v) => v.voter)).toEqual(['watchdog-1', 'watchdog-2']);
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    expect((await vote(app, 'watchdog-3', SECRET_3)).statusCode).toBe(409);
  });
});

describe('approval mode', () => {
  it('pages with the approve and cancel commands, runs the plan once approved', async () => {
    const { app, standby, sink } = await setup({ mode: 'approval' });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    expect(created.status).toBe('awaiting-approval');
    await vi.waitFor(() => expect(sink.calls).toHaveLength(1));
    const [page] = pages(sink);
    expect(page!.summary).toContain('waits for approval');
    expect(page!.annotations.approve).toBe(`curl -X POST -H "authorization: Bearer $VIGIL_OPERATOR_TOKEN" https://activation.example/v1/activations/${created.id}/approve`);
    expect(JSON.stringify(page)).not.toContain(TOKEN);
    expect(standby.calls).toHaveLength(0);

    const approved = await operator(app, `/v1/activations/${created.id}/approve`, { comment: 'confirmed on the bridge' });
    expect(approved.statusCode).toBe(200);
    expect(approved.json<Activation>().approval).toMatchObject({ decidedBy: 'alice' });
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    expect((await operator(app, `/v1/activations/${created.id}/approve`)).json()).toMatchObject({ error: 'not-awaiting-approval' });

    const audit = (await app.inject({ url: `/v1/activations/${created.id}/audit` })).json<{ records: { event: string }[] }>();
    expect(audit.records.map((r) => r.event)).toEqual(['activation-created', 'approval-requested', 'page', 'approved', 'step-started', 'step-finished', 'activation-finished']);
  });

  it('cancel: nothing runs, the primary stays active and the target is free again', async () => {
    const { app, standby } = await setup({ mode: 'approval' });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    const cancelled = await operator(app, `/v1/activations/${created.id}/cancel`, { comment: 'false alarm' });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', reason: 'cancelled by alice: false alarm' });
    expect(await side(app)).toEqual({ target: 'primary', active: 'primary', epoch: 1, revision: 2 });
    expect(standby.calls).toHaveLength(0);
    expect((await operator(app, `/v1/activations/${created.id}/cancel`)).statusCode).toBe(409);
    expect((await app.inject({ url: '/metrics' })).body).toContain('vigil_activations_total{target="primary",outcome="cancelled"} 1');
  });
});

describe('data-loss guard', () => {
  it('makes even auto mode wait for approval when the standby lags too much, and says how much', async () => {
    const { app, standby, sink } = await setup((urls) => ({ dataLoss: { kind: 'http', url: `${urls.replication}/lag`, maxDataLoss: '30s' } }), { lagSeconds: 90 });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    expect(created.status).toBe('holding-off');
    await waitStatus(app, created.id, 'awaiting-approval');
    const waiting = await get(app, created.id);
    expect(waiting.dataLoss).toMatchObject({ lagMs: 90_000, exceeded: true, maxMs: 30_000 });
    await vi.waitFor(() => expect(sink.calls).toHaveLength(1));
    expect(pages(sink)[0]!.summary).toContain('data-loss guard: the standby lags 90s behind (allowed: 30s): up to 90s of writes would be lost');
    expect(pages(sink)[0]!.annotations.dataAtRisk).toContain('up to 90s of writes');
    expect(standby.calls).toHaveLength(0);
    await operator(app, `/v1/activations/${created.id}/approve`);
    await waitStatus(app, created.id, 'succeeded');
  });

  it('runs at once in auto mode when the lag is within the limit', async () => {
    const { app, standby } = await setup((urls) => ({ dataLoss: { kind: 'http', url: urls.replication, maxDataLoss: '30s' } }), { lagSeconds: 2 });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect((await get(app, created.id)).dataLoss).toMatchObject({ lagMs: 2_000, exceeded: false });
    expect(standby.calls).toHaveLength(1);
  });
});

describe('hold-off', () => {
  it('cancels when the primary answers the direct probe after the hold-off', async () => {
    let primaryStatus = 503;
    const { app, standby } = await setup((urls) => ({ holdOff: { duration: '200ms', probe: { kind: 'http', url: `${urls.primary}/health` } } }), {
      primaryStatus: () => primaryStatus,
    });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    expect(created.status).toBe('holding-off');
    primaryStatus = 200;
    await waitStatus(app, created.id, 'cancelled');
    expect((await get(app, created.id)).reason).toContain('primary answered the direct probe');
    expect(standby.calls).toHaveLength(0);
    expect(await side(app)).toMatchObject({ active: 'primary', epoch: 1 });
  });

  it('goes on when the primary is still down after the hold-off', async () => {
    const { app, standby } = await setup((urls) => ({ holdOff: { duration: '100ms', probe: { kind: 'http', url: `${urls.primary}/health` } } }));
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    const audit = (await app.inject({ url: `/v1/activations/${created.id}/audit` })).json<{ records: { event: string; status?: string }[] }>();
    expect(audit.records[1]).toMatchObject({ event: 'primary-probed', status: 'fail' });
  });
});

describe('confirmation: the direct probe of the primary, on by default', () => {
  it('probes what the request describes: a primary that answers cancels the failover', async () => {
    const { app, standby, primary } = await setup({}, { primaryStatus: () => 200 });
    const probe = `http GET ${primary.url}/health`;
    const res = await voteProbing(app, httpProbe(`${primary.url}/health`));
    expect(res.statusCode).toBe(202);
    const created = res.json<Activation>();
    expect(created).toMatchObject({ status: 'holding-off', confirmation: { status: 'pending', probe, source: 'request' } });
    await waitStatus(app, created.id, 'cancelled');
    const done = await get(app, created.id);
    expect(done.reason).toContain(`the primary answered the direct probe after the hold-off (${probe}: `);
    expect(done.confirmation).toMatchObject({ status: 'pass', probe, source: 'request', attempts: 1 });
    expect(primary.calls.map((c) => c.url)).toEqual(['/health']);
    expect(standby.calls).toHaveLength(0);
    expect(await side(app)).toMatchObject({ active: 'primary', epoch: 1 });
    const audit = await auditOf(app, created.id);
    expect(audit.map((r) => r.event)).toEqual(['activation-created', 'primary-probed', 'cancelled', 'activation-finished']);
    expect(audit[1]).toMatchObject({ status: 'pass', probe, source: 'request', attempts: 1 });
  });

  it('lets the plan run when the primary fails the probe, and records the outcome', async () => {
    const { app, standby, primary } = await setup();
    const created = (await voteProbing(app, httpProbe(`${primary.url}/health`))).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    // An HTTP answer is the primary's own word: no further attempt could hear another.
    expect((await get(app, created.id)).confirmation).toMatchObject({ status: 'fail', source: 'request', attempts: 1, output: expect.stringContaining('503') as unknown });
    expect((await auditOf(app, created.id))[1]).toMatchObject({ event: 'primary-probed', status: 'fail' });
  });

  it('fails fast on a stopped primary: every attempt refused, then the plan runs', async () => {
    const { app, standby } = await setup({ holdOff: { attempts: 3 } });
    const port = await closedPort();
    const created = (await voteProbing(app, { kind: 'tcp', host: '127.0.0.1', port, timeout: '1m', hedgeDelay: '1m' })).json<Activation>();
    // Were the attempts waiting for their hedge delay or the timeout, this would take minutes, not the 5s waitStatus allows.
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    expect((await get(app, created.id)).confirmation).toMatchObject({ status: 'fail', probe: `tcp 127.0.0.1:${port}`, attempts: 3, output: expect.stringContaining('ECONNREFUSED') as unknown });
  });

  it('confirms with the probe of the request that completed the quorum', async () => {
    const healthy = await endpoint();
    const { app, standby, primary } = await setup({ quorum: { votes: 2, window: '1m' } });
    expect((await voteProbing(app, httpProbe(`${healthy.url}/health`))).json()).toMatchObject({ status: 'vote-recorded' });
    const created = (await voteProbing(app, httpProbe(`${primary.url}/health`), 'watchdog-2', SECRET_2)).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect(healthy.calls).toHaveLength(0);
    expect(standby.calls).toHaveLength(1);
  });

  it('holdOff.enabled: false turns it off: the request\'s probe is not used', async () => {
    const { app, standby, primary } = await setup({ holdOff: { enabled: false } }, { primaryStatus: () => 200 });
    const created = (await voteProbing(app, httpProbe(`${primary.url}/health`))).json<Activation>();
    expect(created.status).toBe('running');
    await waitStatus(app, created.id, 'succeeded');
    expect(primary.calls).toHaveLength(0);
    expect(standby.calls).toHaveLength(1);
    expect((await get(app, created.id)).confirmation).toBeUndefined();
  });

  it('a pinned holdOff.probe overrides the request\'s', async () => {
    const healthy = await endpoint();
    const { app, standby, primary } = await setup((urls) => ({ holdOff: { probe: { kind: 'http', url: `${urls.primary}/health` } } }));
    const created = (await voteProbing(app, httpProbe(`${healthy.url}/health`))).json<Activation>();
    expect(created.confirmation).toEqual({ status: 'pending', probe: `http GET ${primary.url}/health`, source: 'config' });
    await waitStatus(app, created.id, 'succeeded');
    expect(healthy.calls).toHaveLength(0);
    expect(primary.calls.length).toBeGreaterThan(0);
    expect(standby.calls).toHaveLength(1);
  });

  it('records a malformed request probe, path and problem, and runs the plan unconfirmed', async () => {
    const { app, standby } = await setup();
    const res = await voteProbing(app, { kind: 'http', url: 'primary.example/health', timeout: 'soon' });
    expect(res.statusCode).toBe(202);
    const created = res.json<Activation>();
    // Nothing to wait for: the answer already says the plan runs.
    expect(created.status).toBe('running');
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    const { confirmation } = await get(app, created.id);
    expect(confirmation?.status).toBe('none');
    expect(confirmation?.output).toMatch(/^no probe to confirm with: the request's probe was refused \(/);
    expect(confirmation?.output).toContain('incident.probe.url: expected an http(s) URL');
    expect(confirmation?.output).toContain('incident.probe.timeout: expected a duration');
    const audit = await auditOf(app, created.id);
    expect(audit.map((r) => r.event)).toEqual(['activation-created', 'step-started', 'step-finished', 'activation-finished']);
    expect(audit[0]).toMatchObject({ confirmation: { status: 'none', output: confirmation?.output } });
  });

  it('refuses a postgres probe from a request: nothing is probed, the plan runs', async () => {
    const { app, standby } = await setup();
    const port = await closedPort();
    const created = (await voteProbing(app, { kind: 'postgres', url: `postgres://vigil:hunter2@127.0.0.1:${port}/app` })).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    const done = await get(app, created.id);
    expect(done.confirmation).toEqual({
      status: 'none',
      output: expect.stringContaining('incident.probe.kind: a request may describe an http, tcp or dns probe, not "postgres"') as unknown,
    });
    expect(JSON.stringify(await auditOf(app, created.id))).not.toContain('hunter2');
  });

  it('survives a probe nested thousands deep: refused, the plan runs, the state is saved', async () => {
    const { app, standby } = await setup();
    // Built as text: nested this deep, JSON.stringify itself would overflow the stack.
    const body = activationRequest({ incident: { ...incident('inc-deep'), probe: { kind: 'http', url: 'http://primary.example/health', expectBody: { json: { '$.a': 'DEEP' } } } } });
    const payload = JSON.stringify(body).replace('"DEEP"', `${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    const res = await app.inject({ method: 'POST', url: '/v1/activations', ...signed(payload) });
    expect(res.statusCode).toBe(202);
    const created = res.json<Activation>();
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
    expect((await get(app, created.id)).confirmation?.output).toContain('incident.probe: nested more than 16 levels deep');
    expect(JSON.parse(await readFile(join(dir.path, 'state.json'), 'utf8'))).toMatchObject({ activations: [{ id: created.id, status: 'succeeded' }] });
  });

  it('goes on as before, and says so, when the request describes no probe', async () => {
    const { app, standby } = await setup();
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    expect(created).toMatchObject({ status: 'running', confirmation: { status: 'none', output: expect.stringMatching(/^no probe to confirm with/) as unknown } });
    await waitStatus(app, created.id, 'succeeded');
    expect(standby.calls).toHaveLength(1);
  });

  it('confirms with the request\'s probe after a restart during the hold-off', async () => {
    const { app, standby, primary, restart } = await setup({ holdOff: { duration: '1h' } }, { primaryStatus: () => 200 });
    const created = (await voteProbing(app, httpProbe(`${primary.url}/health`))).json<Activation>();
    expect(created.status).toBe('holding-off');
    const again = await restart({ holdOff: { duration: '0s' } });
    await waitStatus(again, created.id, 'cancelled');
    expect((await get(again, created.id)).confirmation).toMatchObject({ status: 'pass', source: 'request' });
    expect(primary.calls).toHaveLength(1);
    expect(standby.calls).toHaveLength(0);
  });
});

describe('notify-only mode', () => {
  it('pages and never runs the plan', async () => {
    const { app, standby, sink } = await setup({ mode: 'notify-only' });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    await waitStatus(app, created.id, 'notified');
    expect(pages(sink)[0]!.summary).toContain('notify-only');
    expect(standby.calls).toHaveLength(0);
  });
});

describe('failback', () => {
  it('needs the primary healthy for the guard period, runs its own plan and increments the epoch', async () => {
    let primaryStatus = 503;
    const { app, standby } = await setup({}, { primaryStatus: () => primaryStatus });
    const created = (await vote(app, 'watchdog-1', SECRET_1)).json<Activation>();
    await waitStatus(app, created.id, 'succeeded');

    const early = (await operator(app, '/v1/failbacks', { target: 'primary' })).json<Activation>();
    expect(early).toMatchObject({ kind: 'failback', status: 'holding-off', epoch: 2, voter: 'alice' });
    await waitStatus(app, early.id, 'cancelled');
    expect(await side(app)).toMatchObject({ active: 'secondary', epoch: 2, activationId: created.id });

    primaryStatus = 200;
    const res = await operator(app, '/v1/failbacks', { target: 'primary' });
    expect(res.statusCode).toBe(202);
    expect((await operator(app, '/v1/failbacks', { target: 'primary' })).json()).toMatchObject({ error: 'failback-in-progress' });
    await waitStatus(app, res.json<Activation>().id, 'succeeded');
    expect(standby.calls.map((c) => c.url)).toEqual(['/enable', '/disable']);
    expect(await side(app)).toMatchObject({ active: 'primary', epoch: 3 });
    expect((await operator(app, '/v1/failbacks', { target: 'primary' })).json()).toMatchObject({ error: 'not-failed-over' });

    // The target is free again: the next incident fails over with the next epoch.
    const next = (await vote(app, 'watchdog-2', SECRET_2)).json<Activation>();
    expect(next.epoch).toBe(4);
  });
});

describe('operator API', () => {
  it('refuses a missing or wrong token with 401 and throttles repeated failures with 429', async () => {
    const { app } = await setup();
    expect((await operator(app, '/v1/failbacks', { target: 'primary' }, {})).json()).toMatchObject({ error: 'missing-token' });
    // A voter's secret is not an operator token.
    const voterSecret = await operator(app, '/v1/failbacks', { target: 'primary' }, { authorization: `Bearer ${SECRET_1}` });
    expect(voterSecret.statusCode).toBe(401);
    expect(voterSecret.json()).toMatchObject({ error: 'bad-token' });
    for (let i = 0; i < 8; i++) await operator(app, '/v1/failbacks', { target: 'primary' }, { authorization: 'Bearer nope' });
    const throttled = await operator(app, '/v1/failbacks', { target: 'primary' });
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(log.lines.join('')).not.toContain(TOKEN);
  });

  it('counts failed voter signatures from one address too, but not replays', async () => {
    const { app } = await setup({ quorum: { votes: 3 } });
    const delivery = signed(activationRequest(), { secret: SECRET_1 });
    await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
    for (let i = 0; i < 12; i++) {
      const replay = await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
      expect(replay.json()).toMatchObject({ error: 'replayed' });
    }
    for (let i = 0; i < 10; i++) expect((await vote(app, 'watchdog-2', SECRET_1)).json()).toMatchObject({ error: 'bad-signature' });
    const throttled = await vote(app, 'watchdog-2', SECRET_2);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json()).toMatchObject({ error: 'too-many-attempts' });
    expect((await operator(app, '/v1/failbacks', { target: 'primary' })).statusCode).toBe(429);
    expect((await app.inject({ url: '/v1/active?target=primary' })).statusCode).toBe(200);
  });

  it('refuses an oversized body with 413', async () => {
    const { app } = await setup();
    const res = await operator(app, '/v1/failbacks', { target: 'primary', comment: 'x'.repeat(8 * 1024) });
    expect(res.statusCode).toBe(413);
  });
});

describe('GET /v1/active/stream', () => {
  it('sends the current side at once and every change after', async () => {
    const { app } = await setup();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const events: ActiveSide[] = [];
    const req = httpRequest(`${address}/v1/active/stream?target=primary`, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const m of chunk.matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(m[1]!) as ActiveSide);
      });
    });
    req.end();
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toEqual({ target: 'primary', active: 'primary', epoch: 0 });
    await vote(app, 'watchdog-1', SECRET_1);
    await vi.waitFor(() => expect(events.at(-1)).toMatchObject({ active: 'secondary', epoch: 1 }));
    expect(events.map((e) => e.active)).toEqual(['primary', 'primary', 'secondary']);
    // The activation raised the epoch, and its success moved traffic in that same epoch: the
    // revision orders the two.
    expect(events.map((e) => [e.epoch, e.revision ?? 0])).toEqual([
      [0, 0],
      [1, 1],
      [1, 2],
    ]);
    req.destroy();
  });

  it('resumes from Last-Event-ID: the current state only if it is newer than the one held', async () => {
    const { app } = await setup();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    await vote(app, 'watchdog-1', SECRET_1);
    await vi.waitFor(async () => expect((await side(app)).active).toBe('secondary'));
    const open = (lastEventId?: string) =>
      new Promise<string>((resolve, reject) => {
        let text = '';
        const req = httpRequest(`${address}/v1/active/stream?target=primary`, { headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('\n\n')) {
              req.destroy();
              resolve(text);
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
    expect(await open('1.2')).toBe(': resumed\n\n');
    expect(await open('1.1')).toMatch(/^id: 1\.2\nevent: active\ndata: \{.*"active":"secondary"/);
    expect(await open('0.9')).toMatch(/^id: 1\.2\n/);
    expect(await open('not-an-id')).toMatch(/^id: 1\.2\n/);
    expect(await open()).toMatch(/^id: 1\.2\n/);
  });
});
