import { Duration, HttpUrl, Type, type StaticDecode } from '@vigil/core';
import type { Alert, DeliveryResult } from '../alert.js';
import { ReceiverName, type Channel } from '../channel.js';
import { postJson } from '../http.js';

export const AlertmanagerConfig = Type.Object(
  {
    type: Type.Literal('alertmanager'),
    name: ReceiverName,
    urls: Type.Array(HttpUrl({ description: 'base URL of one Alertmanager, such as "http://alertmanager-0:9093"' }), {
      minItems: 1,
      description: 'every Alertmanager of the cluster, each sent to directly (not through a load balancer)',
    }),
    timeout: Duration({ default: '10s', description: 'limit for one delivery attempt' }),
    resendInterval: Duration({
      default: '1m',
      description: "how often a firing alert is sent again; keep it well inside Alertmanager's resolve_timeout (default 5m)",
    }),
    alertname: Type.String({ default: 'VigilMonitorDown', minLength: 1, description: 'the alertname label, unless the alert has one' }),
    generatorURL: Type.Optional(HttpUrl({ description: 'link shown as the alert source, such as the watchdog\'s /v1/monitors' })),
  },
  { additionalProperties: false },
);
export type AlertmanagerConfig = StaticDecode<typeof AlertmanagerConfig>;

/** Alertmanager label names ([a-zA-Z_][a-zA-Z0-9_]*); other keys are rewritten rather than rejected. */
const labelName = (key: string) => key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_');

/**
 * The `POST /api/v2/alerts` body for an alert. A firing alert has no `endsAt`: Alertmanager
 * keeps it until resolve_timeout passes without a re-send, so the outbox re-sends it every
 * `resendInterval`. A resolved alert carries `endsAt`.
 */
export function alertmanagerAlerts(alert: Alert, config: Pick<AlertmanagerConfig, 'alertname' | 'generatorURL'>): Record<string, unknown>[] {
  const labels: Record<string, string> = { alertname: config.alertname };
  for (const [key, value] of Object.entries(alert.labels)) labels[labelName(key)] = value;
  labels.monitor = alert.monitor;
  labels.severity = alert.severity;
  const annotations: Record<string, string> = { summary: alert.summary };
  for (const [key, value] of Object.entries(alert.annotations)) annotations[labelName(key)] = value;
  annotations.incident = alert.dedupKey;
  return [
    {
      labels,
      annotations,
      startsAt: alert.startsAt,
      ...(alert.status === 'resolved' && { endsAt: alert.endsAt ?? new Date().toISOString() }),
      ...(config.generatorURL !== undefined && { generatorURL: config.generatorURL }),
    },
  ];
}

/** `base` + `/api/v2/alerts`, keeping any query (some proxies in front of Alertmanager take a token there). */
export function alertsEndpoint(base: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v2/alerts`;
  return url.toString();
}

/**
 * Prometheus Alertmanager API v2. Every configured Alertmanager is its own destination (its own
 * outbox entry, retries and metrics series), as Prometheus itself does, so one member being down
 * neither delays nor repeats the others.
 */
export const alertmanager: Channel<AlertmanagerConfig> = {
  type: 'alertmanager',
  schema: AlertmanagerConfig,
  destinations(config: AlertmanagerConfig): AlertmanagerConfig[] {
    if (config.urls.length === 1) return [config];
    return config.urls.map((url, i) => ({ ...config, urls: [url], name: `${config.name}#${i + 1}` }));
  },
  create(config: AlertmanagerConfig) {
    // One destination: destinations() has split a cluster into one configuration per member.
    const endpoint = alertsEndpoint(config.urls[0] ?? '');
    return {
      channel: 'alertmanager',
      name: config.name,
      resendIntervalMs: config.resendInterval,
      notify(alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
        return postJson({ url: endpoint, body: JSON.stringify(alertmanagerAlerts(alert, config)), timeoutMs: config.timeout, signal });
      },
    };
  },
};
