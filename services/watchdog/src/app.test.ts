import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@vigil/alerting';
import { createLogger, generateSecret, parseConfigValue, verify, type ActivationRequest } from '@vigil/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findBinary } from '../../../packages/core/src/test-support/components.js';
import { startDnsServer } from '../../../packages/checks/src/test-support/dns-server.js';
import { buildApp } from './app.js';
import { WatchdogConfig } from './config.js';
import type { MonitorList } from './routes/monitors.js';
import { closedPort, healthTarget, receiver, type LocalServer } from './test-support/servers.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const voterSecret = generateSecret();
const alertSecret = generateSecret();
const WAIT = { timeout: 8000, interval: 25 };

type App = Awaited<ReturnType<typeof buildApp>>;
let dataDir: string;
const cleanup: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-watchdog-'));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await rm(dataDir, { recursive: true, force: true });
});

async function track<T extends LocalServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  cleanup.push(() => s.close());
  return s;
}

interface Setup {
  target: Awaited<ReturnType<typeof healthTarget>>;
  activation: Awaited<ReturnType<typeof receiver>>;
  alerts: Awaited<ReturnType<typeof receiver>>;
}

async function servers(activationScript: number[] = []): Promise<Setup> {
  return {
    target: await track(healthTarget()),
    activation: await track(receiver(activationScript, 202)),
    alerts: await track(receiver([], 200)),
  };
}

async function start({ target, activation, alerts }: Setup, extra: Record<string, unknown> = {}, now?: () => number): Promise<App> {
  const config = parseConfigValue(
    WatchdogConfig,
    {
      dataDir,
      voter: { id: 'watchdog-test', secret: voterSecret },
      activation: { url: activation.url, timeout: '2s', retries: 3 },
      alerts: { webhooks: [{ name: 'sink', url: `${alerts.url}/alerts`, secret: alertSecret }] },
      monitors: [
        // Generous timeout: a loaded machine must not make a healthy target look down three times in a row.
        { name: 'primary', url: `${target.url}/health`, interval: '300ms', timeout: '250ms', failureThreshold: 3, successThreshold: 2, activate: { target: 'primary' } },
      ],
      ...extra,
    },
    'test',
    {},
  );
  const app = await buildApp({ config, logger, activationBackoff: { baseMs: 10, maxMs: 50 }, ...(now && { now }) });
  cleanup.push(() => app.close());
  await app.ready();
  return app;
}

async function monitors(app: App) {
  const response = await app.inject({ method: 'GET', url: '/v1/monitors' });
  expect(response.statusCode).toBe(200);
  return response.json<MonitorList>().monitors;
}

/** Lets at least `n` more probes reach the target. */
async function probesPass(target: Setup['target'], n: number): Promise<void> {
  const from = target.hits();
  await vi.waitFor(() => expect(target.hits()).toBeGreaterThanOrEqual(from + n), WAIT);
}

const alertsOf = (s: Setup) => s.alerts.requests.map((r) => JSON.parse(r.body) as Alert);

