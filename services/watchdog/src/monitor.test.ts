import type { Alert } from '@vigil/alerting';
import { createLogger, formatDuration, parseConfigValue, type ActivationRequest } from '@vigil/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ActivationResult } from './activation-client.js';
import { WatchdogConfig } from './config.js';
import { INITIAL_STATE, type MonitorState } from './decision.js';
import { WatchdogMetrics } from './metrics.js';
import { Monitor, probeDescription, type MonitorDeps } from './monitor.js';
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

  it('describes its probe in the activation request, without a header value, a CA or a URL password', async () => {
    const secrets = ['header-secret-value', 'CA-PEM-SECRET', 'url-password-value', 'query-secret-value'];
    const withSecrets = parseConfigValue(
      WatchdogConfig,
      {
        voter: { id: 'w1', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
        monitors: [
          {
            name: 'primary',
            url: 'https://probe-user:url-password-value@primary.example:8443/health?token=query-secret-value&region=eu',
            headers: { authorization: 'Bearer header-secret-value', 'x-custom': 'header-secret-value' },
            tls: { ca: 'CA-PEM-SECRET', serverName: 'primary.internal' },
            expectStatus: [200, '3xx'],
            expectBody: { json: { '$.status': 'pass' } },
            interval: '2s',
            timeout: '1s500ms',
            failureThreshold: 2,
            activate: { target: 'eu' },
          },
        ],
      },
      'test',
      {},
    ).monitors[0]!;
    const hedging = withSecrets as { attempts?: number; hedgeDelay?: number };
    const { monitor, activations } = setup({ config: withSecrets, results: [FAIL, FAIL] });
    await cycles(monitor, 2);
    expect(activations).toHaveLength(1);
    const { probe } = activations[0]!.incident;
    expect(probe).toEqual({
      kind: 'http',
      url: 'https://primary.example:8443/health?token=REDACTED&region=eu',
      method: 'GET',
      expectStatus: [200, '3xx'],
      expectBody: { json: { '$.status': 'pass' } },
      tls: { serverName: 'primary.internal' },
      timeout: '1s500ms',
      // The watchdog's own hedging, when its configuration has it (absent in older ones).
      ...(hedging.attempts !== undefined && { attempts: hedging.attempts }),
      ...(hedging.hedgeDelay !== undefined && { hedgeDelay: formatDuration(hedging.hedgeDelay) }),
    });
    const sent = JSON.stringify(activations[0]);
    for (const secret of secrets) expect(sent).not.toContain(secret);
  });

  it('asks again without the probe description when an older activation service refuses it', async () => {
    const { monitor, activations } = setup({
      results: [FAIL, FAIL],
      requestActivation: (request) => {
        activations.push(request);
        // What an activation service whose contract has no `incident.probe` answers.
        return Promise.resolve(
          request.incident.probe === undefined
            ? { outcome: 'accepted', attempts: 1, status: 202 }
            : { outcome: 'rejected', attempts: 1, status: 400, error: 'HTTP 400 Bad Request: {"error":"invalid-request","message":"incident.probe: is not a known field"}' },
        );
      },
    });
    await cycles(monitor, 2);
    expect(activations.map((r) => r.incident.probe === undefined)).toEqual([false, true]);
    expect(activations[1]).toEqual({ ...activations[0], incident: { ...activations[0]!.incident, probe: undefined } });
    expect(monitor.current.incident).toMatchObject({ activationAnswered: true });
  });

  it('does not ask again when a refusal is about something else', async () => {
    const { monitor, activations } = setup({
      results: [FAIL, FAIL],
      requestActivation: (request) => {
        activations.push(request);
        return Promise.resolve({ outcome: 'rejected', attempts: 1, status: 404, error: 'HTTP 404 Not Found: {"error":"unknown-target"}' });
      },
    });
    await cycles(monitor, 2);
    expect(activations).toHaveLength(1);
  });

  it('describes tcp and dns probes by their own fields', () => {
    const monitors = parseConfigValue(
      WatchdogConfig,
      {
        monitors: [
          { name: 'db', kind: 'tcp', host: 'db.primary.example', port: 5432, interval: '5s', timeout: '2s', attempts: 3, hedgeDelay: '300ms' },
          { name: 'zone', kind: 'dns', host: 'primary.example', type: 'AAAA', server: '10.0.0.2:53', expect: '2001:db8::1', interval: '5s', timeout: '1s' },
        ],
      },
      'test',
      {},
    ).monitors;
    expect(probeDescription(monitors[0]!)).toMatchObject({ kind: 'tcp', host: 'db.primary.example', port: 5432, timeout: '2s' });
    expect(probeDescription(monitors[1]!)).toMatchObject({ kind: 'dns', host: 'primary.example', type: 'AAAA', server: '10.0.0.2:53', expect: '2001:db8::1', timeout: '1s' });
    expect(Object.keys(probeDescription(monitors[0]!)).filter((k) => !['kind', 'host', 'port', 'timeout', 'attempts', 'hedgeDelay'].includes(k))).toEqual([]);
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
      activationRetryPauseMs: 1,
    });
    for (let i = 0; i < 2; i++) await expect(monitor.cycle()).resolves.toBeUndefined();
    expect(monitor.current.status).toBe('down');
    // A client that keeps throwing is asked again until the incident ends or the watchdog stops.
    monitor.stop();
    await expect(monitor.settle()).resolves.toBeUndefined();
  });

  it('asks again while the incident lasts when the activation service cannot be reached', async () => {
    const outcomes: ActivationResult['outcome'][] = ['failed', 'failed', 'accepted'];
    const requests: ActivationRequest[] = [];
    const { monitor } = setup({
      results: [FAIL, FAIL, FAIL],
      activationRetryPauseMs: 1,
      requestActivation: (request) => {
        requests.push(request);
        return Promise.resolve({ outcome: outcomes.shift() ?? 'accepted', attempts: 6 });
      },
    });
    await cycles(monitor, 3);
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.incident.id)).size).toBe(1);
  });

  it('stops asking once the incident is over', async () => {
    let calls = 0;
    let release!: () => void;
    const { monitor } = setup({
      results: [FAIL, FAIL, FAIL, PASS, PASS],
      activationRetryPauseMs: 1,
      requestActivation: async () => {
        calls += 1;
        if (calls === 1) await new Promise<void>((ok) => (release = ok));
        return { outcome: 'failed', attempts: 6 };
      },
    });
    for (let i = 0; i < 3; i++) await monitor.cycle();
    for (let i = 0; i < 2; i++) await monitor.cycle(); // recovered while the first round was under way
    release();
    await monitor.settle();
    expect(monitor.current.incident).toBeUndefined();
    expect(calls).toBe(1);
  });

  it('resumes an unanswered activation request after a restart, while still down', async () => {
    const first = setup({ results: [FAIL, FAIL, FAIL], requestActivation: () => Promise.resolve({ outcome: 'cancelled', attempts: 1 }) });
    await cycles(first.monitor, 3);
    expect(first.monitor.current.incident).toMatchObject({ activationRequested: true });
    expect(first.monitor.current.incident?.activationAnswered).toBeUndefined();
    const restarted = setup({ state: first.monitor.current });
    restarted.monitor.resumePendingActivation();
    await restarted.monitor.settle();
    expect(restarted.activations).toHaveLength(1);
    expect(restarted.monitor.current.incident?.activationAnswered).toBe(true);
    // Answered now: a further restart does not ask again.
    const again = setup({ state: restarted.monitor.current });
    again.monitor.resumePendingActivation();
    await again.monitor.settle();
    expect(again.activations).toHaveLength(0);
    const recovered = setup({ state: { ...first.monitor.current, status: 'up' } });
    recovered.monitor.resumePendingActivation();
    await recovered.monitor.settle();
    expect(recovered.activations).toHaveLength(0);
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
    // up (1 success), failures 1 and 2 (down), the activation service's answer; the 3rd to 5th
    // failures change nothing a restart needs
    expect(saved.map((s) => [s.status, s.consecutiveFailures, s.consecutiveSuccesses, s.incident?.activationAnswered])).toEqual([
      ['up', 0, 1, undefined],
      ['degraded', 1, 0, undefined],
      ['down', 2, 0, undefined],
      ['down', 2, 0, true],
    ]);
  });

  it('turns failed probes into inconclusive results when the control targets are out of reach: an isolation alert, no activation', async () => {
    let reachable = false;
    const { monitor, alerts, activations } = setup({ results: [FAIL, FAIL, FAIL, FAIL], reachesControlTargets: () => Promise.resolve(reachable) });
    await cycles(monitor, 3);
    expect(monitor.current).toMatchObject({ status: 'inconclusive', consecutiveFailures: 0 });
    expect(activations).toEqual([]);
    expect(alerts.map((a) => [a.status, a.labels.alertname, a.severity])).toEqual([['firing', 'WatchdogIsolated', 'critical']]);
    expect(alerts[0]!.summary).toContain('watchdog isolated');

    reachable = true;
    await cycles(monitor, 1);
    expect(alerts.map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(alerts[1]!.dedupKey).toBe(alerts[0]!.dedupKey);
    expect(monitor.current).toMatchObject({ status: 'degraded', consecutiveFailures: 1 });
  });

  it('asks about the control targets only after a failed probe', async () => {
    let asked = 0;
    const { monitor } = setup({ results: [PASS, PASS, FAIL], reachesControlTargets: () => Promise.resolve(++asked > 0) });
    await cycles(monitor, 3);
    expect(asked).toBe(1);
  });

  it('sends nothing during maintenance, and counts again after it', async () => {
    let maintenance = true;
    const { monitor, alerts, activations } = setup({ results: [FAIL, FAIL, FAIL, FAIL, FAIL], inMaintenance: () => maintenance });
    await cycles(monitor, 3);
    expect(monitor.current.status).toBe('maintenance');
    expect([alerts, activations]).toEqual([[], []]);
    maintenance = false;
    await cycles(monitor, 2);
    expect(monitor.current.status).toBe('down');
    expect(activations).toHaveLength(1);
  });

  it('sends an early warning with severity warning, resolved when the failures stop', async () => {
    const warned = { ...monitorConfig, failureThreshold: 3, warningThreshold: 1 };
    const { monitor, alerts } = setup({ config: warned, results: [FAIL, PASS] });
    await cycles(monitor, 2);
    expect(alerts.map((a) => [a.status, a.severity])).toEqual([
      ['firing', 'warning'],
      ['resolved', 'warning'],
    ]);
  });

  it('reports every completed cycle (the heartbeat)', async () => {
    const beats: number[] = [];
    const { monitor } = setup({ onCycle: (at) => beats.push(at) });
    await cycles(monitor, 3);
    expect(beats).toHaveLength(3);
  });

  describe('certificate expiry warning', () => {
    const DAY = 86_400_000;
    /** a passing https probe whose earliest certificate expires `days` after the test clock's start */
    const tls = (days: number): ProbeResult => ({ ...PASS, tlsEarliestCertExpiry: (Date.parse('2026-11-22T10:00:00.000Z') + days * DAY) / 1000 });

    it('warns once when the certificate comes within the window, and resolves when a renewed one moves it out', async () => {
      const { monitor, alerts, saved } = setup({ results: [tls(60), tls(3), tls(3), PASS, tls(90)] });
      await cycles(monitor, 5);
      expect(alerts.map((a) => [a.status, a.severity, a.labels.alertname])).toEqual([
        ['firing', 'warning', 'CertificateExpiring'],
        ['resolved', 'warning', 'CertificateExpiring'],
      ]);
      expect(alerts[0]!.summary).toBe('certificate of http://user:REDACTED@127.0.0.1:1/health expires in 2 days, on 2026-11-25T10:00:00.000Z');
      expect(alerts[1]!.summary).toContain('renewed: the earliest now expires on 2027-02-20T10:00:00.000Z');
      expect(alerts[0]!.dedupKey).toBe(alerts[1]!.dedupKey);
      // persisted with the warning before it was sent, and without it once resolved
      expect(saved.some((s) => s.certificateWarning?.expiresAt === '2026-11-25T10:00:00.000Z')).toBe(true);
      expect(monitor.current.certificateWarning).toBeUndefined();
    });

    it('does not warn again after a restart, and still resolves', async () => {
      const first = setup({ results: [tls(3)] });
      await cycles(first.monitor, 1);
      expect(first.alerts).toHaveLength(1);
      const restarted = setup({ state: first.monitor.current, results: [tls(3), tls(3), tls(90)] });
      await cycles(restarted.monitor, 3);
      expect(restarted.alerts.map((a) => a.status)).toEqual(['resolved']);
      expect(restarted.alerts[0]!.id).toBe(`${first.alerts[0]!.dedupKey}:resolved`);
    });

    it('follows the configured window and keeps the warning through failures', async () => {
      const { monitor, alerts } = setup({ config: { ...monitorConfig, certificateExpiryWarning: 30 * DAY }, results: [tls(20), FAIL, tls(20)] });
      await cycles(monitor, 3);
      expect(alerts.map((a) => [a.status, a.severity])).toEqual([['firing', 'warning']]);
      expect(monitor.current.certificateWarning).toBeDefined();
    });

    it('sends nothing during maintenance', async () => {
      const { monitor, alerts } = setup({ results: [tls(3)], inMaintenance: () => true });
      await cycles(monitor, 1);
      expect(alerts).toEqual([]);
      expect(monitor.current.certificateWarning).toBeUndefined();
    });
  });
});
