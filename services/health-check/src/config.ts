import { readFileSync } from 'node:fs';
import { checkConfigProblems, checkConfigWith } from '@vigil/checks';
import { ConfigError, Duration, formatDuration, repeatedKeys, Type, type StaticDecode } from '@vigil/core';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** One configured check: a check kind's fields plus how it counts towards the service's status. */
export const HealthCheckItem = checkConfigWith({
  // Names become "<name>:<measure>" keys and metric labels, so ":" and spaces are kept out.
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', 'x-expected': 'a name of letters, digits, ".", "_" or "-"' }),
  critical: Type.Boolean({ default: true, description: 'when false, a failure makes the service warn instead of fail' }),
});
export type HealthCheckItem = StaticDecode<typeof HealthCheckItem>;

export const HealthCheckConfig = Type.Decode(
  Type.Object(
    {
      server: Type.Object(
        {
          host: Type.String({ default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
        },
        { default: {}, additionalProperties: false },
      ),
      serviceId: Type.String({ default: 'primary', minLength: 1, description: 'reported as serviceId in /health' }),
      version: Type.String({ default: PACKAGE_VERSION, minLength: 1 }),
      deadline: Duration({ default: '2s', description: '/health always answers within this' }),
      cache: Type.Object(
        {
          ttl: Duration({
            default: '0s',
            description: 'serve a result to later callers for this long; 0s: each call evaluates (concurrent calls always share one evaluation)',
          }),
        },
        { default: {}, additionalProperties: false },
      ),
      background: Type.Optional(
        Type.Object(
          {
            interval: Duration({ description: 'evaluate every interval in the background; /health serves the last result with its age' }),
          },
          { additionalProperties: false },
        ),
      ),
      details: Type.Object(
        {
          token: Type.Optional(
            Type.String({
              minLength: 16,
              description: 'callers sending "Authorization: Bearer <token>" get every detail; write ${ENV_VAR} to keep it out of the file',
              'x-expected': 'a token of at least 16 characters',
            }),
          ),
          anonymous: Type.Optional(
            Type.Union([Type.Literal('status'), Type.Literal('names'), Type.Literal('full')], {
              description: 'what callers without the token get; default "full" without a token, "status" with one',
            }),
          ),
        },
        { default: {}, additionalProperties: false },
      ),
      checks: Type.Array(HealthCheckItem, {
        default: [{ name: 'app', kind: 'http', url: 'http://127.0.0.1:8090/health', timeout: '1s' }],
      }),
    },
    { additionalProperties: false },
  ),
  (config) => {
    const problems = configProblems(config);
    // Thrown from decoding, so that it surfaces like any other invalid configuration (exit 2).
    if (problems.length > 0) throw new ConfigError('checks', problems);
    const anonymous = config.details.anonymous ?? (config.details.token ? 'status' : 'full');
    return { ...config, details: { ...config.details, anonymous } };
  },
);
export type HealthCheckConfig = StaticDecode<typeof HealthCheckConfig>;

/** What details a caller gets: the status only, check names and statuses without outputs, or everything. */
export type DetailLevel = 'status' | 'names' | 'full';

/**
 * What the schema alone cannot say: check names are unique, every check ends before the deadline,
 * thresholds are in order, and a background interval leaves time for an evaluation.
 */
export function configProblems(config: { deadline: number; background?: { interval: number }; checks: readonly HealthCheckItem[] }): string[] {
  const problems: string[] = [];
  if (config.background && config.background.interval < config.deadline) {
    problems.push(`background.interval: ${formatDuration(config.background.interval)} must not be shorter than the ${formatDuration(config.deadline)} deadline`);
  }
  for (const { index, first, key } of repeatedKeys(config.checks, (check) => check.name)) {
    problems.push(`checks[${index}].name: duplicate check name ${JSON.stringify(key)} (already used by checks[${first}])`);
  }
  config.checks.forEach((check, i) => {
    if (check.timeout >= config.deadline) {
      problems.push(`checks[${i}].timeout: ${formatDuration(check.timeout)} must be shorter than the ${formatDuration(config.deadline)} deadline`);
    }
    for (const problem of checkConfigProblems(check)) problems.push(`checks[${i}].${problem}`);
  });
  return problems;
}
