import { Counter, Gauge, type Registry } from 'prom-client';

export type NotificationLabel = 'channel' | 'receiver' | 'outcome';
const NOTIFICATIONS = 'vigil_notifications_total';

/** One counter per registry, shared by every dispatcher and outbox that reports there. */
export function notificationsCounter(registry: Registry): Counter<NotificationLabel> {
  const existing = registry.getSingleMetric(NOTIFICATIONS);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: NOTIFICATIONS,
    help: 'Alert notifications by receiver and final outcome (delivered, rejected, exhausted, cancelled).',
    labelNames: ['channel', 'receiver', 'outcome'] as const,
    registers: [registry],
  });
}

/**
 * A gauge read at scrape time. Registered afresh when one of that name exists, so the latest
 * outbox on a registry (one per process; a new one after a restart in tests) is the one reported.
 */
export function sampledGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  registry.removeSingleMetric(name);
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
