import { spawnSync } from 'node:child_process';
import { HEALTH_CONTENT_TYPE, parseConfigValue, type HealthResponse } from '@vigil/core';
import { Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { findBinary } from '../../../packages/core/src/test-support/components.js';
import { postgresBinaries, startPostgres } from '../../../packages/checks/src/test-support/components.js';
import { buildApp } from './app.js';
import { HealthCheckConfig } from './config.js';
import { after, hang, startTarget, type Target } from './test-support/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function target(...args: Parameters<typeof startTarget>): Promise<Target> {
  const t = await startTarget(...args);
  cleanups.push(() => t.close());
  return t;
}

async function app(raw: Record<string, unknown>, adjust: (config: HealthCheckConfig) => void = () => undefined) {
  const config = parseConfigValue(HealthCheckConfig, raw, 'test');
  adjust(config);
  const built = await buildApp(config);
  cleanups.push(() => built.close());
  return built;
}

const httpCheck = (name: string, t: Target, extra: Record<string, unknown> = {}) => ({ name, kind: 'http', url: t.url, timeout: '500ms', ...extra });

describe('GET /health', () => {
  it('answers pass in health+json, uncached', async () => {
    const ok = await target(after(0));
    const service = await app({ serviceId: 'primary-eu', version: '1.2.0', checks: [httpCheck('app', ok)] });
    const response = await service.inject('/health');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(HEALTH_CONTENT_TYPE);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json<HealthResponse>();
    expect(Object.keys(body.checks!)).toEqual(['app:responseTime']);
    const [entry, ...more] = body.checks!['app:responseTime']!;
    expect(more).toEqual([]);
    expect(body).toMatchObject({ status: 'pass', serviceId: 'primary-eu', version: '1.2.0' });
    expect(entry).toMatchObject({ componentType: 'component', observedUnit: 'ms', status: 'pass', output: 'HTTP 200' });
    expect(entry!.observedValue).toBeGreaterThan(0);
    expect(Date.parse(entry!.time!)).toBeGreaterThan(Date.now() - 5_000);
  });

  it.each([
    { name: 'a critical failure fails', critical: true, status: 503, health: undefined, expected: 'fail' },
    { name: 'a non-critical failure warns', critical: false, status: 503, health: undefined, expected: 'warn' },
    { name: 'a warning warns', critical: true, status: 200, health: 'warn', expected: 'warn' },
    { name: 'a non-critical warning warns', critical: false, status: 200, health: 'warn', expected: 'warn' },
  ])('aggregates: $name', async ({ critical, status, health, expected }) => {
    const ok = await target(after(0));
    const other = await target(after(0, status, health));
    const service = await app({ checks: [httpCheck('app', ok), httpCheck('cache', other, { critical })] });
    const response = await service.inject('/health');
    expect(response.json<HealthResponse>().status).toBe(expected);
    expect(response.statusCode).toBe(expected === 'fail' ? 503 : 200);
  });

  it('passes with no checks configured', async () => {
    const service = await app({ checks: [] });
    const response = await service.inject('/health');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'pass', checks: {} });
  });

  it('answers within the deadline while a dependency hangs', async () => {
    const hung = await target(hang);
    const ok = await target(after(0));
    const service = await app({ deadline: '1s', checks: [httpCheck('app', ok), httpCheck('db', hung, { timeout: '300ms' })] });
    const started = performance.now();
    const response = await service.inject('/health');
    expect(performance.now() - started).toBeLessThan(1_000 + 500);
    expect(response.statusCode).toBe(503);
    const body = response.json<HealthResponse>();
    expect(body.checks!['app:responseTime']![0]!.status).toBe('pass');
    expect(body.checks!['db:responseTime']![0]).toMatchObject({ status: 'fail', output: 'timed out after 300ms' });
  });

  it('counts a check still running at the deadline as failed', async () => {
    const hung = await target(hang);
    // Validation keeps timeouts below the deadline; set a longer one to exercise the last guard.
    const service = await app({ deadline: '10s', checks: [httpCheck('db', hung, { timeout: '5s' })] }, (config) => {
      config.deadline = 400;
    });
    const started = performance.now();
    const response = await service.inject('/health');
    expect(performance.now() - started).toBeLessThan(400 + 300);
    expect(response.statusCode).toBe(503);
    expect(response.json<HealthResponse>().checks!['db:responseTime']![0]).toMatchObject({
      status: 'fail',
      output: 'did not finish within the 400ms deadline',
    });
  });

  it('shares one evaluation between concurrent callers', async () => {
    const slow = await target(after(300));
    const service = await app({ checks: [httpCheck('app', slow)] });
    const responses = await Promise.all(Array.from({ length: 50 }, () => service.inject('/health')));
    expect(responses.map((r) => r.statusCode)).toEqual(Array.from({ length: 50 }, () => 200));
    expect(slow.requests).toBe(1);
    // The next caller, after the burst, gets a fresh evaluation.
    await service.inject('/health');
    expect(slow.requests).toBe(2);
  });
});

