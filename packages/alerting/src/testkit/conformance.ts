import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert, DeliveryResult, Notifier } from '../alert.js';
import { AlertOutbox } from '../outbox.js';
import { deliverWithRetry } from '../retry.js';
import { capturedLogger } from './logger.js';
import { refusingUrl, TestReceiver, type ReceivedRequest } from './receiver.js';

/** Builds the notifier under test, sending to `url`, with the given per-attempt timeout. */
export type MakeNotifier = (url: string, options: { timeoutMs: number }) => Notifier;

export interface ConformanceOptions {
  /** Values that must never appear in an error text, such as the channel's signing secret. */
  secrets?: readonly string[];
  /**
   * What the receiver uses to recognise retries of one notification (the `webhook-id` header,
   * a PagerDuty `dedup_key`). Without it, retries must send identical bodies.
   */
  deliveryId?: (request: ReceivedRequest) => string | undefined;
}

export function sampleAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: 'alert-0b7e5c1d',
    dedupKey: 'primary-eu/health',
    monitor: 'primary-eu',
    severity: 'critical',
    status: 'firing',
    summary: 'primary-eu health check failed 3 times in a row',
    startsAt: '2026-11-22T10:00:00.000Z',
    labels: { region: 'eu-west-1', target: 'primary-eu' },
    annotations: { runbook: 'https://runbooks.example.com/failover' },
    ...overrides,
  };
}

// Stand-ins for the credentials many receivers embed in their URLs; errors must not repeat them.
const PATH_TOKEN = 'path-token-6f1d2a48';
const QUERY_TOKEN = 'query-token-93be7c05';
const withTokens = (base: string) => `${base}/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}`;

/**
 * The behaviour every channel shares, checked against a real HTTP receiver on 127.0.0.1. Call
 * it from the channel's own test file.
 */
