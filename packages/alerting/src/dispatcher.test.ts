import { generateSecret } from '@vigil/core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryResult, Notifier } from './alert.js';
import { webhook } from './channels/webhook.js';
import { AlertDispatcher, type DispatcherOptions } from './dispatcher.js';
import { sampleAlert } from './testkit/conformance.js';
import { capturedLogger } from './testkit/logger.js';
import { TestReceiver } from './testkit/receiver.js';


/** Answers from a script; the last answer repeats, and an empty script always succeeds. */
const answering = (name: string, ...script: DeliveryResult[]): Notifier => {
  const answers = script.length > 0 ? script : [{ ok: true, status: 200 } as const];
  let calls = 0;
  return { channel: 'test', name, notify: () => Promise.resolve(answers[Math.min(calls++, answers.length - 1)]!) };
};

/** Answers only once its signal aborts, like a receiver that never responds. */
const hanging = (name: string): Notifier => ({
  channel: 'test',
  name,
  notify: (_alert, signal) =>
    new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, retryable: true, error: 'cancelled' }), { once: true })),
});

const instant = { sleep: () => Promise.resolve() } satisfies DispatcherOptions['retryOptions'];

describe('AlertDispatcher', () => {
  it('delivers to every receiver and reports each outcome', async () => {
    const { logger, lines } = capturedLogger();
    const registry = new Registry();
    const dispatcher = new AlertDispatcher({
      notifiers: [
        answering('ok'),
        answering('flaky', { ok: false, retryable: true, error: 'HTTP 503' }, { ok: true, status: 202 }),
        answering('refusing', { ok: false, retryable: false, error: 'HTTP 401', status: 401 }),
        answering('down', { ok: false, retryable: true, error: 'HTTP 503', status: 503 }),
      ],
      logger,
      registry,
      retry: { maxAttempts: 3 },
      retryOptions: instant,
    });

    const results = await dispatcher.send(sampleAlert({ id: 'alert-42' }));
    expect(results.map((r) => [r.receiver, r.outcome, r.attempts])).toEqual([
      ['ok', 'delivered', 1],
      ['flaky', 'delivered', 2],
      ['refusing', 'rejected', 1],
      ['down', 'exhausted', 3],
    ]);

    const outcomes = lines.filter((l) => l.alertId === 'alert-42' && 'outcome' in l);
    expect(outcomes).toHaveLength(4);
    expect(outcomes.find((l) => l.receiver === 'refusing')).toMatchObject({
      level: 'error',
      channel: 'test',
      outcome: 'rejected',
      attempts: 1,
      httpStatus: 401,
      error: 'HTTP 401',
    });
    expect(lines.filter((l) => l.msg === 'alert delivery attempt failed; retrying')).toHaveLength(3);

    const metric = await registry.getSingleMetric('vigil_notifications_total')!.get();
    const count = (receiver: string, outcome: string) =>
      metric.values.find((v) => v.labels.receiver === receiver && v.labels.outcome === outcome)?.value;
    expect([count('ok', 'delivered'), count('flaky', 'delivered'), count('refusing', 'rejected'), count('down', 'exhausted')]).toEqual([1, 1, 1, 1]);
    // Series exist from the start, so the first failure shows up in rate().
    expect(count('ok', 'rejected')).toBe(0);
    await dispatcher.close();
  });

  it('shares the counter between dispatchers on one registry', () => {
    const registry = new Registry();
    const { logger } = capturedLogger();
    new AlertDispatcher({ notifiers: [answering('a')], logger, registry });
    expect(() => new AlertDispatcher({ notifiers: [answering('b')], logger, registry })).not.toThrow();
  });

  it('refuses two receivers with one name', () => {
    const { logger } = capturedLogger();
    expect(() => new AlertDispatcher({ notifiers: [answering('ops'), answering('ops')], logger })).toThrow('unique');
  });

  it('lets deliveries in flight finish at close', async () => {
    const { logger } = capturedLogger();
    const slow: Notifier = {
      channel: 'test',
      name: 'slow',
      notify: () => new Promise((resolve) => setTimeout(() => resolve({ ok: true, status: 200 }), 50)),
    };
    const dispatcher = new AlertDispatcher({ notifiers: [slow], logger });
    const sending = dispatcher.send(sampleAlert());
    await dispatcher.close();
    expect((await sending)[0]).toMatchObject({ outcome: 'delivered' });
  });

  it('cancels deliveries still running after the close timeout, and takes no more', async () => {
    const { logger, lines } = capturedLogger();
    const dispatcher = new AlertDispatcher({ notifiers: [hanging('stuck')], logger, closeTimeoutMs: 50 });
    const sending = dispatcher.send(sampleAlert());

    const started = performance.now();
    await dispatcher.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((await sending)[0]).toMatchObject({ delivered: false, outcome: 'cancelled', attempts: 1 });
    expect(lines.some((l) => l.msg === 'cancelling alert deliveries still in flight at shutdown')).toBe(true);

    expect((await dispatcher.send(sampleAlert()))[0]).toMatchObject({ delivered: false, outcome: 'cancelled', attempts: 0 });
  });

  describe('with a real webhook receiver', () => {
    const receiver = new TestReceiver();
    let url = '';
    beforeAll(async () => {
      url = await receiver.start();
    });
    afterAll(() => receiver.stop());

    it('never logs the secret or the URL token', async () => {
      const secret = generateSecret();
      const token = 'url-token-5a9c';
      const { logger, lines } = capturedLogger();
      const hook = webhook.create({ type: 'webhook', name: 'ops', url: `${url}/hook/${token}?token=${token}`, secret, timeout: 2_000 });
      const dispatcher = new AlertDispatcher({ notifiers: [hook], logger, retry: { maxAttempts: 2 }, retryOptions: instant });
      receiver.reset({ status: 500 }, { status: 401 });

      expect((await dispatcher.send(sampleAlert()))[0]).toMatchObject({ outcome: 'rejected', attempts: 2 });
      const text = JSON.stringify(lines);
      expect(text).toContain('answered HTTP 401');
      expect(text).not.toContain(secret.slice('whsec_'.length));
      expect(text).not.toContain(token);
      await dispatcher.close();
    });
  });
});