describe('watchdog app', () => {
  it('fires one alert and sends one signed activation request when the target goes down, and one resolution when it recovers', async () => {
    const s = await servers();
    const app = await start(s);
    await vi.waitFor(async () => expect((await monitors(app))[0]!.state).toBe('up'), WAIT);

    s.target.setHealthy(false);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(1), WAIT);
    const [down] = await monitors(app);
    expect(down).toMatchObject({ state: 'down', incident: { activationRequested: true } });
    const incidentId = down!.incident!.id;

    const request = s.activation.requests[0]!;
    expect(request.path).toBe('/v1/activations');
    expect(request.headers['webhook-id']).toBe(`act-${incidentId}`);
    expect(verify({ secrets: [voterSecret], headers: request.headers, body: request.body })).toMatchObject({ ok: true });
    const body = JSON.parse(request.body) as ActivationRequest;
    expect(body).toMatchObject({ target: 'primary', voter: 'watchdog-test', incident: { id: incidentId, monitor: 'primary', consecutiveFailures: 3 } });
    expect(body.incident.evidence.slice(-3).map((e) => e.status)).toEqual(['fail', 'fail', 'fail']);
    expect(body.incident.evidence.at(-1)!.output).toContain('503');

    const firing = s.alerts.requests[0]!;
    expect(firing.path).toBe('/alerts');
    expect(verify({ secrets: [alertSecret], headers: firing.headers, body: firing.body })).toMatchObject({ ok: true });
    expect(alertsOf(s)[0]).toMatchObject({
      status: 'firing',
      severity: 'critical',
      monitor: 'primary',
      dedupKey: incidentId,
      startsAt: body.incident.startedAt,
      labels: { monitor: 'primary', target: 'primary' },
      annotations: { url: `${s.target.url}/health` },
    });

    // Staying down raises nothing more.
    await probesPass(s.target, 4);
    expect(s.activation.requests).toHaveLength(1);
    expect(s.alerts.requests).toHaveLength(1);

    s.target.setHealthy(true);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(2), WAIT);
    const [, resolved] = alertsOf(s);
    expect(resolved).toMatchObject({ status: 'resolved', dedupKey: incidentId, startsAt: body.incident.startedAt });
    expect(resolved!.id).not.toBe(alertsOf(s)[0]!.id);
    expect(resolved!.endsAt).toBeDefined();
    expect(await monitors(app)).toMatchObject([{ state: 'up', incident: null }]);

    await probesPass(s.target, 3);
    expect(s.alerts.requests).toHaveLength(2);
    expect(s.activation.requests).toHaveLength(1);
  });

  it('after a restart during an outage, sends no second alert or activation, and resolves the same incident', async () => {
    const s = await servers();
    s.target.setHealthy(false);
    const first = await start(s);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(1), WAIT);
    const incidentId = (await monitors(first))[0]!.incident!.id;
    await first.close();

    const stored = JSON.parse(await readFile(join(dataDir, 'monitors.json'), 'utf8')) as unknown;
    expect(stored).toMatchObject({ version: 1, monitors: { primary: { status: 'down', incident: { id: incidentId, activationRequested: true } } } });

    const second = await start(s);
    expect((await monitors(second))[0]).toMatchObject({ state: 'down', incident: { id: incidentId } });
    await probesPass(s.target, 4);
    expect(s.activation.requests).toHaveLength(1);
    expect(s.alerts.requests).toHaveLength(1);

    s.target.setHealthy(true);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(2), WAIT);
    expect(alertsOf(s)[1]).toMatchObject({ status: 'resolved', dedupKey: incidentId });
  });

  it('retries an activation request the service answers 503 under the same webhook-id', async () => {
    const s = await servers([503, 503]);
    s.target.setHealthy(false);
    const app = await start(s);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(3), WAIT);
    const ids = s.activation.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    for (const r of s.activation.requests) expect(verify({ secrets: [voterSecret], headers: r.headers, body: r.body }).ok).toBe(true);
    await vi.waitFor(async () => {
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain('vigil_activation_requests_total{monitor="primary",outcome="accepted"} 1');
    }, WAIT);
    await probesPass(s.target, 2);
    expect(s.activation.requests).toHaveLength(3);
  });

  it('sends the activation request to every replica in activation.urls and counts each replica\'s result', async () => {
    const s = await servers();
    const down = `http://127.0.0.1:${await closedPort()}`;
    s.target.setHealthy(false);
    const app = await start(s, { activation: { urls: [down, s.activation.url], timeout: '2s', retries: 2 } });
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
    const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(await scrape()).toContain(`vigil_activation_deliveries_total{url="${down}",outcome="failed"} 0`);
    await vi.waitFor(async () => {
      const metrics = await scrape();
      expect(metrics).toContain('vigil_activation_requests_total{monitor="primary",outcome="accepted"} 1');
      expect(metrics).toContain(`vigil_activation_deliveries_total{url="${s.activation.url}",outcome="accepted"} 1`);
      // The replica that is down is still tried within its retry budget after the other accepted.
      expect(metrics).toContain(`vigil_activation_deliveries_total{url="${down}",outcome="failed"} 1`);
    }, WAIT);
    expect(await monitors(app)).toMatchObject([{ state: 'down', incident: { activationAnswered: true } }]);
  });

  it('after a restart, still resolves an incident whose target recovered while the watchdog was stopped', async () => {
    const s = await servers();
    s.target.setHealthy(false);
    const first = await start(s);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
    await first.close();

    s.target.setHealthy(true);
    const second = await start(s);
    await vi.waitFor(() => expect(s.alerts.requests).toHaveLength(2), WAIT);
    expect(alertsOf(s).map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(alertsOf(s)[1]!.dedupKey).toBe(alertsOf(s)[0]!.dedupKey);
    expect(await monitors(second)).toMatchObject([{ state: 'up', incident: null }]);
    expect(s.activation.requests).toHaveLength(1);
  });

  it('pauses and resumes a monitor through the bearer-authenticated API: no alert or activation while paused', async () => {
    const s = await servers();
    const token = 'test-token-0123456789';
    const app = await start(s, { api: { token } });
    const post = (url: string, auth?: string) =>
      app.inject({ method: 'POST', url, ...(auth !== undefined && { headers: { authorization: auth } }), payload: { reason: 'upgrade' } });

    expect((await post('/v1/monitors/primary/pause')).statusCode).toBe(401);
    expect((await post('/v1/monitors/primary/pause', 'Bearer wrong-token-0123456789')).statusCode).toBe(401);
    expect((await post('/v1/monitors/nope/pause', `Bearer ${token}`)).statusCode).toBe(404);
    expect((await post('/v1/monitors/primary/pause', `Bearer ${token}`)).statusCode).toBe(200);

    s.target.setHealthy(false);
    await probesPass(s.target, 5);
    const [paused] = await monitors(app);
    expect(paused).toMatchObject({ state: 'maintenance', inMaintenance: true, paused: { reason: 'upgrade' } });
    expect(s.alerts.requests).toHaveLength(0);
    expect(s.activation.requests).toHaveLength(0);

    expect((await post('/v1/monitors/primary/resume', `Bearer ${token}`)).statusCode).toBe(200);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
  });

  it('ends a pause given `for` by itself, resuming the monitor, audited as pause-expired with the operator and reason', async () => {
    const s = await servers();
    let clock = Date.now();
    const alice = { name: 'alice', token: 'alice-token-0123456789' };
    const app = await start(s, { api: { operators: [alice] } }, () => clock);
    const paused = await app.inject({
      method: 'POST',
      url: '/v1/monitors/primary/pause',
      headers: { authorization: `Bearer ${alice.token}` },
      payload: { for: '10m', reason: 'db upgrade' },
    });
    expect(paused.statusCode).toBe(200);
    const until = new Date(clock + 600_000).toISOString();
    expect((await monitors(app))[0]).toMatchObject({ inMaintenance: true, paused: { until, operator: 'alice', reason: 'db upgrade' } });

    s.target.setHealthy(false);
    await probesPass(s.target, 4);
    expect(s.activation.requests).toHaveLength(0);

    clock += 600_000;
    // Resumed on the sweep (no timer per pause): failures count again and lead to the activation.
    await vi.waitFor(async () => expect((await monitors(app))[0]!.paused).toBeUndefined(), WAIT);
    await vi.waitFor(() => expect(s.activation.requests).toHaveLength(1), WAIT);
    // The pause stops counting at `until`; the sweep (within a second) records its end.
    const audited = async () =>
      (await app.inject({ method: 'GET', url: '/v1/audit?monitor=primary' })).json<{ records: Record<string, unknown>[] }>().records.map(({ time: _time, ...rest }) => rest);
    await vi.waitFor(async () => expect(await audited()).toHaveLength(2), WAIT);
    expect(await audited()).toEqual([
      { event: 'paused', monitor: 'primary', operator: 'alice', reason: 'db upgrade', until },
      { event: 'pause-expired', monitor: 'primary', operator: 'alice', reason: 'db upgrade', until },
    ]);
    expect((await readFile(join(dataDir, 'audit.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('resumes at start a monitor whose pause ended while the watchdog was stopped', async () => {
    const s = await servers();
    let clock = Date.now();
    const token = 'shared-token-0123456789';
    const first = await start(s, { api: { token } }, () => clock);
    const response = await first.inject({
      method: 'POST',
      url: '/v1/monitors/primary/pause',
      headers: { authorization: `Bearer ${token}` },
      payload: { for: '1h', reason: 'migration', operator: 'carol' },
    });
    expect(response.statusCode).toBe(200);
    await first.close();

    // Still paused when restarted before the end.
    const second = await start(s, { api: { token } }, () => clock);
    expect((await monitors(second))[0]).toMatchObject({ paused: { operator: 'carol', reason: 'migration' } });
    await second.close();

    clock += 2 * 3_600_000;
    const third = await start(s, { api: { token } }, () => clock);
    await vi.waitFor(async () => {
      const records = (await third.inject({ method: 'GET', url: '/v1/audit' })).json<{ records: { event: string; operator?: string }[] }>().records;
      expect(records.map((r) => [r.event, r.operator])).toEqual([
        ['paused', 'carol'],
        ['pause-expired', 'carol'],
      ]);
    }, WAIT);
    expect((await monitors(third))[0]).toMatchObject({ inMaintenance: false });
    expect((await monitors(third))[0]!.paused).toBeUndefined();
  });

  it('lists lastProbeAt, intervalMs and, when asked, the 24 h history that a restart keeps', async () => {
    const s = await servers();
    const app = await start(s);
    await probesPass(s.target, 3);
    const [m] = await monitors(app);
    expect(m!.intervalMs).toBe(300);
    expect(Date.parse(m!.lastProbeAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(m!.history).toBeUndefined();

    const history = async (a: App) => (await a.inject({ method: 'GET', url: '/v1/monitors?history=24h' })).json<MonitorList>().monitors[0]!.history!;
    // Hits count when a probe arrives; its outcome is recorded when it finishes.
    await vi.waitFor(async () => expect((await history(app)).buckets.reduce((n, b) => n + b.up, 0)).toBeGreaterThanOrEqual(3), WAIT);
    const { bucketMs, buckets } = await history(app);
    expect(bucketMs).toBe(900_000);
    expect(buckets.length).toBeGreaterThanOrEqual(1);
    expect(buckets.at(-1)!.avgMs).toEqual(expect.any(Number));
    expect((await app.inject({ method: 'GET', url: '/v1/monitors?history=soon' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/monitors?history=48h' })).statusCode).toBe(400);
    const up = (await history(app)).buckets.reduce((n, b) => n + b.up, 0);
    await app.close(); // flushes the history
    const again = await start(s);
    expect((await history(again)).buckets.reduce((n, b) => n + b.up, 0)).toBeGreaterThanOrEqual(up);
  });

  it('answers cron monitors with the typical gap between runs, and 400 on a bad audit `since`', async () => {
    const s = await servers();
    const app = await start(s, { monitors: [{ name: 'nightly', url: `${s.target.url}/health`, cron: '0 */5 * * * *', timeout: '250ms' }] });
    expect((await monitors(app))[0]).toMatchObject({ name: 'nightly', intervalMs: 300_000 });
    expect((await app.inject({ method: 'GET', url: '/v1/audit?since=yesterday' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/audit?since=24h' })).json()).toEqual({ records: [] });
  });

  it('answers 404 on pause when no api token is configured', async () => {
    const app = await start(await servers());
    expect((await app.inject({ method: 'POST', url: '/v1/monitors/primary/pause', headers: { authorization: 'Bearer x' } })).statusCode).toBe(404);
  });

  it('pings the heartbeat URL after completed cycles', async () => {
    const s = await servers();
    const pings: string[] = [];
    const hb = createServer((req, res) => {
      pings.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => hb.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => hb.close(() => resolve())));
    const port = (hb.address() as { port: number }).port;
    await start(s, { heartbeat: { url: `http://127.0.0.1:${port}/ping/abc`, minInterval: '100ms' } });
    await vi.waitFor(() => expect(pings.length).toBeGreaterThanOrEqual(2), WAIT);
    expect(pings[0]).toBe('/ping/abc');
  });

  it('serves liveness, readiness, monitors and metrics', async () => {
    const s = await servers();
    const app = await start(s);
    await vi.waitFor(async () => expect((await monitors(app))[0]!.lastResult).not.toBeNull(), WAIT);

    const live = await app.inject({ method: 'GET', url: '/livez' });
    expect(live.statusCode).toBe(200);
    expect(live.headers['content-type']).toContain('application/health+json');
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'pass' });

    const [view] = await monitors(app);
    expect(view).toMatchObject({
      name: 'primary',
      kind: 'http',
      target: `${s.target.url}/health`,
      url: `${s.target.url}/health`,
      schedule: 'every 300ms',
      activationTarget: 'primary',
      lastResult: { status: 'pass', output: 'HTTP 200, health+json status "pass"' },
      incident: null,
    });
    expect(view!.lastResult!.durationMs).toBeGreaterThan(0);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    for (const series of [
      'probe_success{monitor="primary"} 1',
      'probe_duration_seconds{monitor="primary"}',
      'vigil_monitor_consecutive_failures{monitor="primary"} 0',
      'vigil_monitor_state{monitor="primary",state="up"} 1',
      'vigil_monitor_state{monitor="primary",state="down"} 0',
      'vigil_probes_total{monitor="primary",result="pass"}',
      'vigil_activation_requests_total{monitor="primary",outcome="accepted"} 0',
      'vigil_watchdog_last_cycle_timestamp_seconds',
      'vigil_scheduler_skipped_ticks_total{monitor="primary"} 0',
      'vigil_scheduler_lag_seconds_bucket',
      'vigil_build_info{service="watchdog"',
    ]) {
      expect(metrics.body).toContain(series);
    }
  });

  it('starts with an empty configuration and no monitors', async () => {
    const config = parseConfigValue(WatchdogConfig, { dataDir }, 'test', {});
    const app = await buildApp({ config, logger });
    cleanup.push(() => app.close());
    await app.ready();
    expect(await monitors(app)).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('probes tcp and dns monitors beside http ones, and names each target in GET /v1/monitors', async () => {
    const s = await servers();
    const dnsServer = await startDnsServer({ 'primary.vigil.test A': ['127.0.0.1'] });
    cleanup.push(() => dnsServer.close());
    const port = Number(new URL(s.target.url).port);
    const app = await start(s, {
      monitors: [
        { name: 'web', url: `${s.target.url.replace('//', '//ops:hunter2@')}/health`, expectBody: { json: { '$.status': 'pass' } }, interval: '300ms', timeout: '250ms' },
        { name: 'port', kind: 'tcp', host: '127.0.0.1', port, interval: '300ms', timeout: '250ms' },
        { name: 'zone', kind: 'dns', host: 'primary.vigil.test', server: dnsServer.address, expect: '127.0.0.1', interval: '300ms', timeout: '250ms' },
      ],
    });
    await vi.waitFor(async () => expect((await monitors(app)).map((m) => m.state)).toEqual(['up', 'up', 'up']), WAIT);
    const views = await monitors(app);
    expect(views.map((m) => [m.name, m.kind, m.target, m.url])).toEqual([
      ['web', 'http', `${s.target.url.replace('//', '//ops:REDACTED@')}/health`, `${s.target.url.replace('//', '//ops:REDACTED@')}/health`],
      ['port', 'tcp', `127.0.0.1:${port}`, undefined],
      ['zone', 'dns', 'primary.vigil.test', undefined],
    ]);
    expect(views[1]!.lastResult).toMatchObject({ status: 'pass', output: `connected to 127.0.0.1:${port}` });
    expect(views[2]!.lastResult).toMatchObject({ status: 'pass', output: 'primary.vigil.test A: 127.0.0.1' });
  });

  const openssl = findBinary('openssl', 'openssl');
  it.skipIf(!openssl)('sends one certificate warning through the alert receivers when an https target\'s certificate expires within the window', async () => {
    const s = await servers();
    const key = join(dataDir, 'key.pem');
    const cert = join(dataDir, 'cert.pem');
    execFileSync(openssl!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
      stdio: 'ignore',
    });
    const pem = await readFile(cert, 'utf8');
    const https = createHttpsServer({ key: await readFile(key), cert: pem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
    });
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/`;
    const app = await start(s, { monitors: [{ name: 'tls', url, tls: { ca: pem }, interval: '200ms', timeout: '150ms' }] });
    await vi.waitFor(() => expect(alertsOf(s)).toHaveLength(1), WAIT);
    await vi.waitFor(async () => expect((await monitors(app))[0]!.lastResult).not.toBeNull(), WAIT);
    // more probes see the same certificate: still one warning
    await new Promise((resolve) => setTimeout(resolve, 600));
    const [warning] = alertsOf(s);
    expect(alertsOf(s)).toHaveLength(1);
    expect(warning).toMatchObject({ severity: 'warning', status: 'firing', labels: { monitor: 'tls', alertname: 'CertificateExpiring' } });
    const expires = new X509Certificate(pem).validToDate.toISOString();
    expect(warning!.summary).toMatch(new RegExp(`^certificate of ${url.replaceAll('.', '\\.')} expires in [23] days, on ${expires.replaceAll('.', '\\.')}$`));
    const stored = JSON.parse(await readFile(join(dataDir, 'monitors.json'), 'utf8')) as { monitors: Record<string, { certificateWarning?: unknown }> };
    expect(stored.monitors.tls!.certificateWarning).toMatchObject({ expiresAt: expires });
  });
});
