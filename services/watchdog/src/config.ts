import { AlertingConfigObject, alertingConfigProblems, WebhookConfig } from '@vigil/alerting';
import { DnsCheckConfig, HttpCheckConfig, PROBE_DEFAULTS, TcpCheckConfig } from '@vigil/checks';
import { Duration, HttpUrl, Type, WebhookSecret, formatDuration, parseDuration, repeatedKeys, type StaticDecode } from '@vigil/core';
import type { TObject, TProperties } from 'typebox';
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

const Timezone = Type.Refine(
  Type.String({ description: 'IANA time zone such as "Europe/Paris"; default UTC' }),
  (zone) => isTimezone(zone),
  () => 'expected an IANA time zone such as "Europe/Paris"',
);

function isTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** What every monitor has, whatever it probes; the probe's own fields come from its check kind. */
const MonitorFields = {
  name: Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
    maxLength: 100,
    'x-expected': 'a name of letters, digits, ".", "_" and "-"',
    description: 'names the monitor in alerts, incident ids and metric labels',
  }),
  interval: Type.Optional(Duration({ description: 'probe every …; give this or `cron`' })),
  cron: Type.Optional(CronExpression),
  timezone: Type.Optional(Timezone),
  failureThreshold: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
  successThreshold: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  warningThreshold: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 99, description: 'consecutive failures that send an early warning; below failureThreshold' }),
  ),
  certificateExpiryWarning: Duration({
    default: '14d',
    description: 'send a warning alert when the earliest certificate an https probe sees expires within this',
  }),
  rto: Type.Optional(Duration({ description: 'recovery-time objective: worst-case detection plus the activation budget must fit in it' })),
  activate: Type.Optional(
    Type.Object(
      { target: Type.String({ minLength: 1, maxLength: 200, description: 'activation target to fail over when this monitor is down' }) },
      { additionalProperties: false },
    ),
  ),
};

/**
 * How a probe survives a lossy link (README, "Detection under loss"): its timeout leaves room for a
 * retransmitted SYN (1 s on Linux) and its attempts run over independent connections.
 */
const DEFAULT_TIMEOUT = `${PROBE_DEFAULTS.timeoutMs}ms`;

const ProbingFields = {
  timeout: Duration({
    default: DEFAULT_TIMEOUT,
    description: 'the whole probe, every attempt included (connect through body); shorter than the interval',
  }),
  attempts: Type.Integer({
    minimum: 1,
    maximum: 10,
    default: PROBE_DEFAULTS.attempts,
    description: 'requests one probe may send: the first over a kept-alive connection, each later one over a fresh connection; 1 turns hedging off',
  }),
  hedgeDelay: Duration({
    default: `${PROBE_DEFAULTS.hedgeDelayMs}ms`,
    description: 'start the next attempt when none has answered this long after the previous one started (at once when all failed)',
  }),
};

/** A monitor probing with one check kind: the kind's config plus the monitor's fields, with the monitor's probing defaults. */
const monitorOf = <K extends TProperties>(kind: TObject<K>) => Type.Object({ ...MonitorFields, ...kind.properties, ...ProbingFields }, { additionalProperties: false });

/** A monitor written without `kind` probes with http, as before kinds existed. */
const HttpMonitorConfig = Type.Object({ ...HttpCheckConfig.properties, kind: Type.Literal('http', { default: 'http' }) }, { additionalProperties: false });

/** Every probe kind; a new one is one member here and one line in probe.ts's registry (the compiler checks both). */
const ProbingMonitor = Type.Union([monitorOf(HttpMonitorConfig), monitorOf(TcpCheckConfig), monitorOf(DnsCheckConfig)]);

type RawMonitor = { interval?: string; cron?: string; timeout?: string; failureThreshold?: number; warningThreshold?: number };

