import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert, DeliveryResult, Notifier } from './alert.js';
import { AlertOutbox, type DeadLetter, type OutboxOptions } from './outbox.js';
import { findBinary } from '../../core/src/test-support/components.js';
import { sampleAlert } from './testkit/conformance.js';
import { capturedLogger } from './testkit/logger.js';


const OK: DeliveryResult = { ok: true, status: 200 };
const UNAVAILABLE: DeliveryResult = { ok: false, retryable: true, error: 'answered HTTP 503', status: 503 };
const REJECTED: DeliveryResult = { ok: false, retryable: false, error: 'answered HTTP 400', status: 400 };

interface Call {
  alert: Alert;
  at: number;
}

/** Answers from a script (the last answer repeats) and records every call. */
function scripted(name: string, answers: DeliveryResult[], extra: Partial<Notifier> = {}): Notifier & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    channel: 'test',
    name,
    calls,
    notify(alert) {
      const answer = answers[Math.min(calls.length, answers.length - 1)]!;
      calls.push({ alert, at: performance.now() });
      return Promise.resolve(answer);
    },
    ...extra,
  };
}

const fast = { maxAttempts: 5, maxAgeMs: 60_000, backoff: { initialBackoffMs: 20, maxBackoffMs: 50, jitter: 'none' as const } };

