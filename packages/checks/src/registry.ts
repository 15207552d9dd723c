import Type, { type StaticDecode, type TObject, type TProperties } from 'typebox';
import { RESPONSE_TIME, type Check, type CheckResult, type Measurement } from './check.js';
import { DiskCheckConfig, disk } from './disk.js';
import { DnsCheckConfig, dns } from './dns.js';
import { HttpCheckConfig, http } from './http.js';
import { PostgresCheckConfig, postgres } from './postgres.js';
import { ProcessCheckConfig, processCheck } from './process.js';
import { RedisCheckConfig, redis } from './redis.js';
import { runCheck } from './runner.js';
import { maskSecrets, secretsOf } from './secrets.js';
import { TcpCheckConfig, tcp } from './tcp.js';
import { applyThresholds, thresholdProblems, Thresholds } from './thresholds.js';

/** Fields every configured check has, whatever its kind. */
const CommonFields = {
  thresholds: Type.Optional(Thresholds),
};

/**
 * Each kind's config schema, extended with the common fields and those a service adds to every
 * check (its name, …). Each member stays closed to unknown keys, so a misspelt field is reported,
 * not ignored. A new kind is one member here and one line in `checks`.
 */
export function checkConfigWith<P extends TProperties>(fields: P) {
  return Type.Union([
    extend(HttpCheckConfig, fields),
    extend(TcpCheckConfig, fields),
    extend(DnsCheckConfig, fields),
    extend(PostgresCheckConfig, fields),
    extend(RedisCheckConfig, fields),
    extend(DiskCheckConfig, fields),
    extend(ProcessCheckConfig, fields),
  ]);
}

function extend<K extends TProperties, P extends TProperties>(kind: TObject<K>, fields: P) {
  return Type.Object({ ...fields, ...CommonFields, ...kind.properties }, { additionalProperties: false });
}

/** Any check's config, discriminated on `kind`. */
export const CheckConfig = checkConfigWith({});
export type CheckConfig = StaticDecode<typeof CheckConfig>;
export type CheckKind = CheckConfig['kind'];

/** Every check kind by name. The type makes a kind missing here, or its config mismatched, a compile error. */
export const checks = { http, tcp, dns, postgres, redis, disk, process: processCheck } satisfies {
  [K in CheckKind]: Check<Extract<CheckConfig, { kind: K }>>;
};

// TypeScript cannot correlate `config.kind` with the registry entry; the registry's type guarantees it.
const checkFor = (config: CheckConfig) => checks[config.kind] as Check<CheckConfig>;

/** What a configured check observes (its response time unless its kind measures something else). */
export function measurementOf(config: CheckConfig): Measurement {
  return checkFor(config).measurement?.(config) ?? RESPONSE_TIME;
}

/** What a check's schema cannot say, relative to the check (e.g. "thresholds: warn 5 must be at most fail 1 …"). */
export function checkConfigProblems(config: CheckConfig): string[] {
  return thresholdProblems(config.thresholds, measurementOf(config)).map((p) => `thresholds: ${p}`);
}

/**
 * Runs a configured check of any kind with its configured timeout (see runCheck), then applies
 * its thresholds to the observed value (its response time, for kinds that measure nothing else)
 * and masks every secret of its configuration in the output.
 */
export async function runConfiguredCheck(config: CheckConfig, parentSignal?: AbortSignal): Promise<CheckResult> {
  const measurement = measurementOf(config);
  const result = await runCheck(checkFor(config), config, config.timeout, parentSignal);
  const observed =
    measurement === RESPONSE_TIME ? { ...result, observedValue: Math.round(result.durationMs * 10) / 10, observedUnit: RESPONSE_TIME.unit } : result;
  const judged = applyThresholds(observed, config.thresholds, measurement);
  return judged.output === undefined ? judged : { ...judged, output: maskSecrets(judged.output, secretsOf(config)) };
}