/** Empty when the monitor's schedule is well formed; otherwise why not. */
function scheduleProblem(m: RawMonitor): string | undefined {
  if ((m.interval === undefined) === (m.cron === undefined)) return 'give exactly one of `interval` or `cron`';
  if (m.warningThreshold !== undefined && m.warningThreshold >= (m.failureThreshold ?? 3)) {
    return `\`warningThreshold\` (${m.warningThreshold}) must be below \`failureThreshold\` (${m.failureThreshold ?? 3})`;
  }
  if (m.interval === undefined) return undefined;
  const interval = parseDuration(m.interval);
  const timeout = parseDuration(m.timeout ?? DEFAULT_TIMEOUT);
  if (interval === undefined || timeout === undefined) return undefined; // reported by the field's own pattern
  if (interval <= 0) return '`interval` must be longer than zero';
  if (timeout >= interval) return `\`timeout\` (${m.timeout ?? DEFAULT_TIMEOUT}) must be shorter than \`interval\` (${m.interval})`;
  return undefined;
}

const Monitor = Type.Refine(
  ProbingMonitor,
  (m) => scheduleProblem(m) === undefined,
  (m) => scheduleProblem(m) ?? 'invalid schedule',
);

function repeatedNames(monitors: readonly { name?: unknown }[]): string[] {
  return repeatedKeys(monitors, (m) => String(m.name)).map((r) => r.key);
}

const Monitors = Type.Refine(
  Type.Array(Monitor, { default: [] }),
  (monitors) => repeatedNames(monitors).length === 0,
  (monitors) => `monitor names must be unique; repeated: ${repeatedNames(monitors).join(', ')}`,
);

const ControlTarget = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 100, 'x-expected': 'a name of letters, digits, ".", "_" and "-"' }),
    url: HttpUrl({ description: 'any HTTP answer (whatever its status) counts as reachable' }),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);

const MaintenanceWindow = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    cron: CronExpression,
    duration: Duration({ description: 'how long each window lasts from its cron start' }),
    timezone: Type.Optional(Timezone),
    monitors: Type.Optional(Type.Array(Type.String(), { description: 'monitors in maintenance; all when absent' })),
  },
  { additionalProperties: false },
);

/** Where activation requests go when neither `url` nor `urls` is given. */
const DEFAULT_ACTIVATION_URL = 'http://127.0.0.1:8083';
/** Replicas a request is sent to at most: each is a metric label value, so the list stays short. */
const MAX_ACTIVATION_URLS = 16;

/** Empty when `url`/`urls` name each activation replica once; otherwise what is wrong, by field. */
function activationUrlProblems(a: { url?: unknown; urls?: readonly unknown[] }): string[] {
  if (a.url !== undefined && a.urls !== undefined) {
    return ['give either `url` (one activation service) or `urls` (one base URL per activation replica), not both'];
  }
  if (a.urls === undefined) return [];
  if (a.urls.length === 0) return [`\`urls\` is empty: list one base URL per activation replica, or remove it for the default (${DEFAULT_ACTIVATION_URL})`];
  if (a.urls.length > MAX_ACTIVATION_URLS) return [`\`urls\` lists ${a.urls.length} URLs; at most ${MAX_ACTIVATION_URLS} (each is a metric label value)`];
  // Requests go to `<origin>/v1/activations`: two URLs with one origin are the same replica twice.
  return repeatedKeys(a.urls, originOf).map(
    ({ index, first, key }) => `\`urls[${index}]\` (${key}) is the same replica as \`urls[${first}]\`: list each activation replica once (only scheme, host and port are used)`,
  );
}

function originOf(url: unknown): string {
  try {
    return new URL(String(url)).origin;
  } catch {
    return String(url); // reported by the field's own pattern
  }
}

/**
 * The activation service: one `url`, or `urls` naming each replica (or region). Decoded to `urls`
 * either way, so the client has one shape to read.
 */
const Activation = Type.Codec(
  Type.Refine(
    Type.Object(
      {
        url: Type.Optional(HttpUrl({ description: `base URL of the activation service; default ${DEFAULT_ACTIVATION_URL}; give this or \`urls\`` })),
        urls: Type.Optional(
          Type.Array(HttpUrl(), {
            description: `base URL of each activation replica (or region), at most ${MAX_ACTIVATION_URLS}: every request goes to all of them, so one replica down loses no request`,
          }),
        ),
        timeout: Duration({ default: '5s', description: 'limit for one attempt' }),
        retries: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'attempts after the first, for each URL' }),
        budget: Type.Optional(Duration({ description: 'time the activation takes once asked; counts against each monitor\'s rto' })),
      },
      { default: {}, additionalProperties: false },
    ),
    (a) => activationUrlProblems(a).length === 0,
    (a) => activationUrlProblems(a).join('; '),
  ),
)
  .Decode(({ url, urls, ...rest }) => ({ ...rest, urls: urls ?? [url ?? DEFAULT_ACTIVATION_URL] }))
  .Encode(({ urls, ...rest }) => ({ ...rest, urls }));

