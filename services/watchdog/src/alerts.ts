import type { Alert } from '@vigil/alerting';
import type { MonitorConfig } from './config.js';
import type { CertificateEvent } from './certificate.js';
import type { DecisionEvent } from './decision.js';
import { probeTarget } from './probe.js';

/** The events that become alerts (activation requests go elsewhere). */
export type AlertEvent = Exclude<DecisionEvent, { type: 'activate' }> | CertificateEvent;

const MAX_OUTPUT_IN_SUMMARY = 200;

/**
 * The alert for a decision event. Ids are derived from the incident (or warning, or isolation), so
 * the same notification always carries the same id (a receiver can drop duplicates) while firing and
 * resolved differ; the dedup key ties the two together.
 */
export function alertFor(event: AlertEvent, monitor: MonitorConfig, lastOutput?: string): Alert {
  // What is probed, as people read it (credentials masked): a URL, host:port, or a name.
  const target = probeTarget(monitor);
  const annotation = { target, ...(monitor.kind === 'http' && { url: target }) };
  const labels: Record<string, string> = { monitor: monitor.name };
  // "target" is the activation target (a primary/standby pair), present when the monitor guards one.
  if (monitor.activate) labels.target = monitor.activate.target;
  const why = lastOutput ? `; last: ${lastOutput.slice(0, MAX_OUTPUT_IN_SUMMARY)}` : '';
  const firing = (dedupKey: string, severity: Alert['severity'], startsAt: string, summary: string, extra: Record<string, string> = {}): Alert => ({
    id: `${dedupKey}:firing`,
    dedupKey,
    monitor: monitor.name,
    severity,
    status: 'firing',
    summary,
    startsAt,
    labels: { ...labels, ...extra },
    annotations: { summary, ...annotation },
  });
  const resolved = (alert: Alert, endsAt: string, summary: string): Alert => ({
    ...alert,
    id: `${alert.dedupKey}:resolved`,
    status: 'resolved',
    summary,
    endsAt,
    annotations: { summary, ...annotation },
  });

  switch (event.type) {
    case 'alert-firing':
      return firing(event.incident.id, 'critical', event.incident.startedAt, `${monitor.name} is down: ${event.consecutiveFailures} consecutive failed probes of ${target}${why}`);
    case 'alert-resolved': {
      const summary = `${monitor.name} is up again: ${event.consecutiveSuccesses} consecutive successful probes of ${target}`;
      return resolved(firing(event.incident.id, 'critical', event.incident.startedAt, summary), event.resolvedAt, summary);
    }
    case 'warning-firing':
      return firing(event.warning.id, 'warning', event.warning.startedAt, `${monitor.name} is failing: ${event.consecutiveFailures} consecutive failed probes of ${target}${why}`);
    case 'warning-resolved': {
      const summary = `${monitor.name}: the failures of ${target} stopped or became an incident`;
      return resolved(firing(event.warning.id, 'warning', event.warning.startedAt, summary), event.resolvedAt, summary);
    }
    case 'isolated': {
      // Critical: while isolated the watchdog cannot fail over, so the standby is unguarded.
      const summary = `watchdog isolated: a probe of ${monitor.name} failed and a majority of control targets is unreachable; results are not counted and no activation is requested${why}`;
      return firing(isolationKey(monitor.name, event.since), 'critical', event.since, summary, { alertname: 'WatchdogIsolated' });
    }
    case 'isolation-ended': {
      const summary = `watchdog reaches ${monitor.name} or its control targets again; counting resumed`;
      return resolved(firing(isolationKey(monitor.name, event.since), 'critical', event.since, summary, { alertname: 'WatchdogIsolated' }), event.endedAt, summary);
    }
    case 'certificate-expiring': {
      const days = `${event.daysLeft} day${event.daysLeft === 1 ? '' : 's'}`;
      const summary = `certificate of ${target} expires in ${days}, on ${event.warning.expiresAt}`;
      return firing(event.warning.id, 'warning', event.warning.since, summary, { alertname: 'CertificateExpiring' });
    }
    case 'certificate-renewed': {
      const summary = `certificate of ${target} renewed: the earliest now expires on ${event.expiresAt}`;
      return resolved(firing(event.warning.id, 'warning', event.warning.since, summary, { alertname: 'CertificateExpiring' }), event.resolvedAt, summary);
    }
  }
}

function isolationKey(monitor: string, since: string): string {
  return `${monitor}-isolated-${since.replace(/[-:]/g, '')}`;
}
