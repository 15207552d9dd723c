import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { buildApp, type ActivationApp, type AppOptions } from './app.js';
import { activationRequest, config, fakeEndpoint, memoryLogger, SECRET_1, signed, tempDir } from './test-support/fixtures.js';

type Dir = Awaited<ReturnType<typeof tempDir>>;

let dirs: Dir[];
let endpoint: Awaited<ReturnType<typeof fakeEndpoint>>;
let open: Set<ActivationApp>;
let log: ReturnType<typeof memoryLogger>;

beforeEach(() => {
  dirs = [];
  open = new Set();
  log = memoryLogger();
});

afterEach(async () => {
  for (const app of open) await app.close();
  await endpoint.close();
  for (const dir of dirs) await dir.remove();
});

async function newDir(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir.path;
}

async function start(dataDir: string, step: Record<string, unknown> = {}, options: Partial<AppOptions> = {}): Promise<ActivationApp> {
  const raw = {
    dataDir,
    voters: [{ id: 'watchdog-1', secret: SECRET_1 }],
    targets: [{ name: 'primary', plan: [{ name: 'enable-standby', kind: 'http', url: `${endpoint.url}/enable`, ...step }] }],
  };
  const app = await buildApp({ config: config(raw), logger: log.logger, ...options });
  open.add(app);
  return app;
}

async function stop(app: ActivationApp): Promise<void> {
  open.delete(app);
  await app.close();
}

function post(app: ActivationApp, delivery: ReturnType<typeof signed>) {
  return app.inject({ method: 'POST', url: '/v1/activations', payload: delivery.payload, headers: delivery.headers });
}

async function get(app: ActivationApp, id: string): Promise<Activation> {
  return (await app.inject({ url: `/v1/activations/${id}` })).json<Activation>();
}

async function storedActivation(dataDir: string, id: string): Promise<Activation | undefined> {
  const state = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8')) as { activations: Activation[] };
  return state.activations.find((a) => a.id === id);
}

const anotherIncident = () => activationRequest({ incident: { ...activationRequest().incident, id: 'inc-2' } });

describe('after a restart', () => {
  it('keeps the epoch and the active side, and neither a repeated request nor a retry runs the plan again', async () => {
    endpoint = await fakeEndpoint();
    const dataDir = await newDir();
    const first = await start(dataDir);
    const delivery = signed(activationRequest(), { id: 'msg_first' });
    const created = (await post(first, delivery)).json<Activation>();
    await vi.waitFor(async () => expect((await get(first, created.id)).status).toBe('succeeded'));
    await stop(first);

    const second = await start(dataDir);
    const side = (await second.inject({ url: '/v1/active?target=primary' })).json<ActiveSide>();
    expect(side).toMatchObject({ active: 'secondary', epoch: 1, activationId: created.id });

    const repeated = await post(second, signed(anotherIncident()));
    expect(repeated.statusCode).toBe(409);
    expect(repeated.json()).toMatchObject({ error: 'already-active', activationId: created.id, epoch: 1 });

    const replay = await post(second, delivery);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ error: 'replayed' });

    const retry = await post(second, signed(activationRequest(), { id: 'msg_first', nowMs: Date.now() + 2_000 }));
    expect(retry.statusCode).toBe(200);
    expect(retry.json<Activation>().id).toBe(created.id);

    expect(endpoint.calls).toHaveLength(1);
  });

  it('marks an activation found running as interrupted, never re-runs it, and keeps the target held', async () => {
    endpoint = await fakeEndpoint(() => {}); // the standby never answers: the plan is mid-step
    const crashed = await newDir();
    const first = await start(crashed, { timeout: '30s' }, { closeGraceMs: 50 });
    const created = (await post(first, signed(activationRequest()))).json<Activation>();
    await vi.waitFor(() => expect(endpoint.calls).toHaveLength(1));

    // What the disk holds if the process dies now: the step was recorded as started before it ran.
    const restarted = await newDir();
    await copyFile(join(crashed, 'state.json'), join(restarted, 'state.json'));
    expect((await storedActivation(restarted, created.id))?.steps[0]?.status).toBe('running');

    const second = await start(restarted);
    const activation = await get(second, created.id);
    expect(activation.status).toBe('interrupted');
    expect(activation.finishedAt).toBeDefined();
    expect(activation.steps[0]?.status).toBe('failed');
    expect(activation.steps[0]?.output).toContain('effect is unknown');
    expect((await storedActivation(restarted, created.id))?.status).toBe('interrupted');
    expect(log.lines.some((l) => l.includes('"level":"error"') && l.includes('interrupted by a restart'))).toBe(true);

    const side = (await second.inject({ url: '/v1/active?target=primary' })).json<ActiveSide>();
    expect(side).toEqual({ target: 'primary', active: 'primary', epoch: 1, revision: 1, activationId: created.id });
    const repeated = await post(second, signed(anotherIncident()));
    expect(repeated.statusCode).toBe(409);
    expect(repeated.json()).toMatchObject({ error: 'already-active' });
    expect(endpoint.calls).toHaveLength(1);
  });
});