const ApiToken = (description: string) => Type.String({ minLength: 16, description: `${description}; write \${ENV_VAR} to keep it out of the file` });

const Operator = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]*$',
      maxLength: 100,
      'x-expected': 'a name of letters, digits, ".", "_", "@" and "-"',
      description: 'recorded in the audit log with each of this operator\'s actions',
    }),
    token: ApiToken("this operator's bearer token"),
  },
  { additionalProperties: false },
);

type RawApi = { token?: unknown; operators?: readonly { name?: unknown; token?: unknown }[] };

/** Empty when the API section names each operator and token once; otherwise what is wrong. */
function apiProblems(a: RawApi): string[] {
  const operators = a.operators ?? [];
  if (a.token === undefined && operators.length === 0) return ['give `token` or at least one of `operators` (or remove `api` to turn pause and resume off)'];
  const problems = repeatedKeys(operators, (o) => String(o.name)).map(({ key }) => `operator name ${key} is given more than once`);
  const tokens = [...operators.map((o) => o.token), ...(a.token === undefined ? [] : [a.token])];
  if (new Set(tokens).size !== tokens.length) problems.push('each operator (and `token`) needs a token of its own: the token names who acted in the audit log');
  if (operators.some((o) => o.name === 'api')) problems.push('operator name `api` is reserved for `token`');
  return problems;
}

/** Who may pause and resume: `token` (operator "api", or the name the request gives) and named operators, each with a token. */
const Api = Type.Refine(
  Type.Object(
    {
      token: Type.Optional(ApiToken('bearer token for pause/resume (operator "api", unless the request names one)')),
      operators: Type.Array(Operator, { default: [], description: 'named operators, each with a bearer token; their name is recorded in the audit log' }),
    },
    { additionalProperties: false },
  ),
  (a) => apiProblems(a).length === 0,
  (a) => apiProblems(a).join('; '),
);

interface RawAlerts {
  webhooks?: readonly { name?: unknown }[];
  receivers?: readonly { name?: unknown }[];
  routes?: readonly { receivers?: readonly unknown[] }[];
}

/** `alerts.webhooks` are receivers too: names unique across both lists, and routes may name them. */
const alertsProblems = (a: RawAlerts) => alertingConfigProblems({ receivers: [...(a.webhooks ?? []), ...(a.receivers ?? [])], routes: a.routes ?? [] });

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
    activation: Activation,
    alerts: Type.Refine(
      Type.Object(
        {
          // The alerting package's webhook receiver; `type` is implied by the list it is in.
          webhooks: Type.Array(Type.Omit(WebhookConfig, ['type'], { additionalProperties: false }), { default: [] }),
          // Receivers of every channel, routes and delivery limits (the alerting package's AlertingConfig).
          ...AlertingConfigObject.properties,
        },
        { default: {}, additionalProperties: false },
      ),
      (a) => alertsProblems(a).length === 0,
      (a) => alertsProblems(a).join('; '),
    ),
    controlTargets: Type.Array(ControlTarget, {
      default: [],
      description: 'checked when a probe fails; when a majority cannot be reached the result is inconclusive',
    }),
    maintenance: Type.Array(MaintenanceWindow, { default: [] }),
    api: Type.Optional(Api),
    heartbeat: Type.Optional(
      Type.Object(
        {
          url: HttpUrl({ description: "dead man's switch pinged (GET) after completed probe cycles" }),
          timeout: Duration({ default: '5s' }),
          minInterval: Duration({ default: '10s', description: 'at most one ping per this period' }),
        },
        { additionalProperties: false },
      ),
    ),
    monitors: Monitors,
  },
  { additionalProperties: false },
);

const activatingWithoutVoter = (c: { voter?: unknown; monitors?: readonly { name?: unknown; activate?: unknown }[] }) =>
  c.voter === undefined ? (c.monitors ?? []).filter((m) => m.activate !== undefined).map((m) => String(m.name)) : [];

