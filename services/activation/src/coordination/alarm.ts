import type { Alert } from '@vigil/alerting';
import type { Logger } from '@vigil/core';
import type { Coordination } from './coordination.js';

export interface AlarmOptions {
  coordination: Coordination;
  /** Sends an alert (firing or resolved) through the alerting channels; never rejects. */
  send: (alert: Alert) => Promise<unknown>;
  logger: Logger;
  now: () => number;
  /** How often reachability is looked at. */
  intervalMs: number;
}

/**
 * Raises a critical alert while this replica cannot reach its coordination store (nothing can
 * be activated automatically then; probes and alerts go on) and resolves it when the store
 * answers again. One alert per replica, deduplicated by the receivers on its key.
 */
export function watchReachability({ coordination, send, logger, now, intervalMs }: AlarmOptions): () => void {
  let firingSince: string | undefined;
  const dedupKey = `vigil-coordination-unreachable-${coordination.replica}`;
  const alert = (status: 'firing' | 'resolved', startsAt: string): Alert => ({
    id: `${dedupKey}-${status}-${startsAt}`,
    dedupKey,
    monitor: 'coordination',
    severity: 'critical',
    status,
    summary:
      status === 'firing'
        ? `activation replica ${coordination.replica} cannot reach ${coordination.kind}: no failover can be decided automatically (break-glass: vigil-activation break-glass)`
        : `activation replica ${coordination.replica} reaches ${coordination.kind} again`,
    startsAt,
    ...(status === 'resolved' && { endsAt: new Date(now()).toISOString() }),
    labels: { service: 'vigil-activation', replica: coordination.replica },
    annotations: {},
  });
  const timer = setInterval(() => {
    const reachable = coordination.reachable();
    if (!reachable && firingSince === undefined) {
      firingSince = new Date(now()).toISOString();
      logger.error({ replica: coordination.replica, store: coordination.kind }, 'the coordination store cannot be reached: nothing is activated automatically until it answers');
      void send(alert('firing', firingSince));
    } else if (reachable && firingSince !== undefined) {
      logger.warn({ replica: coordination.replica, store: coordination.kind }, 'the coordination store answers again');
      void send(alert('resolved', firingSince));
      firingSince = undefined;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