describe('GET /metrics', () => {
  it('exposes the status, per-check series and the evaluation count', async () => {
    const ok = await target(after(0));
    const down = await target(after(0, 503));
    const service = await app({ version: '1.2.0', checks: [httpCheck('app', ok), httpCheck('cache', down, { critical: false })] });
    await service.inject('/health');
    const response = await service.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    for (const line of [
      'vigil_health_status{status="warn"} 1',
      'vigil_health_status{status="pass"} 0',
      'vigil_health_check_status{check="app",status="pass"} 1',
      'vigil_health_check_status{check="cache",status="fail"} 1',
      'vigil_health_check_duration_seconds_count{check="app"} 1',
      'vigil_health_evaluations_total 1',
      'vigil_build_info{service="health-check",version="1.2.0"} 1',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/^vigil_health_check_duration_seconds_bucket\{le="0\.5",check="app"\} 1$/m);
  });

  const promtool = findBinary('promtool', 'prometheus');
  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const ok = await target(after(0));
    const service = await app({ checks: [httpCheck('app', ok)] });
    await service.inject('/health');
    const result = spawnSync(promtool!, ['check', 'metrics'], { input: (await service.inject('/metrics')).body, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('probes and shutdown', () => {
  it('is live and ready once started', async () => {
    const service = await app({ checks: [] });
    expect((await service.inject('/livez')).statusCode).toBe(200);
    expect((await service.inject('/readyz')).json()).toEqual({ status: 'pass' });
  });

  it('finishes an in-flight /health on close, and takes no new work', async () => {
    const slow = await target(after(300));
    const service = await app({ checks: [httpCheck('app', slow)] });
    const address = await service.listen({ host: '127.0.0.1', port: 0 });
    const client = new Client(address);
    cleanups.push(() => client.close());
    const inFlight = client.request({ method: 'GET', path: '/health' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = service.close();
    await new Promise((resolve) => setImmediate(resolve));
    // Not ready while closing: a new caller is refused (connection or 503), never served.
    const probe = await request(`${address}/readyz`).then(
      async (r) => (await r.body.dump(), r.statusCode),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect([503, 'ECONNREFUSED']).toContain(probe);
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ status: 'pass' });
    // The client's keep-alive connection does not hold the close up.
    const closing = performance.now();
    await closed;
    expect(performance.now() - closing).toBeLessThan(1_000);
    await expect(request(`${address}/livez`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('caching and background evaluation', () => {
  it('serves one result for the cache TTL, with its age', async () => {
    const ok = await target(after(0));
    const service = await app({ cache: { ttl: '1500ms' }, checks: [httpCheck('app', ok)] });
    const first = await service.inject('/health');
    expect(first.headers.age).toBe('0');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await service.inject('/health');
    expect(second.body).toBe(first.body);
    expect(second.headers.age).toBe('1');
    expect(ok.requests).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await service.inject('/health');
    expect(ok.requests).toBe(2);
  });

  it('evaluates in the background and serves the last result without waiting', async () => {
    const slow = await target(after(200));
    const service = await app({ deadline: '400ms', background: { interval: '400ms' }, checks: [httpCheck('app', slow, { timeout: '300ms' })] });
    await service.ready();
    // The first caller waits for the first background run; later ones get its result at once.
    expect((await service.inject('/health')).statusCode).toBe(200);
    const started = performance.now();
    const response = await service.inject('/health');
    expect(performance.now() - started).toBeLessThan(150);
    expect(response.json<HealthResponse>().status).toBe('pass');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // Runs on its interval, not per request.
    expect(slow.requests).toBeGreaterThanOrEqual(2);
    expect(slow.requests).toBeLessThanOrEqual(5);
  });
});

describe('details and their access', () => {
  const token = 'health-details-token-1234';
  const checksOf = (response: { json<T>(): T }) => response.json<HealthResponse>().checks;

  it('gives the token bearer every detail, and anonymous callers the status only', async () => {
    const ok = await target(after(0));
    const service = await app({ serviceId: 'primary-eu', details: { token }, checks: [httpCheck('app', ok)] });
    const full = await service.inject({ url: '/health', headers: { authorization: `Bearer ${token}` } });
    expect(checksOf(full)!['app:responseTime']![0]).toMatchObject({ status: 'pass', output: 'HTTP 200', observedUnit: 'ms' });
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
      const anonymous = await service.inject({ url: '/health', headers });
      expect(anonymous.json()).toEqual({ status: 'pass', serviceId: 'primary-eu' });
      expect(anonymous.headers['content-type']).toBe(HEALTH_CONTENT_TYPE);
    }
  });

  it('can give anonymous callers the check names and statuses without outputs or values', async () => {
    const down = await target(after(0, 503));
    const service = await app({ details: { token, anonymous: 'names' }, checks: [httpCheck('app', down)] });
    const response = await service.inject('/health');
    expect(response.statusCode).toBe(503);
    const entry = checksOf(response)!['app:responseTime']![0]!;
    expect(Object.keys(entry).sort()).toEqual(['componentType', 'status', 'time']);
    expect(entry.status).toBe('fail');
  });

  it('keys each entry by what its check measures', async () => {
    const service = await app({ checks: [{ name: 'scratch', kind: 'disk', path: '/', thresholds: { fail: -1 } }, { name: 'heap', kind: 'process', measure: 'heapUsed' }] });
    const checks = checksOf(await service.inject('/health'))!;
    expect(Object.keys(checks)).toEqual(['scratch:free', 'heap:heapUsed']);
    expect(checks['scratch:free']![0]).toMatchObject({ componentType: 'system', observedUnit: '%', status: 'pass' });
  });

  const binaries = postgresBinaries();
  it.skipIf(!binaries)('never shows a connection string or password, even when a server error quotes it', async () => {
    const server = await startPostgres(binaries!);
    cleanups.push(() => server.stop());
    // The database name is the password; PostgreSQL's error quotes the database name.
    const url = `postgres://vigil:${server.password}@127.0.0.1:${server.port}/${server.password}`;
    const service = await app({ details: { token }, checks: [{ name: 'db', kind: 'postgres', url, timeout: '1500ms' }] });
    const response = await service.inject({ url: '/health', headers: { authorization: `Bearer ${token}` } });
    expect(checksOf(response)!['db:responseTime']![0]).toMatchObject({ status: 'fail', output: 'database "REDACTED" does not exist' });
    expect(response.body).not.toContain(server.password);
  });
});

describe('a dependency that accepts connections and never answers', () => {
  it('200 concurrent /health calls get the failed check within the deadline from one evaluation, and it is reported slow', async () => {
    const hung = await target(hang);
    const ok = await target(after(0));
    const service = await app({ deadline: '1s', checks: [httpCheck('app', ok), httpCheck('db', hung, { timeout: '600ms' })] });
    const address = await service.listen({ host: '127.0.0.1', port: 0 });
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const response = await request(`${address}/health`);
        return { status: response.statusCode, body: (await response.body.json()) as HealthResponse, at: performance.now() - started };
      }),
    );
    expect(Math.max(...responses.map((r) => r.at))).toBeLessThan(1_000 + 1_000);
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([503]));
    const body = responses[0]!.body;
    expect(body.checks!['db:responseTime']![0]).toMatchObject({ status: 'fail', output: 'timed out after 600ms' });
    expect(body.notes).toEqual(['slow checks (did not finish in time): db']);
    expect(hung.requests).toBe(1);
    expect(ok.requests).toBe(1);
    const metrics = (await service.inject('/metrics')).body;
    expect(metrics).toContain('vigil_health_evaluations_total 1');
    expect(metrics).toContain('vigil_health_check_timeouts_total{check="db"} 1');
    expect(metrics).toContain('vigil_health_check_timeouts_total{check="app"} 0');
  });
});

describe('GET /openapi.json', () => {
  it('describes every route from its schemas', async () => {
    const service = await app({ version: '1.2.0', checks: [] });
    const response = await service.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    const doc = response.json<{ openapi: string; info: { version: string }; paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>> }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('1.2.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/health', '/livez', '/metrics', '/openapi.json', '/readyz']);
    const health = doc.paths['/health']!.get!;
    expect(Object.keys(health.responses)).toEqual(['200', '503']);
    const schema = health.responses['503']!.content[HEALTH_CONTENT_TYPE]!.schema;
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining(['status', 'serviceId', 'checks', 'notes']));
  });
});