/** How long, at worst, from the target failing to the activation being done; the parts name the knobs. */
export interface DetectionBudget {
  granularityMs: number;
  intervalMs: number;
  /** Until the watchdog asks for the activation: one schedule step, then failureThreshold probes, the last one timing out. */
  detectionMs: number;
  worstCaseMs: number;
  text: string;
}

/**
 * Worst case: the target fails just after a passing probe (one schedule step), then failureThreshold
 * failed probes, the last one taking its whole timeout, then the activation service's confirmation
 * (by default it probes the same target once more, within the same timeout), then the activation.
 * A cron schedule's step is the longest gap between its next runs.
 */
export function detectionBudget(
  m: { interval?: number | undefined; cron?: string | undefined; timezone?: string | undefined; timeout: number; failureThreshold: number },
  activationBudgetMs = 0,
): DetectionBudget {
  const intervalMs = m.interval ?? longestCronGap(m.cron ?? '* * * * * *', m.timezone);
  const granularityMs = intervalMs;
  const detectionMs = intervalMs * (m.failureThreshold - 1) + m.timeout + granularityMs;
  const worstCaseMs = detectionMs + m.timeout + activationBudgetMs;
  const schedule = m.interval !== undefined ? 'interval' : 'longest cron gap';
  const text =
    `${schedule} ${formatDuration(intervalMs)} × (failureThreshold ${m.failureThreshold} − 1) + timeout ${formatDuration(m.timeout)}` +
    ` + schedule granularity ${formatDuration(granularityMs)} + confirmation probe ${formatDuration(m.timeout)}` +
    ` + activation budget ${formatDuration(activationBudgetMs)} = ${formatDuration(worstCaseMs)}`;
  return { granularityMs, intervalMs, detectionMs, worstCaseMs, text };
}

function longestCronGap(expression: string, timezone?: string): number {
  const task = cron.createTask(expression, () => undefined, timezone ? { timezone } : {});
  try {
    const runs = task.getNextRuns(60).map((d) => d.getTime());
    let gap = 1000;
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i]! - runs[i - 1]!);
    return gap;
  } finally {
    void task.destroy();
  }
}

type Decodedish = { activation?: { budget?: unknown }; monitors?: readonly Record<string, unknown>[] };

/** Monitors whose worst-case detection plus activation exceeds their rto, each with the numbers to change. */
function rtoProblems(c: Decodedish): string[] {
  const budget = typeof c.activation?.budget === 'string' ? (parseDuration(c.activation.budget) ?? 0) : 0;
  return (c.monitors ?? []).flatMap((m) => {
    const ms = (v: unknown) => (typeof v === 'string' ? parseDuration(v) : undefined);
    const rto = ms(m.rto);
    const timeout = ms(m.timeout ?? DEFAULT_TIMEOUT);
    const interval = ms(m.interval);
    if (rto === undefined || timeout === undefined || (interval === undefined && typeof m.cron !== 'string')) return [];
    const d = detectionBudget(
      {
        interval,
        cron: typeof m.cron === 'string' ? m.cron : undefined,
        timezone: typeof m.timezone === 'string' ? m.timezone : undefined,
        timeout,
        failureThreshold: typeof m.failureThreshold === 'number' ? m.failureThreshold : 3,
      },
      budget,
    );
    if (d.worstCaseMs <= rto) return [];
    return [
      `monitor ${String(m.name)}: worst-case detection and activation ${d.text} exceeds rto ${formatDuration(rto)}; ` +
        'shorten interval or timeout, lower failureThreshold or activation.budget, or raise rto',
    ];
  });
}

const WithVoter = Type.Refine(
  Root,
  (c) => activatingWithoutVoter(c).length === 0,
  (c) => `\`voter\` (id and secret) is required to sign activation requests; monitors that activate: ${activatingWithoutVoter(c).join(', ')}`,
);

export const WatchdogConfig = Type.Refine(
  WithVoter,
  (c) => rtoProblems(c as Decodedish).length === 0,
  (c) => rtoProblems(c as Decodedish).join('; '),
);
export type WatchdogConfig = StaticDecode<typeof WatchdogConfig>;
export type MonitorConfig = WatchdogConfig['monitors'][number];
