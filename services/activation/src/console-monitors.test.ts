import { afterEach, describe, expect, it } from 'vitest';
import { MonitorsFetcher } from './console-monitors.js';
import { closedPort, fakeEndpoint } from './test-support/fixtures.js';
import { opsHarness } from './test-support/ops.js';

const harness = opsHarness();
const endpoints: Awaited<ReturnType<typeof fakeEndpoint>>[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.close();
  await harness.cleanup();
});

const monitor = { name: 'primary-health', state: 'up', intervalMs: 10_000, history: { bucketMs: 900_000, buckets: [] } };

async function watchdog(respond: Parameters<typeof fakeEndpoint>[0]) {
  const e = await fakeEndpoint(respond);
  endpoints.push(e);
  return e;
}
const answering = (body: unknown, status = 200) =>
  watchdog((_n, _req, res) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  });

describe('GET /console/monitors', () => {
  it('gathers each watchdog\'s monitors with their 24 h history; one failing watchdog is reported, never failing the answer', async () => {
    const good = await answering({ monitors: [monitor] });
    const broken = await answering({ error: 'internal', message: 'boom' }, 500);
    const port = await closedPort();
    const { app } = await harness.setup(() => ({}), { top: { console: { watchdogs: [good.url, `${broken.url}/`, `http://127.0.0.1:${port}`] } } });
    const res = await app.inject({ url: '/console/monitors' });
    expect(res.statusCode).toBe(200);
    const { watchdogs } = res.json<{ watchdogs: Record<string, unknown>[] }>();
    expect(watchdogs).toEqual([
      { url: good.url, ok: true, fetchedAt: expect.any(String) as string, monitors: [monitor] },
      { url: `${broken.url}/`, ok: false, error: expect.stringContaining('answered 500') as string, fetchedAt: expect.any(String) as string, monitors: [] },
      { url: `http://127.0.0.1:${port}`, ok: false, error: expect.stringContaining('ECONNREFUSED') as string, fetchedAt: expect.any(String) as string, monitors: [] },
    ]);
    expect(good.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /v1/monitors?history=24h']);
    expect(broken.calls.map((c) => c.url)).toEqual(['/v1/monitors?history=24h']);
  });

  it('no watchdogs configured: an empty list', async () => {
    const { app } = await harness.setup();
    expect((await app.inject({ url: '/console/monitors' })).json()).toEqual({ watchdogs: [] });
  });
});

describe('MonitorsFetcher', () => {
  it('gives up on a watchdog after the timeout', async () => {
    const slow = await watchdog(() => undefined); // never answers
    const fetcher = new MonitorsFetcher({ watchdogs: [slow.url], now: Date.now, timeoutMs: 200 });
    const started = Date.now();
    const { watchdogs } = await fetcher.get();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(watchdogs[0]).toMatchObject({ ok: false, error: expect.stringContaining('timed out after 200ms') as string });
  });

  it('reuses an answer for 2 s, shares one round between concurrent callers, and sends the token', async () => {
    const good = await answering({ monitors: [monitor] });
    let now = 1_000_000;
    const fetcher = new MonitorsFetcher({ watchdogs: [good.url], token: 'watchdog-token', now: () => now });
    await Promise.all([fetcher.get(), fetcher.get()]);
    now += 1_999;
    await fetcher.get();
    expect(good.calls).toHaveLength(1);
    expect(good.calls[0]!.headers.authorization).toBe('Bearer watchdog-token');
    now += 1;
    await fetcher.get();
    expect(good.calls).toHaveLength(2);
  });

  it('an answer that is not a monitor list is an error', async () => {
    const odd = await answering({ something: 'else' });
    const text = await watchdog((_n, _req, res) => res.end('not json'));
    const fetcher = new MonitorsFetcher({ watchdogs: [odd.url, text.url], now: Date.now });
    const { watchdogs } = await fetcher.get();
    expect(watchdogs.map((w) => [w.ok, w.error])).toEqual([
      [false, expect.stringContaining('no "monitors" list') as string],
      [false, expect.stringContaining('not JSON') as string],
    ]);
  });
});
