import { spawnSync } from 'node:child_process';
import { HEALTH_CONTENT_TYPE, parseConfigValue, type HealthResponse } from '@vigil/core';
import { Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { findBinary } from '../../../packages/core/src/test-support/components.js';
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
