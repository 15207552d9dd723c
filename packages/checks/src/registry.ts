import Type, { type StaticDecode, type TObject, type TProperties } from 'typebox';
import type { Check, CheckResult } from './check.js';
import { HttpCheckConfig, http } from './http.js';
import { runCheck } from './runner.js';
import { TcpCheckConfig, tcp } from './tcp.js';

/**
 * Each kind's config schema, extended with fields a service adds to every check (its name, …).
 * Each member stays closed to unknown keys, so a misspelt field is reported, not ignored.
 * A new kind is one member here and one line in `checks`.
 */
export function checkConfigWith<P extends TProperties>(fields: P) {
  return Type.Union([extend(HttpCheckConfig, fields), extend(TcpCheckConfig, fields)]);
}

function extend<K extends TProperties, P extends TProperties>(kind: TObject<K>, fields: P) {
  return Type.Object({ ...fields, ...kind.properties }, { additionalProperties: false });
}

/** Any check's config, discriminated on `kind`. */
export const CheckConfig = checkConfigWith({});
export type CheckConfig = StaticDecode<typeof CheckConfig>;
export type CheckKind = CheckConfig['kind'];

/** Every check kind by name. The type makes a kind missing here, or its config mismatched, a compile error. */
export const checks = { http, tcp } satisfies { [K in CheckKind]: Check<Extract<CheckConfig, { kind: K }>> };

/** Runs a configured check of any kind with its configured timeout (see runCheck). */
export function runConfiguredCheck(config: CheckConfig, parentSignal?: AbortSignal): Promise<CheckResult> {
  // TypeScript cannot correlate `config.kind` with the registry entry; the registry's type guarantees it.
  const check = checks[config.kind] as Check<CheckConfig>;
  return runCheck(check, config, config.timeout, parentSignal);
}
