import Type, { type StaticDecode } from 'typebox';
import { WebhookConfig } from '@vigil/alerting';
import { CheckConfig, PROBE_DEFAULTS, checkConfigProblems } from '@vigil/checks';
import { ActivationMode, ConfigError, Duration, HttpUrl, WebhookSecret, formatDuration, formatPath, isValidSecret, repeatedKeys } from '@vigil/core';
import { PlanStep, stepKindOf } from './plan/steps/index.js';

export const DEFAULT_PORT = 8083;

/** A watchdog allowed to ask for an activation; it signs its requests with its own secret. */
export const Voter = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, description: 'the `voter` a request body must name' }),
    secret: WebhookSecret(),
  },
  { additionalProperties: false },
);

/** A person or tool allowed to approve, cancel and fail back, with its own bearer token. */
export const Operator = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'recorded as who approved, cancelled or failed back' }),
    token: Type.String({ minLength: 32, maxLength: 500, 'x-expected': 'a bearer token of at least 32 characters' }),
  },
  { additionalProperties: false },
);

const maxDataLoss = Duration({ description: 'more lag than this (or an unknown lag) needs an operator\'s approval, even in auto mode' });

/** An HTTP endpoint answering JSON with the standby's replication lag in seconds. */
const HttpLagSource = Type.Object(
  {
    kind: Type.Literal('http'),
    url: HttpUrl(),
    field: Type.String({ default: 'lagSeconds', pattern: '^[A-Za-z0-9_]+$', description: 'the number field of the answer that holds the lag in seconds' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeout: Duration({ default: '5s' }),
    maxDataLoss,
  },
  { additionalProperties: false },
);

/** The standby PostgreSQL itself, measured by the `postgres` check (seconds since the last replayed transaction). */
const PostgresLagSource = Type.Object(
  {
    kind: Type.Literal('postgres'),
    url: Type.String({ pattern: '^postgres(ql)?://', 'x-expected': 'a connection URL of the standby such as "postgres://vigil:${PGPASSWORD}@standby:5432/app"' }),
    timeout: Duration({ default: '5s' }),
    maxDataLoss,
  },
  { additionalProperties: false },
);

/**
 * The second opinion before an irreversible failover: once the quorum is reached, wait
 * `duration`, then probe the primary directly from here; if it passes, the failover is cancelled.
 * On by default, with the probe the watchdog described in the request that completed the quorum.
 */
const HoldOff = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'false: no direct probe, the plan runs as soon as the other gates allow' }),
    duration: Duration({ default: '0s', description: 'wait this long after the quorum, then probe the primary directly' }),
    // Pins what is probed (any check kind, with its secrets); absent: the probe the request describes (http, tcp or dns only).
    probe: Type.Optional(CheckConfig),
    attempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10,
        description: `attempts of the probe, each on its own connection; default: the request's, else ${PROBE_DEFAULTS.attempts}`,
      }),
    ),
    hedgeDelay: Type.Optional(
      Duration({
        description: `start the next attempt when none has answered this long after the previous one started; default: the request's, else ${formatDuration(PROBE_DEFAULTS.hedgeDelayMs)}`,
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Plan = Type.Array(PlanStep, { minItems: 1, description: 'steps run in order; a failing step aborts the plan unless `onFailure: continue`' });

/** A primary/standby pair, how to decide to fail over, and the plans that move traffic. */
export const Target = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$',
      'x-expected': 'a name of letters, digits, ".", "_" or "-" such as "primary"',
    }),
    quorum: Type.Object(
      {
        votes: Type.Integer({ minimum: 1, default: 1, description: 'distinct voters that must ask within the window' }),
        window: Duration({ default: '5m', description: 'how long a vote counts' }),
      },
      { additionalProperties: false, default: {} },
    ),
    mode: Type.Union(ActivationMode.anyOf, { default: 'auto', description: 'auto: run the plan; approval: page and wait for an operator; notify-only: page, never run' }),
    holdOff: HoldOff,
    rto: Type.Optional(
      Duration({ description: 'recovery time objective: a drill (and `vigil check-config`) compares the hold-off plus the plan\'s worst case with it' }),
    ),
    dataLoss: Type.Optional(Type.Union([HttpLagSource, PostgresLagSource], { description: 'the data-loss guard: where the standby\'s replication lag is measured' })),
    plan: Plan,
    failback: Type.Optional(
      Type.Object(
        {
          plan: Plan,
          primaryHealthy: Type.Object(
            {
              probe: CheckConfig,
              for: Duration({ description: 'the primary must pass every probe for this long before the plan runs' }),
              interval: Duration({ default: '5s' }),
            },
            { additionalProperties: false },
          ),
          approval: Type.Boolean({ default: false, description: 'wait for an operator to approve once the primary proved healthy' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * Where the durable state lives: `file` (the embedded default: one process, `dataDir`) or `etcd`
 * (any number of replicas; one leads through a lease, every write is an etcd transaction).
 */
const Coordination = Type.Object(
  {
    kind: Type.Union([Type.Literal('file'), Type.Literal('etcd')], { default: 'file' }),
    endpoints: Type.Array(HttpUrl(), { default: [], description: 'etcd client URLs, one per member (etcd only)' }),
    prefix: Type.String({ pattern: '^/[^\\s]*$', default: '/vigil', 'x-expected': 'a key prefix starting with "/" such as "/vigil"', description: 'root of this installation\'s keys' }),
    ttl: Duration({ default: '8s', description: 'leader lease TTL (whole seconds): a dead leader is replaced within about ttl + 0.5s (etcd looks for expired leases every 500ms)' }),
    margin: Duration({ default: '2s', description: 'the leader stops starting steps this long before last keepalive sent + ttl' }),
    requestTimeout: Duration({ default: '2s', description: 'deadline of one etcd request; past it the request is answered 503' }),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.String({ minLength: 1, description: 'file of the CA certificate(s) that signed the etcd members\' certificates' }),
          cert: Type.Optional(Type.String({ minLength: 1, description: 'client certificate file (etcd --client-cert-auth)' })),
          key: Type.Optional(Type.String({ minLength: 1, description: 'its private key file' })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(Type.Object({ username: Type.String({ minLength: 1 }), password: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false, default: {} },
);

const ConfigShape = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT }),
      },
      { additionalProperties: false, default: {} },
    ),
    dataDir: Type.String({ minLength: 1, default: './.vigil-data/activation', description: 'activations, epochs and the audit log (file coordination)' }),
    replica: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'this replica\'s name in logs, steps and the election; default: the host name and process id' })),
    coordination: Coordination,
    signatureTolerance: Duration({ default: '5m', description: 'how far a webhook-timestamp may be from this clock' }),
    externalUrl: Type.Optional(HttpUrl({ description: 'how operators reach this service; pages quote it in the approve/cancel commands' })),
    voters: Type.Array(Voter, { default: [] }),
    operators: Type.Array(Operator, { default: [], description: 'bearer tokens of the operator API (approve, cancel, failback)' }),
    alerts: Type.Object(
      {
        // The alerting package's signed webhook receiver; `type` is implied by the list it is in.
        webhooks: Type.Array(Type.Omit(WebhookConfig, ['type'], { additionalProperties: false }), { default: [] }),
      },
      { default: {}, additionalProperties: false },
    ),
    targets: Type.Array(Target, { default: [] }),
    console: Type.Object(
      {
        watchdogs: Type.Array(HttpUrl(), { default: [], description: 'base URLs of the watchdogs whose monitors `GET /console/monitors` gathers' }),
        token: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'bearer token sent to the watchdogs\' APIs, if they ever need one' })),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

type ConfigShape = StaticDecode<typeof ConfigShape>;

/**
 * The service's configuration. Rules the schema cannot express (unique names, well-formed
 * secrets) are checked while decoding, so `runService` reports them with the schema errors and
 * exits 2 instead of starting with a configuration it would misread.
 */
export const ActivationConfig = Type.Codec(ConfigShape)
  .Decode((config) => {
    const problems = configProblems(config);
    if (problems.length > 0) throw new ConfigError('the activation configuration', problems);
    return config;
  })
  .Encode((config) => config);
export type ActivationConfig = StaticDecode<typeof ActivationConfig>;
export type TargetConfig = ActivationConfig['targets'][number];
export type OperatorConfig = ActivationConfig['operators'][number];
export type CoordinationConfig = ActivationConfig['coordination'];

/** "x[3]: … is already used by x[1]" for every repeated key; `what` describes the key without revealing a secret. */
function duplicates<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  path: (i: number) => (string | number)[],
  what: (key: string) => string,
): string[] {
  return repeatedKeys(items, keyOf).map(({ index, first, key }) => `${formatPath(path(index))}: ${what(key)} is already used by ${formatPath(path(first))}`);
}

/** Every rule beyond the schema; each message starts with the path it is about. */
export function configProblems(config: ConfigShape): string[] {
  const problems: string[] = [];
  config.voters.forEach((voter, i) => {
    // The schema's pattern admits base64 that decodes to fewer bytes than it looks; never echo the value.
    if (!isValidSecret(voter.secret)) problems.push(`voters[${i}].secret: expected a secret "whsec_<base64>" of at least 16 bytes (value not shown)`);
  });
  problems.push(...duplicates(config.voters, (v) => v.id, (i) => ['voters', i, 'id'], (id) => `the id "${id}"`));
  // A shared secret would let one watchdog sign in another's name.
  problems.push(...duplicates(config.voters, (v) => v.secret, (i) => ['voters', i, 'secret'], () => 'this secret'));
  problems.push(...duplicates(config.targets, (t) => t.name, (i) => ['targets', i, 'name'], (name) => `the name "${name}"`));
  problems.push(...duplicates(config.operators, (o) => o.name, (i) => ['operators', i, 'name'], (name) => `the name "${name}"`));
  problems.push(...duplicates(config.operators, (o) => o.token, (i) => ['operators', i, 'token'], () => 'this token'));
  problems.push(...coordinationProblems(config.coordination));
  config.targets.forEach((target, t) => {
    problems.push(...planProblems(target.plan, ['targets', t, 'plan']));
    if (target.failback) problems.push(...planProblems(target.failback.plan, ['targets', t, 'failback', 'plan']));
    if (target.holdOff.probe) problems.push(...checkConfigProblems(target.holdOff.probe).map((p) => `${formatPath(['targets', t, 'holdOff', 'probe'])}.${p}`));
    if (target.quorum.votes > config.voters.length && config.voters.length > 0) {
      problems.push(`${formatPath(['targets', t, 'quorum', 'votes'])}: ${target.quorum.votes} votes can never be reached by ${config.voters.length} voter(s)`);
    }
    const needsOperator = target.mode === 'approval' || target.dataLoss !== undefined || target.failback?.approval === true;
    if (needsOperator && config.operators.length === 0) {
      problems.push(`${formatPath(['targets', t, 'name'])}: this target may wait for an approval, so \`operators\` needs at least one token`);
    }
  });
  return problems;
}

function coordinationProblems(c: ConfigShape['coordination']): string[] {
  if (c.kind !== 'etcd') return [];
  const problems: string[] = [];
  if (c.endpoints.length === 0) problems.push('coordination.endpoints: etcd needs at least one endpoint, e.g. ["http://etcd-1:2379"]');
  if (c.ttl % 1_000 !== 0 || c.ttl < 2_000) problems.push(`coordination.ttl: etcd leases count whole seconds; expected 2s or more, got ${formatDuration(c.ttl)}`);
  if (!(c.margin >= 0 && c.margin <= c.ttl / 2)) problems.push(`coordination.margin: must be between 0s and half the ttl (${formatDuration(c.ttl / 2)}), got ${formatDuration(c.margin)}`);
  if (c.requestTimeout <= 0 || c.requestTimeout > c.ttl / 2) problems.push(`coordination.requestTimeout: must be longer than 0s and at most half the ttl (${formatDuration(c.ttl / 2)})`);
  c.endpoints.forEach((endpoint, i) => {
    if (endpoint.startsWith('https:') && !c.tls) problems.push(`coordination.endpoints[${i}]: an https endpoint needs coordination.tls (at least its ca)`);
  });
  if (c.tls && (c.tls.cert === undefined) !== (c.tls.key === undefined)) problems.push('coordination.tls: cert and key go together');
  return problems;
}

function planProblems(plan: readonly PlanStep[], path: (string | number)[]): string[] {
  const problems = duplicates(plan, (s) => s.name, (s) => [...path, s, 'name'], (name) => `the step name "${name}"`);
  plan.forEach((step, s) => {
    if (step.timeout <= 0) problems.push(`${formatPath([...path, s, 'timeout'])}: must be longer than 0ms`);
    for (const problem of stepKindOf(step).problems?.(step) ?? []) {
      problems.push(`${formatPath([...path, s, ...problem.path])}: ${problem.message}`);
    }
  });
  return problems;
}
