import { afterEach, describe, expect, it } from 'vitest';
import Value from 'typebox/value';
import type { StepRecord } from '@vigil/core';
import { fakeEndpoint } from '../test-support/fixtures.js';
import { runPlan, type PlanObserver } from './runner.js';
import { PlanStep } from './steps/index.js';

let endpoint: Awaited<ReturnType<typeof fakeEndpoint>>;
afterEach(() => endpoint.close());

const step = (name: string, path: string, extra: Record<string, unknown> = {}): PlanStep =>
  Value.Decode(PlanStep, Value.Default(PlanStep, { name, kind: 'http', url: `${endpoint.url}${path}`, retryDelay: '10ms', ...extra }));

function recorder() {
  const events: string[] = [];
  const finished: StepRecord[] = [];
  const observer: PlanObserver = {
    stepStarted: (record) => {
      events.push(`start ${record.name}`);
      return Promise.resolve();
    },
    stepFinished: (record) => {
      events.push(`end ${record.name} ${record.status}`);
      finished.push(record);
      return Promise.resolve();
    },
  };
  return { events, finished, observer };
}

const signals = () => ({ now: () => Date.parse('2026-11-22T10:00:00Z'), stop: new AbortController().signal, abort: new AbortController().signal });

describe('runPlan', () => {
  it('runs steps in order and stops at the first failure', async () => {
    endpoint = await fakeEndpoint((_n, req, res) => {
      res.statusCode = req.url === '/fence' ? 500 : 200;
      res.end();
    });
    const { events, finished, observer } = recorder();
    const plan = [step('enable', '/enable'), step('fence', '/fence', { retries: 1 }), step('switch', '/switch')];
    expect(await runPlan(plan, observer, signals())).toEqual({ status: 'failed', step: 'fence' });
    expect(events).toEqual(['start enable', 'end enable succeeded', 'start fence', 'end fence failed']);
    expect(finished[1]).toMatchObject({ attempts: 2, responseStatus: 500, startedAt: '2026-11-22T10:00:00.000Z', endedAt: '2026-11-22T10:00:00.000Z' });
    expect(endpoint.calls.map((c) => c.url)).toEqual(['/enable', '/fence', '/fence']);
  });

  it('recovers when a retry succeeds', async () => {
    endpoint = await fakeEndpoint((n, _req, res) => {
      res.statusCode = n < 3 ? 503 : 200;
      res.end();
    });
    const { finished, observer } = recorder();
    expect(await runPlan([step('enable', '/enable', { retries: 2 })], observer, signals())).toEqual({ status: 'succeeded' });
    expect(finished[0]).toMatchObject({ status: 'succeeded', attempts: 3, responseStatus: 200 });
  });

  it('starts no step once stopped', async () => {
    endpoint = await fakeEndpoint();
    const stop = new AbortController();
    stop.abort();
    const { events, observer } = recorder();
    expect(await runPlan([step('enable', '/enable')], observer, { ...signals(), stop: stop.signal })).toEqual({ status: 'stopped' });
    expect(events).toEqual([]);
  });
});