describe('AlertOutbox', () => {
  let dataDir = '';
  const open: AlertOutbox[] = [];
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  function outbox(notifiers: Notifier[], options: Partial<OutboxOptions> = {}) {
    const { logger, lines } = capturedLogger();
    const registry = new Registry();
    const o = new AlertOutbox({ dataDir, notifiers, logger, registry, policy: fast, ...options });
    open.push(o);
    o.start();
    return { outbox: o, lines, registry };
  }
  const stored = () => JSON.parse(readFileSync(join(dataDir, 'alert-outbox.json'), 'utf8')) as { pending: { id: string; attempts: number }[] };
  const deadLetters = () =>
    readFileSync(join(dataDir, 'alert-dead-letters.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as DeadLetter);
  const counted = async (registry: Registry, receiver: string, outcome: string) =>
    (await registry.getSingleMetric('vigil_notifications_total')!.get()).values.find((v) => v.labels.receiver === receiver && v.labels.outcome === outcome)?.value;

  it('writes every notification to disk before its first attempt', async () => {
    let onDisk: string[] = [];
    const notifier: Notifier = {
      channel: 'test',
      name: 'hook',
      notify: () => {
        onDisk = stored().pending.map((p) => p.id);
        return Promise.resolve(OK);
      },
    };
    const { outbox: o } = outbox([notifier]);
    await o.enqueue(sampleAlert({ id: 'a-1' }), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(o.depth).toBe(0));
    expect(onDisk).toEqual(['hook/a-1']);
    await vi.waitFor(() => expect(stored().pending).toEqual([]));
  });

  it('retries retryable failures with backoff until delivered, and counts the outcome', async () => {
    const hook = scripted('hook', [UNAVAILABLE, UNAVAILABLE, OK]);
    const { outbox: o, registry, lines } = outbox([hook]);
    await o.enqueue(sampleAlert(), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(hook.calls).toHaveLength(3));
    await vi.waitFor(() => expect(o.depth).toBe(0));
    expect(hook.calls[1]!.at - hook.calls[0]!.at).toBeGreaterThanOrEqual(15);
    expect(hook.calls[2]!.at - hook.calls[1]!.at).toBeGreaterThanOrEqual(35);
    expect(new Set(hook.calls.map((c) => c.alert.id)).size).toBe(1);
    expect(await counted(registry, 'hook', 'delivered')).toBe(1);
    expect(await counted(registry, 'hook', 'exhausted')).toBe(0);
    expect(lines.filter((l) => l.msg === 'alert delivery attempt failed; retrying')).toHaveLength(2);
  });

  it('dead-letters a final failure at once: logged, counted, kept in the dead-letter log', async () => {
    const hook = scripted('hook', [REJECTED, OK]);
    const { outbox: o, registry, lines } = outbox([hook]);
    await o.enqueue(sampleAlert({ id: 'a-2' }), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(o.depth).toBe(0));
    expect(hook.calls).toHaveLength(1);
    expect(await counted(registry, 'hook', 'rejected')).toBe(1);
    expect(lines.find((l) => l.msg === 'alert not delivered; dead-lettered')).toMatchObject({ level: 'error', outcome: 'rejected', httpStatus: 400, receiver: 'hook' });
    await vi.waitFor(() => expect(deadLetters()).toMatchObject([{ id: 'hook/a-2', reason: 'rejected', attempts: 1, error: 'answered HTTP 400' }]));
  });

  it('dead-letters after maxAttempts', async () => {
    const hook = scripted('hook', [UNAVAILABLE]);
    const { outbox: o, registry } = outbox([hook], { policy: { ...fast, maxAttempts: 3 } });
    await o.enqueue(sampleAlert(), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(o.depth).toBe(0));
    expect(hook.calls).toHaveLength(3);
    expect(await counted(registry, 'hook', 'exhausted')).toBe(1);
    await vi.waitFor(() => expect(deadLetters()[0]).toMatchObject({ reason: 'exhausted', attempts: 3 }));
  });

  it('dead-letters once the notification is older than maxAge', async () => {
    let now = 1_000_000;
    const hook = scripted('hook', [UNAVAILABLE]);
    const { outbox: o } = outbox([hook], { now: () => now, policy: { ...fast, maxAttempts: 100, maxAgeMs: 10_000 } });
    await o.enqueue(sampleAlert(), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(hook.calls.length).toBeGreaterThanOrEqual(1));
    now += 10_001;
    await vi.waitFor(() => expect(o.depth).toBe(0));
    await vi.waitFor(() => expect(deadLetters()[0]).toMatchObject({ reason: 'exhausted' }));
  });

  it("waits as long as the receiver's Retry-After asks", async () => {
    const hook = scripted('hook', [{ ...UNAVAILABLE, status: 429, retryAfterMs: 400 }, OK]);
    const { outbox: o } = outbox([hook]);
    await o.enqueue(sampleAlert(), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(hook.calls).toHaveLength(2), { timeout: 3_000 });
    expect(hook.calls[1]!.at - hook.calls[0]!.at).toBeGreaterThanOrEqual(380);
  });

  it('replays pending notifications after a restart, with the same id', async () => {
    const down = scripted('hook', [UNAVAILABLE]);
    const first = outbox([down], { policy: { ...fast, backoff: { ...fast.backoff, initialBackoffMs: 60_000, maxBackoffMs: 60_000 } } });
    await first.outbox.enqueue(sampleAlert({ id: 'a-3' }), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(down.calls).toHaveLength(1));
    await first.outbox.close();
    expect(stored().pending).toMatchObject([{ id: 'hook/a-3', attempts: 1 }]);

    const up = scripted('hook', [OK]);
    // A restart whose retry is due: the stored schedule is kept, so move the clock past it.
    const second = outbox([up], { now: () => Date.now() + 61_000 });
    await vi.waitFor(() => expect(up.calls).toHaveLength(1));
    expect(up.calls[0]!.alert.id).toBe('a-3');
    await vi.waitFor(() => expect(second.outbox.depth).toBe(0));
  });

  it('does not add a notification that is pending, delivered or dead-lettered, also after a restart', async () => {
    const hook = scripted('hook', [OK]);
    const first = outbox([hook]);
    await first.outbox.enqueue(sampleAlert({ id: 'a-4' }), [{ receiver: 'hook' }]);
    await first.outbox.enqueue(sampleAlert({ id: 'a-4' }), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(first.outbox.depth).toBe(0));
    await first.outbox.enqueue(sampleAlert({ id: 'a-4' }), [{ receiver: 'hook' }]);
    await first.outbox.close();

    const again = scripted('hook', [OK]);
    const second = outbox([again]);
    await second.outbox.enqueue(sampleAlert({ id: 'a-4' }), [{ receiver: 'hook' }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hook.calls).toHaveLength(1);
    expect(again.calls).toHaveLength(0);
  });

  it('keeps the order of one incident at one receiver: a resolution never overtakes its firing alert', async () => {
    const hook = scripted('hook', [UNAVAILABLE, UNAVAILABLE, OK]);
    const { outbox: o } = outbox([hook]);
    await o.enqueue(sampleAlert({ id: 'inc-1:firing' }), [{ receiver: 'hook' }]);
    await o.enqueue(sampleAlert({ id: 'inc-1:resolved', status: 'resolved', endsAt: '2026-11-22T10:05:00Z' }), [{ receiver: 'hook' }]);
    await vi.waitFor(() => expect(o.depth).toBe(0));
    expect(hook.calls.map((c) => c.alert.id)).toEqual(['inc-1:firing', 'inc-1:firing', 'inc-1:firing', 'inc-1:resolved']);
  });

  it('does not hold one receiver back because another is failing', async () => {
    const down = scripted('down', [UNAVAILABLE]);
    const up = scripted('up', [OK]);
    const { outbox: o } = outbox([down, up], { policy: { ...fast, maxAttempts: 50 } });
    await o.enqueue(sampleAlert(), [{ receiver: 'down' }, { receiver: 'up' }]);
    await vi.waitFor(() => expect(up.calls).toHaveLength(1));
    expect(o.depth).toBe(1);
  });

  it('re-sends a firing alert at the receiver\'s resend interval until it resolves', async () => {
    const am = scripted('am', [OK], { resendIntervalMs: 100 });
    const { outbox: o } = outbox([am]);
    await o.enqueue(sampleAlert({ id: 'inc-2:firing' }), [{ receiver: 'am' }]);
    await vi.waitFor(() => expect(am.calls.length).toBeGreaterThanOrEqual(3), { timeout: 3_000 });
    expect(am.calls.slice(0, 3).map((c) => c.alert.id)).toEqual(['inc-2:firing', 'inc-2:firing:resend-1', 'inc-2:firing:resend-2']);
    // Two intervals, less the slack of writing the first notification to disk on a busy machine.
    expect(am.calls[2]!.at - am.calls[0]!.at).toBeGreaterThanOrEqual(120);

    await o.enqueue(sampleAlert({ id: 'inc-2:resolved', status: 'resolved' }), [{ receiver: 'am' }]);
    await vi.waitFor(() => expect(am.calls.at(-1)!.alert.status).toBe('resolved'));
    const count = am.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(am.calls).toHaveLength(count);
  });

  it('sends reminders at the shorter of the route interval and the resend interval, and stops them on resolution even when it is not sent', async () => {
    const chat = scripted('chat', [OK]);
    const { outbox: o } = outbox([chat]);
    await o.enqueue(sampleAlert({ id: 'inc-3:firing' }), [{ receiver: 'chat', repeatIntervalMs: 100 }]);
    await vi.waitFor(() => expect(chat.calls.length).toBeGreaterThanOrEqual(2), { timeout: 3_000 });
    // The resolution is routed nowhere (sendResolved: false) yet ends the reminders.
    await o.enqueue(sampleAlert({ id: 'inc-3:resolved', status: 'resolved' }), []);
    const count = chat.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(chat.calls.length).toBeLessThanOrEqual(count + 1);
    expect(chat.calls.every((c) => c.alert.status === 'firing')).toBe(true);
  });

  it('reports its depth and the age of the oldest pending notification', async () => {
    let now = 5_000_000;
    const down = scripted('hook', [UNAVAILABLE]);
    const { outbox: o, registry } = outbox([down], { now: () => now, policy: { ...fast, maxAttempts: 100, backoff: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 } } });
    const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;
    expect(await gauge('vigil_alert_outbox_depth')).toBe(0);
    expect(await gauge('vigil_alert_outbox_oldest_pending_age_seconds')).toBe(0);
    await o.enqueue(sampleAlert({ id: 'x' }), [{ receiver: 'hook' }]);
    now += 2_500;
    await o.enqueue(sampleAlert({ id: 'y' }), [{ receiver: 'hook' }]);
    now += 500;
    expect(await gauge('vigil_alert_outbox_depth')).toBe(2);
    expect(await gauge('vigil_alert_outbox_oldest_pending_age_seconds')).toBe(3);
    expect(await registry.metrics()).toContain('vigil_alert_outbox_depth 2');
  });

  const promtool = findBinary('promtool', 'prometheus');
  it.skipIf(!promtool)('exports metrics that promtool check metrics finds clean', async () => {
    const { outbox: o, registry } = outbox([scripted('hook', [UNAVAILABLE])], { policy: { ...fast, backoff: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 } } });
    await o.enqueue(sampleAlert(), [{ receiver: 'hook' }]);
    const check = spawnSync(promtool!, ['check', 'metrics'], { input: await registry.metrics(), encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('cancels attempts in flight at close and keeps them pending, the attempt not counted', async () => {
    const hanging: Notifier = {
      channel: 'test',
      name: 'hook',
      notify: (_alert, signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, retryable: true, error: 'cancelled' }), { once: true })),
    };
    const { outbox: o, lines } = outbox([hanging], { closeTimeoutMs: 50 });
    await o.enqueue(sampleAlert({ id: 'a-5' }), [{ receiver: 'hook' }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await o.close();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(stored().pending).toMatchObject([{ id: 'hook/a-5', attempts: 0 }]);
    expect(lines.some((l) => l.msg === 'cancelling alert deliveries in flight at shutdown; they stay in the outbox')).toBe(true);
  });

  it('refuses to start on an outbox file it does not understand, naming the file', () => {
    writeFileSync(join(dataDir, 'alert-outbox.json'), '{"version": 7}');
    const { logger } = capturedLogger();
    expect(() => new AlertOutbox({ dataDir, notifiers: [], logger })).toThrow(/alert-outbox\.json.*move it aside/);
  });

  it('refuses two receivers with one name', () => {
    const { logger } = capturedLogger();
    expect(() => new AlertOutbox({ dataDir, notifiers: [scripted('a', [OK]), scripted('a', [OK])], logger })).toThrow('unique');
  });

  it('dead-letters what is pending for a receiver no longer configured', async () => {
    const down = scripted('gone', [UNAVAILABLE]);
    const first = outbox([down], { policy: { ...fast, backoff: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 } } });
    await first.outbox.enqueue(sampleAlert({ id: 'a-6' }), [{ receiver: 'gone' }]);
    await first.outbox.close();
    const second = outbox([scripted('other', [OK])]);
    expect(second.outbox.depth).toBe(0);
    await vi.waitFor(() => expect(deadLetters()).toMatchObject([{ id: 'gone/a-6', reason: 'unknown-receiver' }]));
  });
});
