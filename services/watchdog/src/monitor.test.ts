import type { Alert } from '@vigil/alerting';
import { createLogger, parseConfigValue, type ActivationRequest } from '@vigil/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ActivationResult } from './activation-client.js';
import { WatchdogConfig } from './config.js';
import { INITIAL_STATE, type MonitorState } from './decision.js';
import { WatchdogMetrics } from './metrics.js';
import { Monitor, type MonitorDeps } from './monitor.js';
import type { ProbeResult } from './probe.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const config = parseConfigValue(
  WatchdogConfig,
  {
    voter: { id: 'w1', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    monitors: [{ name: 'primary', url: 'http://user:pw@127.0.0.1:1/health', interval: '2s', timeout: '20ms', failureThreshold: 2, successThreshold: 1, activate: { target: 'eu' } }],
  },
  'test',
  {},
);
const monitorConfig = config.monitors[0]!;

const PASS: ProbeResult = { status: 'pass', durationMs: 1, output: 'HTTP 200' };
const FAIL: ProbeResult = { status: 'fail', durationMs: 2, output: 'HTTP 503 (expected 2xx)' };

function setup(overrides: Partial<MonitorDeps> & { results?: ProbeResult[] } = {}) {
  const results = [...(overrides.results ?? [])];
  const alerts: Alert[] = [];
  const activations: ActivationRequest[] = [];
  const saved: MonitorState[] = [];
  let clock = Date.parse('2026-11-22T10:00:00.000Z');
  const monitor = new Monitor({
    config: monitorConfig,
    state: INITIAL_STATE,
    probe: () => Promise.resolve(results.shift() ?? PASS),
    notify: (alert) => {
      alerts.push(alert);
      return Promise.resolve();
    },
    requestActivation: (request): Promise<ActivationResult> => {
      activations.push(request);
      return Promise.resolve({ outcome: 'accepted', attempts: 1, status: 202 });
    },
    voterId: 'w1',
    saveState: (_name, state) => {
      saved.push(state);
      return Promise.resolve();
    },
    metrics: new WatchdogMetrics(new Registry()),
    logger,
    now: () => (clock += 1000),
    ...overrides,
  });
  return { monitor, alerts, activations, saved };
}

async function cycles(monitor: Monitor, n: number) {
  for (let i = 0; i < n; i++) await monitor.cycle();
  await monitor.settle();
}

describe('Monitor', () => {
  it('turns failures into one alert and one activation request carrying the evidence', async () => {
    const { monitor, alerts, activations, saved } = setup({ results: [PASS, FAIL, FAIL, FAIL] });
    await cycles(monitor, 4);
    expect(alerts.map((a) => a.status)).toEqual(['firing']);
    expect(alerts[0]).toMatchObject({
      id: `${monitor.current.incident!.id}:firing`,
      dedupKey: monitor.current.incident!.id,
      severity: 'critical',
      labels: { monitor: 'primary', target: 'eu' },
      annotations: { url: 'http://user:REDACTED@127.0.0.1:1/health' },
    });
    expect(alerts[0]!.summary).toContain('2 consecutive failed probes');
    expect(activations).toHaveLength(1);
    expect(activations[0]).toMatchObject({ target: 'eu', voter: 'w1', incident: { monitor: 'primary', consecutiveFailures: 2 } });
    const { evidence, startedAt } = activations[0]!.incident;
    expect(evidence.map((e) => e.status)).toEqual(['pass', 'fail', 'fail']);
    // the outage began with the first failed probe, not when the threshold was reached
    expect(startedAt).toBe(evidence[1]!.time);
    // persisted at each change, the incident before its effects
    expect(saved.at(-1)).toMatchObject({ status: 'down', incident: { activationRequested: true } });
  });

  it('counts a probe that throws as a failure and keeps going', async () => {
    const { monitor } = setup({ probe: () => Promise.reject(new Error('bug')) });
    await cycles(monitor, 1);
    expect(monitor.lastResult).toMatchObject({ status: 'fail', output: 'probe failed unexpectedly: Error: bug' });
  });

  it('abandons a probe that ignores its timeout', async () => {
    const { monitor } = setup({ probe: () => new Promise<ProbeResult>(() => undefined) });
    await cycles(monitor, 1);
    expect(monitor.lastResult).toMatchObject({ status: 'fail', output: 'probe did not finish within 20ms' });
  });

  it('still alerts when the state cannot be persisted', async () => {
    const { monitor, alerts } = setup({ results: [FAIL, FAIL], saveState: () => Promise.reject(new Error('disk full')) });
    await cycles(monitor, 2);
    expect(alerts).toHaveLength(1);
  });

  it('sends a resolution only after its firing alert, however slow that one is', async () => {
    const delivered: string[] = [];
    let releaseFiring!: () => void;
    const { monitor } = setup({
      results: [FAIL, FAIL, PASS],
      notify: async (alert) => {
        if (alert.status === 'firing') await new Promise<void>((resolve) => (releaseFiring = resolve));
        delivered.push(alert.status);
      },
    });
    for (let i = 0; i < 3; i++) await monitor.cycle();
    expect(delivered).toEqual([]);
    releaseFiring();
    await monitor.settle();
    expect(delivered).toEqual(['firing', 'resolved']);
  });

  it('survives an alert pipeline or activation client that throws', async () => {
    const { monitor } = setup({
      results: [FAIL, FAIL],
      notify: () => Promise.reject(new Error('boom')),
      requestActivation: () => Promise.reject(new Error('boom')),
    });
    await expect(cycles(monitor, 2)).resolves.toBeUndefined();
    expect(monitor.current.status).toBe('down');
  });

  it('does not count a probe cut short by shutdown', async () => {
    const { monitor, saved } = setup({
      probe: (_target, signal) =>
        new Promise<ProbeResult>((resolve) => signal.addEventListener('abort', () => resolve({ status: 'fail', durationMs: 1, output: 'aborted' }))),
    });
    const cycle = monitor.cycle();
    monitor.stop();
    await cycle;
    expect(monitor.current).toEqual(INITIAL_STATE);
    expect(saved).toEqual([]);
    await monitor.cycle();
    expect(monitor.lastResult).toBeUndefined();
  });

  it('writes its state when a decision could depend on it, not on every probe of a steady monitor', async () => {
    const { monitor, saved } = setup({ results: [PASS, PASS, PASS, PASS, FAIL, FAIL, FAIL, FAIL, FAIL] });
    await cycles(monitor, 9);
    // up (1 success), then failures 1 and 2 (down); the 3rd to 5th failures change nothing a restart needs
    expect(saved.map((s) => [s.status, s.consecutiveFailures, s.consecutiveSuccesses])).toEqual([
      ['up', 0, 1],
      ['degraded', 1, 0],
      ['down', 2, 0],
    ]);
  });
});
