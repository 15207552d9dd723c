import { WebhookConfig } from '@vigil/alerting';
import { Duration, HttpUrl, Type, WebhookSecret, parseDuration, type StaticDecode } from '@vigil/core';
import cron from 'node-cron';

/**
 * The watchdog's configuration. Cross-field rules are refinements on the smallest object that
 * sees all the fields involved, so an error names the monitor (or list) at fault.
 */

const Secret = WebhookSecret({ description: 'Standard Webhooks secret "whsec_<base64>" shared with the activation service' });

const CronExpression = Type.Refine(
  Type.String({ description: 'node-cron expression; six fields put seconds first' }),
  (text) => cron.validate(text),
  () => 'expected a cron expression such as "*/2 * * * * *" (seconds first when there are six fields)',
);

const RawMonitor = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
      maxLength: 100,
      'x-expected': 'a name of letters, digits, ".", "_" and "-"',
      description: 'names the monitor in alerts, incident ids and metric labels',
    }),
    url: HttpUrl({ description: 'the health endpoint probed' }),
    interval: Type.Optional(Duration({ description: 'probe every …; give this or `cron`' })),
    cron: Type.Optional(CronExpression),
    timeout: Duration({ default: '1s', description: 'limit for one probe, connect through body' }),
    failureThreshold: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
    successThreshold: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    activate: Type.Optional(
      Type.Object(
        { target: Type.String({ minLength: 1, maxLength: 200, description: 'activation target to fail over when this monitor is down' }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

type RawMonitor = { interval?: string; cron?: string; timeout?: string };

/** Empty when the monitor's schedule is well formed; otherwise why not. */
function scheduleProblem(m: RawMonitor): string | undefined {
  if ((m.interval === undefined) === (m.cron === undefined)) return 'give exactly one of `interval` or `cron`';
  if (m.interval === undefined || m.timeout === undefined) return undefined;
  const interval = parseDuration(m.interval);
  const timeout = parseDuration(m.timeout);
  if (interval === undefined || timeout === undefined) return undefined; // reported by the field's own pattern
  if (interval <= 0) return '`interval` must be longer than zero';
  if (timeout >= interval) return `\`timeout\` (${m.timeout}) must be shorter than \`interval\` (${m.interval})`;
  return undefined;
}

const Monitor = Type.Refine(
  RawMonitor,
  (m) => scheduleProblem(m) === undefined,
  (m) => scheduleProblem(m) ?? 'invalid schedule',
);

function repeatedNames(monitors: readonly { name?: unknown }[]): string[] {
  const seen = new Set<unknown>();
  return monitors.filter((m) => seen.size === seen.add(m.name).size).map((m) => String(m.name));
}

const Monitors = Type.Refine(
  Type.Array(Monitor, { default: [] }),
  (monitors) => repeatedNames(monitors).length === 0,
  (monitors) => `monitor names must be unique; repeated: ${repeatedNames(monitors).join(', ')}`,
);

const Root = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8082 }),
      },
      { default: {}, additionalProperties: false },
    ),
    dataDir: Type.String({ minLength: 1, default: './.vigil-data/watchdog', description: 'where monitor state survives restarts' }),
    voter: Type.Optional(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 200, default: 'watchdog-1', description: 'this watchdog, as the activation service knows it' }),
          secret: Secret,
        },
        { additionalProperties: false },
      ),
    ),
    activation: Type.Object(
      {
        url: HttpUrl({ default: 'http://127.0.0.1:8083', description: 'base URL of the activation service' }),
        timeout: Duration({ default: '5s', description: 'limit for one attempt' }),
        retries: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'attempts after the first' }),
      },
      { default: {}, additionalProperties: false },
    ),
    alerts: Type.Object(
      {
        // The alerting package's webhook receiver; `type` is implied by the list it is in.
        webhooks: Type.Array(Type.Omit(WebhookConfig, ['type'], { additionalProperties: false }), { default: [] }),
      },
      { default: {}, additionalProperties: false },
    ),
    monitors: Monitors,
  },
  { additionalProperties: false },
);

const activatingWithoutVoter = (c: { voter?: unknown; monitors?: readonly { name?: unknown; activate?: unknown }[] }) =>
  c.voter === undefined ? (c.monitors ?? []).filter((m) => m.activate !== undefined).map((m) => String(m.name)) : [];

export const WatchdogConfig = Type.Refine(
  Root,
  (c) => activatingWithoutVoter(c).length === 0,
  (c) => `\`voter\` (id and secret) is required to sign activation requests; monitors that activate: ${activatingWithoutVoter(c).join(', ')}`,
);
export type WatchdogConfig = StaticDecode<typeof WatchdogConfig>;
export type MonitorConfig = WatchdogConfig['monitors'][number];
