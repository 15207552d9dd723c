import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '@vigil/core';
import type { Counter, Registry } from 'prom-client';
import type { Alert, DeliveryResult, Notifier } from './alert.js';
import { notificationsCounter, type NotificationLabel } from './metrics.js';
import { deliverWithRetry, type RetryOptions, type RetryOutcome, type RetryPolicy } from './retry.js';

type Label = NotificationLabel;
const OUTCOMES: readonly RetryOutcome[] = ['delivered', 'rejected', 'exhausted', 'cancelled'];
/** After the grace period, cancelled deliveries get this long to notice before close() returns anyway. */
const ABORT_GRACE_MS = 1_000;

export interface DispatcherOptions {
  notifiers: readonly Notifier[];
  logger: Logger;
  /** When given, `vigil_notifications_total{channel,receiver,outcome}` is counted here. */
  registry?: Registry;
  retry?: Partial<RetryPolicy>;
  /** How long close() lets in-flight deliveries finish before cancelling them. */
  closeTimeoutMs?: number;
  /** Passed to every deliverWithRetry call; tests inject sleep and random here. */
  retryOptions?: Pick<RetryOptions, 'sleep' | 'random'>;
}

export interface ReceiverResult {
  channel: string;
  receiver: string;
  delivered: boolean;
  outcome: RetryOutcome;
  attempts: number;
  lastResult: DeliveryResult;
}

/**
 * Sends each alert to every receiver at once, each through the retry stage, and records the
 * outcome in logs and metrics. Deliveries still running at close() are cancelled after a grace
 * period; keeping them across restarts is the job of a durable stage wrapped around this one.
 */
export class AlertDispatcher {
  private readonly notifiers: readonly Notifier[];
  private readonly logger: Logger;
  private readonly counter: Counter<Label> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly cancel = new AbortController();
  private closing = false;

  constructor(private readonly options: DispatcherOptions) {
    const seen = new Set<string>();
    for (const n of options.notifiers) {
      const key = `${n.channel}/${n.name}`;
      // Logs and metrics tell receivers apart by these two names only.
      if (seen.has(key)) throw new Error(`two ${n.channel} receivers are named "${n.name}"; receiver names must be unique`);
      seen.add(key);
    }
    this.notifiers = options.notifiers;
    this.logger = options.logger;
    this.counter = options.registry && notificationsCounter(options.registry);
    for (const n of this.notifiers) {
      // Start every series at zero so rate() and increase() see the first failure.
      for (const outcome of OUTCOMES) this.counter?.inc({ channel: n.channel, receiver: n.name, outcome }, 0);
    }
  }

  /** Delivers `alert` to every receiver; resolves with one result per receiver. Never rejects. */
  send(alert: Alert): Promise<ReceiverResult[]> {
    const sending = Promise.all(this.notifiers.map((n) => this.deliver(n, alert)));
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
    return sending;
  }

  /** Stops taking alerts and waits for deliveries in flight, cancelling those still running after the grace period. */
  async close(): Promise<void> {
    this.closing = true;
    const settled = Promise.allSettled(this.inFlight);
    if (await finishesWithin(settled, this.options.closeTimeoutMs ?? 10_000)) return;
    this.logger.warn({ deliveries: this.inFlight.size }, 'cancelling alert deliveries still in flight at shutdown');
    this.cancel.abort();
    await finishesWithin(settled, ABORT_GRACE_MS);
  }

  private async deliver(notifier: Notifier, alert: Alert): Promise<ReceiverResult> {
    const fields = { channel: notifier.channel, receiver: notifier.name, alertId: alert.id, monitor: alert.monitor, alertStatus: alert.status };
    const result = this.closing
      ? { delivered: false, outcome: 'cancelled' as const, attempts: 0, lastResult: CLOSED }
      : await deliverWithRetry(notifier, alert, this.options.retry ?? {}, {
          ...this.options.retryOptions,
          signal: this.cancel.signal,
          onAttempt: ({ attempt, result, nextDelayMs }) => {
            if (nextDelayMs === undefined || result.ok) return;
            this.logger.debug({ ...fields, attempt, error: result.error, retryInMs: nextDelayMs }, 'alert delivery attempt failed; retrying');
          },
        });

    this.counter?.inc({ channel: notifier.channel, receiver: notifier.name, outcome: result.outcome });
    const last = result.lastResult;
    const logged = { ...fields, outcome: result.outcome, attempts: result.attempts, httpStatus: last.status, ...(!last.ok && { error: last.error }) };
    if (result.delivered) this.logger.info(logged, 'alert delivered');
    else if (result.outcome === 'cancelled') this.logger.warn(logged, 'alert delivery cancelled');
    else this.logger.error(logged, 'alert not delivered');
    return { channel: notifier.channel, receiver: notifier.name, ...result };
  }
}

const CLOSED: DeliveryResult = { ok: false, retryable: true, error: 'the dispatcher is closed' };

async function finishesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const finished = await Promise.race([work.then(() => true), delay(ms, false, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  return finished;
}
