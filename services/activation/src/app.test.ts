import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { buildApp, type ActivationApp, type AppOptions } from './app.js';
import type { ErrorBody } from './routes/errors.js';
import { activationRequest, config, fakeEndpoint, memoryLogger, SECRET_1, SECRET_2, signed, tempDir } from './test-support/fixtures.js';

type Endpoint = Awaited<ReturnType<typeof fakeEndpoint>>;

let dir: Awaited<ReturnType<typeof tempDir>>;
let endpoint: Endpoint | undefined;
let apps: ActivationApp[];
let log: ReturnType<typeof memoryLogger>;

beforeEach(async () => {
  dir = await tempDir();
  apps = [];
  endpoint = undefined;
  log = memoryLogger();
});

afterEach(async () => {
  for (const app of apps) await app.close();
  await endpoint?.close();
  await dir.remove();
});

function rawConfig(url: string, step: Record<string, unknown> = {}) {
  return {
    dataDir: dir.path,
    voters: [
      { id: 'watchdog-1', secret: SECRET_1 },
      { id: 'watchdog-2', secret: SECRET_2 },
    ],
    targets: [
      {
        name: 'primary',
        plan: [{ name: 'enable-standby', kind: 'http', url: `${url}/admin/enable`, body: { reason: 'failover' }, timeout: '2s', retryDelay: '10ms', ...step }],
      },
    ],
  };
}

async function start(raw: unknown, options: Partial<AppOptions> = {}): Promise<ActivationApp> {
  const app = await buildApp({ config: config(raw), logger: log.logger, ...options });
  apps.push(app);
  return app;
}

/** Starts the app in front of a fake standby endpoint answering with `respond`. */
async function startWith(respond?: Parameters<typeof fakeEndpoint>[0], step: Record<string, unknown> = {}, options: Partial<AppOptions> = {}) {
  endpoint = await fakeEndpoint(respond);
  return start(rawConfig(endpoint.url, step), options);
}

function post(app: ActivationApp, body: unknown, options: Parameters<typeof signed>[1] = {}) {
  const { payload, headers } = signed(body, options);
  return app.inject({ method: 'POST', url: '/v1/activations', payload, headers });
}

async function finished(app: ActivationApp, id: string): Promise<Activation> {
  return vi.waitFor(
    async () => {
      const activation = (await app.inject({ url: `/v1/activations/${id}` })).json<Activation>();
      if (activation.status === 'running') throw new Error('still running');
      return activation;
    },
    { timeout: 5_000, interval: 20 },
  );
}

async function active(app: ActivationApp, target = 'primary') {
  return (await app.inject({ url: `/v1/active?target=${target}` })).json<ActiveSide>();
}

