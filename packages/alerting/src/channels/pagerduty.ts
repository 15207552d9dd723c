import { Duration, HttpUrl, Type, type StaticDecode } from '@vigil/core';
import type { Alert, DeliveryResult } from '../alert.js';
import { ReceiverName, type Channel } from '../channel.js';
import { postJson } from '../http.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const PagerDutySeverity = Type.Union([Type.Literal('critical'), Type.Literal('error'), Type.Literal('warning'), Type.Literal('info')]);
export type PagerDutySeverity = StaticDecode<typeof PagerDutySeverity>;

export const PagerDutyConfig = Type.Object(
  {
    type: Type.Literal('pagerduty'),
    name: ReceiverName,
    routingKey: Type.String({
      pattern: '^[A-Za-z0-9+/=_-]{16,64}$',
      description: 'Events API v2 integration key (a secret: write ${ENV_VAR} to keep it out of the file)',
      'x-expected': 'a PagerDuty Events API v2 integration key',
    }),
    url: HttpUrl({ default: PAGERDUTY_EVENTS_URL, description: 'Events API v2 endpoint' }),
    timeout: Duration({ default: '10s', description: 'limit for one delivery attempt' }),
    severities: Type.Optional(
      Type.Object(
        { critical: Type.Optional(PagerDutySeverity), warning: Type.Optional(PagerDutySeverity), info: Type.Optional(PagerDutySeverity) },
        { additionalProperties: false, description: 'PagerDuty severity per Vigil severity; default the same name' },
      ),
    ),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'payload.source; default the alert\'s "source" label, else the monitor' })),
  },
  { additionalProperties: false },
);
export type PagerDutyConfig = StaticDecode<typeof PagerDutyConfig>;

/** Events API v2 limits (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

/**
 * The Events API v2 event for an alert: `trigger` for a firing alert, `resolve` for a resolved
 * one, sharing the incident's `dedup_key` so PagerDuty merges retries and reminders into one
 * incident and closes it on resolution.
 */
export function pagerDutyEvent(alert: Alert, config: Pick<PagerDutyConfig, 'routingKey' | 'severities' | 'source'>): Record<string, unknown> {
  const dedupKey = alert.dedupKey.slice(0, MAX_DEDUP_KEY);
  if (alert.status === 'resolved') return { routing_key: config.routingKey, event_action: 'resolve', dedup_key: dedupKey };
  const severity: PagerDutySeverity = config.severities?.[alert.severity] ?? alert.severity;
  const links = Object.entries(alert.annotations)
    .filter(([, value]) => /^https?:\/\//.test(value))
    .map(([text, href]) => ({ href, text }));
  return {
    routing_key: config.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    client: 'Vigil',
    payload: {
      summary: alert.summary.length > MAX_SUMMARY ? `${alert.summary.slice(0, MAX_SUMMARY - 1)}…` : alert.summary,
      source: config.source ?? alert.labels.source ?? alert.monitor,
      severity,
      timestamp: alert.startsAt,
      component: alert.monitor,
      ...(alert.labels.target !== undefined && { group: alert.labels.target }),
      class: 'availability',
      custom_details: { monitor: alert.monitor, severity: alert.severity, startsAt: alert.startsAt, labels: alert.labels, annotations: alert.annotations },
    },
    ...(links.length > 0 && { links }),
  };
}

/** PagerDuty Events API v2. 202 is success; 400 (invalid event) is final; 429 and 5xx are retried. */
export const pagerduty: Channel<PagerDutyConfig> = {
  type: 'pagerduty',
  schema: PagerDutyConfig,
  create(config: PagerDutyConfig) {
    return {
      channel: 'pagerduty',
      name: config.name,
      notify(alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
        return postJson({ url: config.url, body: JSON.stringify(pagerDutyEvent(alert, config)), timeoutMs: config.timeout, signal });
      },
    };
  },
};
