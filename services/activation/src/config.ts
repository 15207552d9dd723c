import Type, { type StaticDecode } from 'typebox';
import { ConfigError, Duration, WebhookSecret, formatPath, isValidSecret } from '@vigil/core';
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

/** A primary/standby pair and the plan that moves traffic to the standby. */
export const Target = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$',
      'x-expected': 'a name of letters, digits, ".", "_" or "-" such as "primary"',
    }),
    plan: Type.Array(PlanStep, { minItems: 1, description: 'steps run in order; the first failure aborts the plan' }),
  },
  { additionalProperties: false },
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
    dataDir: Type.String({ minLength: 1, default: './.vigil-data/activation', description: 'activations, epochs and the audit log' }),
    signatureTolerance: Duration({ default: '5m', description: 'how far a webhook-timestamp may be from this clock' }),
    voters: Type.Array(Voter, { default: [] }),
    targets: Type.Array(Target, { default: [] }),
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

/** "x[3]: … is already used by x[1]" for every repeated key; `what` describes the key without revealing a secret. */
function duplicates<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  path: (i: number) => (string | number)[],
  what: (key: string) => string,
): string[] {
  const firstIndex = new Map<string, number>();
  const found: string[] = [];
  items.forEach((item, i) => {
    const key = keyOf(item);
    const first = firstIndex.get(key);
    if (first === undefined) firstIndex.set(key, i);
    else found.push(`${formatPath(path(i))}: ${what(key)} is already used by ${formatPath(path(first))}`);
  });
  return found;
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
  config.targets.forEach((target, t) => {
    problems.push(...duplicates(target.plan, (s) => s.name, (s) => ['targets', t, 'plan', s, 'name'], (name) => `the step name "${name}"`));
    target.plan.forEach((step, s) => {
      if (step.timeout <= 0) problems.push(`${formatPath(['targets', t, 'plan', s, 'timeout'])}: must be longer than 0ms`);
      for (const problem of stepKindOf(step).problems?.(step) ?? []) {
        problems.push(`${formatPath(['targets', t, 'plan', s, ...problem.path])}: ${problem.message}`);
      }
    });
  });
  return problems;
}