export function runNotifierConformance(name: string, makeNotifier: MakeNotifier, options: ConformanceOptions = {}): void {
  describe(`${name} notifier conformance`, () => {
    const receiver = new TestReceiver();
    let url = '';
    const secrets = [PATH_TOKEN, QUERY_TOKEN, ...(options.secrets ?? [])];

    beforeAll(async () => {
      url = withTokens(await receiver.start());
    });
    afterAll(() => receiver.stop());
    beforeEach(() => receiver.reset());

    /** One notify call; every result is checked for leaked secrets. */
    async function notify(notifier: Notifier, signal = new AbortController().signal): Promise<DeliveryResult> {
      const result = await notifier.notify(sampleAlert(), signal);
      if (!result.ok) {
        expect(result.error).not.toBe('');
        for (const secret of secrets) expect(result.error).not.toContain(secret);
      }
      return result;
    }
    const make = (timeoutMs = 5_000, to = url) => makeNotifier(to, { timeoutMs });

    it('names its channel and receiver', () => {
      const notifier = make();
      expect(notifier.channel).not.toBe('');
      expect(notifier.name).not.toBe('');
    });

    it.each([200, 202, 204])('delivers on HTTP %i', async (status) => {
      receiver.reset({ status });
      expect(await notify(make())).toMatchObject({ ok: true, status });
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]?.method).toBe('POST');
    });

    it.each([500, 502, 503, 429, 408])('treats HTTP %i as retryable', async (status) => {
      receiver.reset({ status });
      expect(await notify(make())).toMatchObject({ ok: false, retryable: true, status });
    });

    it.each([400, 401, 403, 404, 422])('treats HTTP %i as final', async (status) => {
      // Receivers often echo the request URL in an error body; it must not reach the error text.
      receiver.reset({ status, body: `no hook at ${url}` });
      expect(await notify(make())).toMatchObject({ ok: false, retryable: false, status });
    });

    it('reads Retry-After in seconds', async () => {
      receiver.reset({ status: 503, headers: { 'retry-after': '7' } });
      expect(await notify(make())).toMatchObject({ ok: false, retryable: true, retryAfterMs: 7_000 });
    });

    it('reads Retry-After as an HTTP-date', async () => {
      receiver.reset({ status: 429, headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() } });
      const result = await notify(make());
      // HTTP dates have whole seconds, and the clock moves while the request runs.
      expect(result.ok ? undefined : result.retryAfterMs).toBeGreaterThanOrEqual(27_000);
      expect(result.ok ? undefined : result.retryAfterMs).toBeLessThanOrEqual(30_000);
    });

    it('treats a refused connection as retryable', async () => {
      const result = await notify(make(5_000, withTokens(await refusingUrl())));
      expect(result).toMatchObject({ ok: false, retryable: true });
    });

    it('treats a dropped connection as retryable', async () => {
      receiver.reset('reset');
      expect(await notify(make())).toMatchObject({ ok: false, retryable: true });
    });

    it('gives up at its timeout when the receiver never answers, as retryable', async () => {
      receiver.reset('hang');
      const started = performance.now();
      expect(await notify(make(300))).toMatchObject({ ok: false, retryable: true });
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(3_000);
    });

    it("stops when the caller's signal aborts", async () => {
      receiver.reset('hang');
      const started = performance.now();
      const result = await notify(make(10_000), AbortSignal.timeout(100));
      expect(result).toMatchObject({ ok: false, retryable: true });
      expect(performance.now() - started).toBeLessThan(3_000);
    });

    it('reads responses so its connections are reused', async () => {
      // Larger than a socket's buffers: a body left unread would hold its connection and force a new one.
      const body = 'x'.repeat(150 * 1024);
      // A receiver of its own, so no connection left idle by an earlier test is counted.
      const fresh = new TestReceiver();
      try {
        fresh.reset(...[200, 500, 200, 404, 200, 503].map((status) => ({ status, body })));
        const notifier = make(5_000, withTokens(await fresh.start()));
        for (let i = 0; i < 6; i++) await notify(notifier);
        expect(fresh.requests).toHaveLength(6);
        // The pool may hand the next request to a second connection while the first is released.
        expect(new Set(fresh.requests.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
      } finally {
        await fresh.stop();
      }
    });

    it('sends retries of one notification as the same notification', async () => {
      receiver.reset({ status: 503 }, { status: 429 }, { status: 200 });
      const outcome = await deliverWithRetry(make(), sampleAlert(), { maxAttempts: 5 }, { signal: new AbortController().signal, sleep: async () => {} });
      expect(outcome).toMatchObject({ delivered: true, attempts: 3 });
      expect(receiver.requests).toHaveLength(3);
      const keys = receiver.requests.map((r) => (options.deliveryId ? options.deliveryId(r) : r.body));
      expect(keys[0]).toBeDefined();
      expect(new Set(keys).size).toBe(1);
    });

    it('never puts a secret in logs or metrics, through the outbox', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'vigil-conformance-'));
      const { logger, lines } = capturedLogger();
      const registry = new Registry();
      const outbox = new AlertOutbox({
        dataDir,
        notifiers: [make()],
        logger,
        registry,
        policy: { maxAttempts: 5, backoff: { initialBackoffMs: 1, maxBackoffMs: 5 } },
      });
      try {
        receiver.reset({ status: 503, body: `retry ${url}` }, 'reset', { status: 401, body: `who are you, ${url}` });
        outbox.start();
        await outbox.enqueue(sampleAlert(), [{ receiver: make().name }]);
        await vi.waitFor(() => expect(outbox.depth).toBe(0));
        expect(receiver.requests).toHaveLength(3);
        const text = JSON.stringify(lines) + (await registry.metrics());
        expect(text).toContain('HTTP 401');
        for (const secret of secrets) expect(text).not.toContain(secret);
      } finally {
        await outbox.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('stops retrying at a final failure', async () => {
      receiver.reset({ status: 400 }, { status: 200 });
      const outcome = await deliverWithRetry(make(), sampleAlert(), { maxAttempts: 5 }, { signal: new AbortController().signal, sleep: async () => {} });
      expect(outcome).toMatchObject({ delivered: false, outcome: 'rejected', attempts: 1 });
      expect(receiver.requests).toHaveLength(1);
    });
  });
}
