import type { Logger } from '@vigil/core';
import type { Registry } from 'prom-client';
import type { Alert, Notifier } from './alert.js';
import { AlertOutbox, type OutboxTarget } from './outbox.js';
import { createNotifiers } from './registry.js';
import { routeAlert, type AlertingConfig } from './routing.js';

export interface AlertingOptions {
  config: AlertingConfig;
  /** The outbox (`alert-outbox.json`) and dead letters (`alert-dead-letters.jsonl`) live here. */
  dataDir: string;
  logger: Logger;
  /** Where `vigil_notifications_total` and the outbox gauges are reported. */
  registry?: Registry;
  /** How long close() lets attempts in flight finish before cancelling them (they stay in the outbox). */
  closeTimeoutMs?: number;
  /** The clock and randomness of backoff and reminders (tests). */
  now?: () => number;
  random?: () => number;
}

export interface Alerting {
  /** Routes the alert and writes its notifications to the outbox; resolves once they are durable. Never rejects. */
  send(alert: Alert): Promise<void>;
  /** Stops delivering; what is still pending is delivered after the next start. */
  close(): Promise<void>;
  /** Notifications pending in the outbox. */
  readonly depth: number;
}

/**
 * Alerting as configured: receivers, routes, and the durable outbox in `dataDir`. Replaces
 * AlertDispatcher where notifications must survive a restart.
 */
export function createAlerting(options: AlertingOptions): Alerting {
  const { config, logger } = options;
  const destinations = new Map<string, Notifier[]>(config.receivers.map((receiver) => [receiver.name, createNotifiers(receiver)]));
  const receiverNames = config.receivers.map((r) => r.name);
  const outbox = new AlertOutbox({
    dataDir: options.dataDir,
    notifiers: [...destinations.values()].flat(),
    logger,
    ...(options.registry && { registry: options.registry }),
    policy: {
      maxAttempts: config.delivery.maxAttempts,
      maxAgeMs: config.delivery.maxAge,
      backoff: { initialBackoffMs: config.delivery.initialBackoff, maxBackoffMs: config.delivery.maxBackoff, maxRetryAfterMs: config.delivery.maxRetryAfter },
    },
    ...(options.closeTimeoutMs !== undefined && { closeTimeoutMs: options.closeTimeoutMs }),
    ...(options.now && { now: options.now }),
    ...(options.random && { random: options.random }),
  });
  outbox.start();

  return {
    async send(alert) {
      const targets: OutboxTarget[] = routeAlert(alert, config.routes, receiverNames).flatMap(({ receiver, repeatIntervalMs }) =>
        (destinations.get(receiver) ?? []).map((n) => (repeatIntervalMs === undefined ? { receiver: n.name } : { receiver: n.name, repeatIntervalMs })),
      );
      if (targets.length === 0 && alert.status === 'firing') logger.warn({ alertId: alert.id, monitor: alert.monitor }, 'no route sends this alert anywhere');
      try {
        await outbox.enqueue(alert, targets);
      } catch (err) {
        logger.error({ err, alertId: alert.id }, 'cannot queue the alert');
      }
    },
    close: () => outbox.close(),
    get depth() {
      return outbox.depth;
    },
  };
}