describe('a plan cut short by a crash', () => {
  it('resumes from the step in flight when it is idempotent, and runs it again', async () => {
    let answer = false;
    endpoint = await fakeEndpoint((_n, req, res) => {
      if (req.url === '/enable' && !answer) return; // hangs: the process "dies" here
      res.end('ok');
    });
    const crashed = await newDir();
    const plan = (extra: Record<string, unknown>) => ({
      dataDir: '',
      voters: [{ id: 'watchdog-1', secret: SECRET_1 }],
      targets: [
        {
          name: 'primary',
          plan: [
            { name: 'enable-standby', kind: 'http', url: `${endpoint.url}/enable`, timeout: '30s', ...extra },
            { name: 'switch-traffic', kind: 'http', url: `${endpoint.url}/switch` },
          ],
        },
      ],
    });
    const first = await buildApp({ config: config({ ...plan({ idempotent: true }), dataDir: crashed }), logger: log.logger, closeGraceMs: 50 });
    open.add(first);
    const created = (await post(first, signed(activationRequest()))).json<Activation>();
    await vi.waitFor(() => expect(endpoint.calls).toHaveLength(1));
    const restarted = await newDir();
    await copyFile(join(crashed, 'state.json'), join(restarted, 'state.json'));
    answer = true;

    const second = await buildApp({ config: config({ ...plan({ idempotent: true }), dataDir: restarted }), logger: log.logger });
    open.add(second);
    await vi.waitFor(async () => expect((await get(second, created.id)).status).toBe('succeeded'));
    const done = await get(second, created.id);
    expect(done.steps.map((s) => [s.name, s.status])).toEqual([
      ['enable-standby', 'failed'],
      ['enable-standby', 'succeeded'],
      ['switch-traffic', 'succeeded'],
    ]);
    expect(endpoint.calls.map((c) => c.url)).toEqual(['/enable', '/enable', '/switch']);
  });
});

describe('closing', () => {
  it('lets the step in flight finish and saves the outcome', async () => {
    endpoint = await fakeEndpoint((_n, _req, res) => setTimeout(() => res.end('ok'), 200));
    const dataDir = await newDir();
    const app = await start(dataDir);
    const created = (await post(app, signed(activationRequest()))).json<Activation>();
    await vi.waitFor(() => expect(endpoint.calls).toHaveLength(1));
    await stop(app);
    expect((await storedActivation(dataDir, created.id))?.status).toBe('succeeded');
  });

  it('abandons a step still hanging after the grace period and records the activation as interrupted', async () => {
    endpoint = await fakeEndpoint(() => {});
    const dataDir = await newDir();
    const app = await start(dataDir, { timeout: '30s' }, { closeGraceMs: 100 });
    const created = (await post(app, signed(activationRequest()))).json<Activation>();
    await vi.waitFor(() => expect(endpoint.calls).toHaveLength(1));
    await stop(app);
    const stored = await storedActivation(dataDir, created.id);
    expect(stored).toMatchObject({ status: 'interrupted' });
    expect(stored?.steps[0]?.status).toBe('failed');
    expect(stored?.steps[0]?.output).toContain('abandoned');

    const again = await start(dataDir);
    expect((await post(again, signed(anotherIncident()))).statusCode).toBe(409);
  });
});