describe('POST /v1/activations', () => {
  it('accepts a signed request, runs the plan once and makes the secondary active with epoch 1', async () => {
    const app = await startWith();
    const res = await post(app, activationRequest());
    expect(res.statusCode).toBe(202);
    const created = res.json<Activation>();
    expect(created).toMatchObject({ target: 'primary', voter: 'watchdog-1', incidentId: 'inc-1', status: 'running', epoch: 1 });
    expect(created.id).toMatch(/^act_/);

    const done = await finished(app, created.id);
    expect(done.status).toBe('succeeded');
    expect(done.steps).toEqual([
      expect.objectContaining({ name: 'enable-standby', kind: 'http', status: 'succeeded', attempts: 1, responseStatus: 200 }),
    ]);
    expect(endpoint!.calls).toHaveLength(1);
    expect(endpoint!.calls[0]).toMatchObject({ method: 'POST', url: '/admin/enable', body: '{"reason":"failover"}' });
    expect(endpoint!.calls[0]!.headers['content-type']).toBe('application/json');
    expect(await active(app)).toEqual({ target: 'primary', active: 'secondary', epoch: 1, revision: 2, since: done.finishedAt, activationId: created.id });

    const audit = (await readFile(join(dir.path, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    expect(audit.map((r) => r.event)).toEqual(['activation-created', 'step-started', 'step-finished', 'activation-finished']);

    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('vigil_activations_total{target="primary",outcome="succeeded"} 1');
    expect(metrics).toContain('vigil_activation_epoch{target="primary"} 1');
    expect(metrics).toContain('vigil_active_side{target="primary",side="secondary"} 1');
    expect(metrics).toContain('vigil_active_side{target="primary",side="primary"} 0');
    expect(metrics).toContain('vigil_activation_step_duration_seconds_count{target="primary",step="enable-standby"} 1');
  });

  it('reports the primary, with the new epoch and the activation, while the plan runs', async () => {
    let release = () => {};
    const app = await startWith((_n, _req, res) => {
      release = () => res.end('ok');
    });
    const created = (await post(app, activationRequest())).json<Activation>();
    await vi.waitFor(() => expect(endpoint!.calls).toHaveLength(1));
    expect(await active(app)).toEqual({ target: 'primary', active: 'primary', epoch: 1, revision: 1, activationId: created.id });
    release();
    expect((await finished(app, created.id)).status).toBe('succeeded');
    expect((await active(app)).active).toBe('secondary');
  });

  it('refuses a second activation of an active target until a failback', async () => {
    const app = await startWith();
    const first = (await post(app, activationRequest())).json<Activation>();
    await finished(app, first.id);
    const second = await post(app, activationRequest({ voter: 'watchdog-2', incident: { ...activationRequest().incident, id: 'inc-2' } }), { secret: SECRET_2 });
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ error: 'already-active', activationId: first.id, epoch: 1 });
    expect(endpoint!.calls).toHaveLength(1);
  });

  it('starts one activation and one plan run for 20 concurrent requests', async () => {
    const app = await startWith();
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(app, activationRequest())));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.every((s) => s === 202 || s === 409 || s === 200)).toBe(true);
    const created = responses.find((r) => r.statusCode === 202)!.json<Activation>();
    for (const r of responses.filter((x) => x.statusCode === 409)) expect(r.json()).toMatchObject({ error: 'already-active', activationId: created.id });
    await finished(app, created.id);
    expect(endpoint!.calls).toHaveLength(1);
    const list = (await app.inject({ url: '/v1/activations?target=primary' })).json<{ activations: Activation[] }>();
    expect(list.activations).toHaveLength(1);
  });

  it('treats the same id and signature as a replay, and a re-signed retry as the same request', async () => {
    const app = await startWith();
    const delivery = signed(activationRequest(), { id: 'msg_retry' });
    const first = await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
    expect(first.statusCode).toBe(202);

    const replay = await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ error: 'replayed' });

    const retry = await post(app, activationRequest(), { id: 'msg_retry', nowMs: Date.now() + 2_000 });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<Activation>().id).toBe(first.json<Activation>().id);

    const reused = await post(app, activationRequest({ incident: { ...activationRequest().incident, id: 'inc-9' } }), { id: 'msg_retry' });
    expect(reused.statusCode).toBe(409);
    expect(reused.json()).toMatchObject({ error: 'conflict' });

    await finished(app, first.json<Activation>().id);
    expect(endpoint!.calls).toHaveLength(1);
  });

  it.each([
    ['a bad signature', () => signed(activationRequest(), { secret: 'whsec_bm90LWEtY29uZmlndXJlZC1zZWNyZXQ=' }), 'bad-signature'],
    ['a stale timestamp', () => signed(activationRequest(), { nowMs: Date.now() - 6 * 60_000 }), 'stale-timestamp'],
    ['an unknown voter', () => signed(activationRequest({ voter: 'ghost' })), 'unknown-voter'],
    ['a voter signing with another voter’s secret', () => signed(activationRequest({ voter: 'watchdog-2' })), 'bad-signature'],
  ])('refuses %s with 401', async (_name, make, error) => {
    const app = await startWith();
    const { payload, headers } = make();
    const res = await app.inject({ method: 'POST', url: '/v1/activations', payload, headers });
    expect(res.statusCode).toBe(401);
    expect(res.json<ErrorBody>().error).toBe(error);
    expect(res.json<ErrorBody>().message).not.toBe('');
    expect(endpoint!.calls).toHaveLength(0);
    expect((await app.inject({ url: '/metrics' })).body).toContain(`vigil_activation_requests_rejected_total{reason="${error}"} 1`);
  });

  it('checks timestamps against the injected clock', async () => {
    const app = await startWith(undefined, {}, { now: () => Date.now() + 10 * 60_000 });
    const res = await post(app, activationRequest());
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'stale-timestamp' });
  });

  it('refuses a request without signature headers with 401', async () => {
    const app = await startWith();
    const res = await app.inject({ method: 'POST', url: '/v1/activations', payload: activationRequest() });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'missing-headers' });
  });

  it('answers 404 for an unconfigured target', async () => {
    const app = await startWith();
    const res = await post(app, activationRequest({ target: 'elsewhere' }));
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'unknown-target' });
  });

  it('answers 413 for a body over 64 KiB', async () => {
    const app = await startWith();
    const res = await post(app, { ...activationRequest(), padding: 'x'.repeat(70 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'body-too-large' });
  });

  it('answers 400 naming the field for a body that fails the schema', async () => {
    const app = await startWith();
    const res = await post(app, activationRequest({ incident: { ...activationRequest().incident, consecutiveFailures: 0 } }));
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error).toBe('invalid-request');
    expect(res.json<ErrorBody>().message).toContain('incident.consecutiveFailures');

    const missing = await post(app, { voter: 'watchdog-1', incident: activationRequest().incident });
    expect(missing.json<ErrorBody>().message).toContain('target: is required');

    const notJson = await post(app, '{"target":');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ error: 'invalid-json' });

    // The probe a request describes is checked further by the hold-off, but it must be an object.
    const probeNotObject = await post(app, { ...activationRequest(), incident: { ...activationRequest().incident, probe: 'http://primary.example/health' } });
    expect(probeNotObject.statusCode).toBe(400);
    expect(probeNotObject.json<ErrorBody>().message).toContain('incident.probe');
  });

  it('probes with what a request describes, and never serves nor logs the secrets it carries', async () => {
    const app = await startWith();
    const url = new URL(endpoint!.url);
    const probe = {
      kind: 'http',
      url: `http://vigil:hunter2@${url.host}/health?token=t0k3n-in-query`,
      headers: { authorization: 'Bearer probe-header-secret' },
      timeout: '3s',
    };
    const created = (await post(app, { ...activationRequest(), incident: { ...activationRequest().incident, probe } })).json<Activation>();
    expect(created.confirmation).toEqual({ status: 'pending', probe: `http GET http://vigil:REDACTED@${url.host}/health?token=REDACTED`, source: 'request' });
    const done = await vi.waitFor(
      async () => {
        const activation = (await app.inject({ url: `/v1/activations/${created.id}` })).json<Activation>();
        if (activation.status !== 'cancelled') throw new Error(activation.status);
        return activation;
      },
      { timeout: 5_000, interval: 20 },
    );
    // The probe went out as described (the fake standby answers 200: the primary "answered"): the failover is cancelled.
    expect(endpoint!.calls[0]!.headers.authorization).toBe('Bearer probe-header-secret');
    const served = JSON.stringify([done, (await app.inject({ url: `/v1/activations/${created.id}/audit` })).json(), (await app.inject({ url: '/v1/activations' })).json()]);
    const logged = log.lines.join('');
    for (const secret of ['hunter2', 'probe-header-secret', 't0k3n-in-query']) {
      expect(served).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
  });

  it('never logs secrets or signatures', async () => {
    const app = await startWith(undefined, { headers: { authorization: 'Bearer standby-admin-token' } });
    const delivery = signed(activationRequest());
    const res = await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
    await app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
    await finished(app, res.json<Activation>().id);
    expect(endpoint!.calls[0]!.headers.authorization).toBe('Bearer standby-admin-token');
    const text = log.lines.join('');
    expect(text).toContain('activation started');
    for (const secret of [SECRET_1.slice('whsec_'.length), SECRET_2.slice('whsec_'.length), delivery.headers['webhook-signature'].slice(3), 'standby-admin-token']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('plan failures', () => {
  it('fails the activation after the retries and leaves the primary active', async () => {
    const app = await startWith((_n, _req, res) => {
      res.statusCode = 503;
      res.end('standby not ready');
    }, { retries: 2 });
    const created = (await post(app, activationRequest())).json<Activation>();
    const done = await finished(app, created.id);
    expect(done.status).toBe('failed');
    expect(done.steps[0]).toMatchObject({ status: 'failed', attempts: 3, responseStatus: 503 });
    expect(done.steps[0]!.output).toContain('standby not ready');
    expect(endpoint!.calls).toHaveLength(3);
    expect(await active(app)).toEqual({ target: 'primary', active: 'primary', epoch: 1, revision: 2 });
    expect((await app.inject({ url: '/metrics' })).body).toContain('vigil_activations_total{target="primary",outcome="failed"} 1');

    // A failed activation does not hold the target: a later request tries again with a new epoch.
    const again = await post(app, activationRequest({ incident: { ...activationRequest().incident, id: 'inc-2' } }));
    expect(again.statusCode).toBe(202);
    expect(again.json<Activation>().epoch).toBe(2);
    await finished(app, again.json<Activation>().id);
  });

  it('does not retry a 4xx answer other than 408 and 429', async () => {
    const app = await startWith((_n, _req, res) => {
      res.statusCode = 403;
      res.end();
    }, { retries: 2 });
    const done = await finished(app, (await post(app, activationRequest())).json<Activation>().id);
    expect(done.steps[0]).toMatchObject({ status: 'failed', attempts: 1, responseStatus: 403 });
  });

  it('times out a step that hangs', async () => {
    const app = await startWith(() => {}, { timeout: '150ms', retries: 1 });
    const done = await finished(app, (await post(app, activationRequest())).json<Activation>().id);
    expect(done.status).toBe('failed');
    expect(done.steps[0]).toMatchObject({ status: 'failed', attempts: 2, output: 'timed out after 150ms' });
  });
});

describe('reads', () => {
  it('lists activations newest first and answers 404 for an unknown one', async () => {
    const app = await startWith((_n, _req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const first = (await post(app, activationRequest())).json<Activation>();
    await finished(app, first.id);
    const second = (await post(app, activationRequest({ incident: { ...activationRequest().incident, id: 'inc-2' } }))).json<Activation>();
    await finished(app, second.id);
    const list = (await app.inject({ url: '/v1/activations?target=primary' })).json<{ activations: Activation[] }>();
    expect(list.activations.map((a) => a.id)).toEqual([second.id, first.id]);
    expect((await app.inject({ url: '/v1/activations?target=other' })).json()).toEqual({ activations: [] });

    const unknown = await app.inject({ url: '/v1/activations/act_nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown-activation' });
  });

  it('answers /v1/active for a fresh target, 404 for an unknown one, 400 without a target', async () => {
    const app = await startWith();
    expect(await active(app)).toEqual({ target: 'primary', active: 'primary', epoch: 0 });
    const unknown = await app.inject({ url: '/v1/active?target=nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown-target' });
    const missing = await app.inject({ url: '/v1/active' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<ErrorBody>().error).toBe('invalid-request');
    expect(missing.json<ErrorBody>().message).toContain('target');
  });

  it('serves probes and metrics', async () => {
    const app = await startWith();
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('vigil_build_info{service="activation"');
    expect(metrics.body).toContain('vigil_activations_total{target="primary",outcome="succeeded"} 0');
    expect(metrics.body).toContain('vigil_active_side{target="primary",side="primary"} 1');
    const unknown = await app.inject({ url: '/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'not-found' });
  });
});
