import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Activation } from '@vigil/core';
import { operator, openStream, opsHarness, vote } from '../test-support/ops.js';
import { seedFailover, withStore } from '../test-support/state.js';
import { config } from '../test-support/fixtures.js';
import { progressOf } from './activation-stream.js';

const harness = opsHarness();
let streams: ReturnType<typeof openStream>[] = [];
afterEach(async () => {
  for (const s of streams) s.close();
  streams = [];
  await harness.cleanup();
});

const open = (url: string) => {
  const s = openStream(url);
  streams.push(s);
  return s;
};
const activationsOf = (s: ReturnType<typeof openStream>) => s.events.filter((e) => e.event === 'activation').map((e) => e.data as Activation);

describe('GET /v1/activations/stream', () => {
  it('sends every change of an activation: created, each step started and finished, the status', async () => {
    const { app } = await harness.setup((urls) => ({
      holdOff: { enabled: false },
      plan: [
        { name: 'one', kind: 'http', url: `${urls.standby}/one` },
        { name: 'two', kind: 'http', url: `${urls.standby}/two` },
      ],
    }));
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const stream = open(`${address}/v1/activations/stream`);
    await vi.waitFor(() => expect(stream.text).toContain(': connected'));
    expect(stream.status).toBe(200);
    expect(stream.contentType).toBe('text/event-stream');
    const created = (await vote(app)).json<Activation>();
    await vi.waitFor(() => expect(activationsOf(stream).at(-1)?.status).toBe('succeeded'));
    const seen = activationsOf(stream);
    expect(seen.every((a) => a.id === created.id)).toBe(true);
    expect(seen.map((a) => `${a.status}:${a.steps.map((s) => `${s.name}=${s.status}`).join(',')}`)).toEqual([
      'running:',
      'running:one=running',
      'running:one=succeeded',
      'running:one=succeeded,two=running',
      'running:one=succeeded,two=succeeded',
      'succeeded:one=succeeded,two=succeeded',
    ]);
  });

  it('at connect: the activations not yet final and the newest of each target; ?target= filters', async () => {
    const { app } = await harness.setup(
      () => ({ mode: 'approval', holdOff: { enabled: false } }),
      {
        top: {},
        before: async (raw) => {
          const targets = raw.targets as Record<string, unknown>[];
          targets.push({ ...targets[0], name: 'other', mode: 'auto' });
          await withStore(config(raw), async (coordination) => {
            await seedFailover(coordination, 'other', 1, 'act_other_old');
            await seedFailover(coordination, 'other', 2, 'act_other_new');
          });
        },
      },
    );
    const pending = (await vote(app)).json<Activation>();
    await vi.waitFor(async () => expect((await app.inject({ url: `/v1/activations/${pending.id}` })).json<Activation>().status).toBe('awaiting-approval'));
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    const all = open(`${address}/v1/activations/stream`);
    await vi.waitFor(() => expect(activationsOf(all)).toHaveLength(2));
    expect(activationsOf(all).map((a) => a.id).sort()).toEqual([pending.id, 'act_other_new'].sort());

    const one = open(`${address}/v1/activations/stream?target=primary`);
    await vi.waitFor(() => expect(activationsOf(one)).toHaveLength(1));
    expect(activationsOf(one)[0]).toMatchObject({ id: pending.id, status: 'awaiting-approval' });

    // A change of the other target reaches only the unfiltered stream.
    await operator(app, `/v1/activations/${pending.id}/cancel`, { reason: 'drill over' });
    await vi.waitFor(() => expect(activationsOf(one).at(-1)?.status).toBe('cancelled'));
    await vi.waitFor(() => expect(activationsOf(all).at(-1)?.status).toBe('cancelled'));
    expect(activationsOf(one).every((a) => a.target === 'primary')).toBe(true);

    const unknown = await app.inject({ url: '/v1/activations/stream?target=nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown-target' });
  });

  it('sends a heartbeat comment every 15 s and ends when the service closes', async () => {
    const { app } = await harness.setup();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const stream = open(`${address}/v1/activations/stream`);
      await vi.waitFor(() => expect(stream.text).toContain(': connected'));
      vi.advanceTimersByTime(15_000);
      await vi.waitFor(() => expect(stream.text).toContain(': keep-alive'));
    } finally {
      vi.useRealTimers();
    }
    const stream = streams[0]!;
    await app.close();
    await vi.waitFor(() => expect(stream.ended).toBe(true));
  });

  it('never sends an older version of an activation after a newer one', () => {
    const base: Activation = { id: 'a', requestId: 'r', target: 't', voter: 'v', incidentId: 'i', status: 'holding-off', epoch: 1, createdAt: '', steps: [] };
    const versions: Activation[] = [
      base,
      { ...base, confirmation: { status: 'fail', probe: 'http GET x' } },
      { ...base, confirmation: { status: 'fail', probe: 'http GET x' }, dataLoss: { maxMs: 1, exceeded: true } },
      { ...base, status: 'awaiting-approval' },
      { ...base, status: 'running' },
      { ...base, status: 'running', steps: [{ name: 's', kind: 'http', status: 'running', startedAt: '', attempts: 0 }] },
      { ...base, status: 'running', steps: [{ name: 's', kind: 'http', status: 'succeeded', startedAt: '', attempts: 1 }] },
      { ...base, status: 'succeeded', steps: [{ name: 's', kind: 'http', status: 'succeeded', startedAt: '', attempts: 1 }] },
    ];
    const progress = versions.map(progressOf);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    expect(new Set(progress).size).toBe(progress.length);
  });
});
