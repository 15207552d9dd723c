import { Duration, Type, repeatedKeys, type StaticDecode } from '@vigil/core';
import type { Alert } from './alert.js';
import { ChannelConfig } from './registry.js';

const SeverityName = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);

export const RouteConfig = Type.Object(
  {
    monitors: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'monitors this route applies to; default every monitor' }),
    ),
    severities: Type.Optional(Type.Array(SeverityName, { minItems: 1, description: 'severities this route applies to; default every severity' })),
    receivers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'names of configured receivers' }),
    sendResolved: Type.Boolean({ default: true, description: 'also send the resolved notification' }),
    repeatInterval: Type.Optional(Duration({ description: 'remind at most this often while an alert stays firing; default never' })),
  },
  { additionalProperties: false },
);
export type RouteConfig = StaticDecode<typeof RouteConfig>;

export const DeliveryConfig = Type.Object(
  {
    maxAttempts: Type.Integer({ minimum: 1, maximum: 1_000, default: 20, description: 'attempts per notification, the first included' }),
    maxAge: Duration({ default: '1h', description: 'a notification not delivered by then is dead-lettered' }),
    initialBackoff: Duration({ default: '1s', description: 'wait before the first retry' }),
    maxBackoff: Duration({ default: '5m', description: 'longest wait between attempts (jittered exponential backoff)' }),
    maxRetryAfter: Duration({ default: '10m', description: "longest receiver's Retry-After that is honoured" }),
  },
  { default: {}, additionalProperties: false },
);
export type DeliveryConfig = StaticDecode<typeof DeliveryConfig>;

/**
 * The alerting section without its cross-field rules, for a service that embeds it in its own
 * configuration (adding fields, then checking alertingConfigProblems itself).
 */
export const AlertingConfigObject = Type.Object(
  {
    receivers: Type.Array(ChannelConfig, { default: [], description: 'where alerts can go; each receiver has a unique name' }),
    routes: Type.Array(RouteConfig, {
      default: [],
      description: 'which receivers get which alerts; every matching route applies. Without routes, every receiver gets every alert',
    }),
    delivery: DeliveryConfig,
  },
  { default: {}, additionalProperties: false },
);

/** Rules the schema cannot state: unique receiver names, routes naming configured receivers. */
export function alertingConfigProblems(config: { receivers?: readonly { name?: unknown }[]; routes?: readonly { receivers?: readonly unknown[] }[] }): string[] {
  const problems: string[] = [];
  const receivers = config.receivers ?? [];
  for (const { key } of repeatedKeys(receivers, (r) => String(r.name))) problems.push(`receiver name "${key}" is used twice; names must be unique`);
  const names = new Set(receivers.map((r) => String(r.name)));
  (config.routes ?? []).forEach((route, i) => {
    for (const receiver of route.receivers ?? []) {
      if (!names.has(String(receiver))) problems.push(`routes[${i}] names receiver "${String(receiver)}", which is not configured`);
    }
  });
  return problems;
}

export const AlertingConfig = Type.Refine(
  AlertingConfigObject,
  (c) => alertingConfigProblems(c).length === 0,
  (c) => alertingConfigProblems(c).join('; '),
);
export type AlertingConfig = StaticDecode<typeof AlertingConfig>;

/** One receiver an alert goes to. */
export interface RouteDecision {
  receiver: string;
  /** Reminder interval while the alert stays firing; the shortest of the matching routes. */
  repeatIntervalMs?: number;
}

/**
 * The receivers an alert goes to: the union of every matching route (a receiver once, in the
 * order receivers are configured). Without routes every receiver gets every alert. A resolved
 * alert goes only where a matching route sends resolutions.
 */
export function routeAlert(
  alert: Pick<Alert, 'monitor' | 'severity' | 'status'>,
  routes: readonly RouteConfig[],
  receivers: readonly string[],
): RouteDecision[] {
  if (routes.length === 0) return receivers.map((receiver) => ({ receiver }));
  const chosen = new Map<string, number | undefined>();
  for (const route of routes) {
    if (route.monitors && !route.monitors.includes(alert.monitor)) continue;
    if (route.severities && !route.severities.includes(alert.severity)) continue;
    if (alert.status === 'resolved' && !route.sendResolved) continue;
    for (const receiver of route.receivers) {
      const previous = chosen.get(receiver);
      const repeat = route.repeatInterval;
      chosen.set(receiver, previous === undefined ? repeat : repeat === undefined ? previous : Math.min(previous, repeat));
    }
  }
  return receivers
    .filter((receiver) => chosen.has(receiver))
    .map((receiver) => {
      const repeatIntervalMs = chosen.get(receiver);
      return repeatIntervalMs === undefined ? { receiver } : { receiver, repeatIntervalMs };
    });
}
