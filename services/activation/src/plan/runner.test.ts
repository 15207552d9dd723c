import { afterEach, describe, expect, it } from 'vitest';
import Value from 'typebox/value';
import type { StepRecord } from '@vigil/core';
import { fakeEndpoint } from '../test-support/fixtures.js';
import { runPlan, type PlanObserver } from './runner.js';
import { PlanStep, type StepContext } from './steps/index.js';

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

const context: StepContext = { activationId: 'act_1', target: 'primary', kind: 'failover', epoch: 7, notify: () => Promise.resolve({ delivered: true, output: 'sent' }) };
const signals = () => ({ now: () => Date.parse('2026-11-22T10:00:00Z'), stop: new AbortController().signal, abort: new AbortController().signal, context });

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

  it('goes on after a failing step marked onFailure: continue, and starts where told', async () => {
    endpoint = await fakeEndpoint((_n, req, res) => {
      res.statusCode = req.url === '/fence' ? 500 : 200;
      res.end();
    });
    const { events, finished, observer } = recorder();
    const plan = [step('enable', '/enable'), step('fence', '/fence', { kind: 'fence', onFailure: 'continue' }), step('switch', '/switch')];
    expect(await runPlan(plan, observer, { ...signals(), startAt: 1 })).toEqual({ status: 'succeeded' });
    expect(events).toEqual(['start fence', 'end fence failed', 'start switch', 'end switch succeeded']);
    expect(finished[0]).toMatchObject({ continued: true });
    expect(endpoint.calls[0]).toMatchObject({ url: '/fence', body: JSON.stringify({ target: 'primary', epoch: 7, activationId: 'act_1', kind: 'failover' }) });
    expect(endpoint.calls[0]!.headers['x-vigil-fencing-epoch']).toBe('7');
  });

  it('waits for a health endpoint to pass, and sends a notify step through the pager', async () => {
    endpoint = await fakeEndpoint((n, _req, res) => {
      res.statusCode = n < 3 ? 503 : 200;
      res.end();
    });
    const sent: string[] = [];
    const notify: StepContext['notify'] = (alert) => {
      sent.push(alert.summary);
      return Promise.resolve({ delivered: true, output: 'delivered to sink' });
    };
    const { finished, observer } = recorder();
    const plan = [step('standby-healthy', '/health', { kind: 'wait-healthy', interval: '20ms', timeout: '5s' }), Value.Decode(PlanStep, Value.Default(PlanStep, { name: 'tell', kind: 'notify', message: 'standby serving' }))];
    expect(await runPlan(plan, observer, { ...signals(), context: { ...context, notify } })).toEqual({ status: 'succeeded' });
    expect(finished[0]).toMatchObject({ status: 'succeeded', output: expect.stringContaining('healthy after 3 poll(s)') as unknown });
    expect(sent).toEqual(['primary: standby serving (failover act_1, epoch 7)']);
  });
});
