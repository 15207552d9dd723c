import type { Alert } from '@vigil/alerting';
import { redactUrl } from '@vigil/core';
import type { MonitorConfig } from './config.js';
import type { DecisionEvent } from './decision.js';

type AlertEvent = Extract<DecisionEvent, { type: 'alert-firing' | 'alert-resolved' }>;

const MAX_OUTPUT_IN_SUMMARY = 200;

/**
 * The alert for a firing or resolved event. Ids are derived from the incident, so the same
 * notification always carries the same id (a receiver can drop duplicates) while firing and
 * resolved differ; the incident id is the dedup key that ties the two together.
 */
export function alertFor(event: AlertEvent, monitor: MonitorConfig, lastOutput?: string): Alert {
  const { incident } = event;
  const url = redactUrl(monitor.url);
  const labels: Record<string, string> = { monitor: monitor.name };
  // "target" is the activation target (a primary/standby pair), present when the monitor guards one.
  if (monitor.activate) labels.target = monitor.activate.target;
  const base = { dedupKey: incident.id, monitor: monitor.name, severity: 'critical' as const, startsAt: incident.startedAt, labels };

  if (event.type === 'alert-firing') {
    const why = lastOutput ? `; last: ${lastOutput.slice(0, MAX_OUTPUT_IN_SUMMARY)}` : '';
    const summary = `${monitor.name} is down: ${event.consecutiveFailures} consecutive failed probes of ${url}${why}`;
    return { ...base, id: `${incident.id}:firing`, status: 'firing', summary, annotations: { summary, url } };
  }
  const summary = `${monitor.name} is up again: ${event.consecutiveSuccesses} consecutive successful probes of ${url}`;
  return { ...base, id: `${incident.id}:resolved`, status: 'resolved', summary, endsAt: event.resolvedAt, annotations: { summary, url } };
}
