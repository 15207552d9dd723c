import { readFileSync } from 'node:fs';
import Type, { type StaticDecode, type TSchema } from 'typebox';
import { Settings } from 'typebox/system';
import Value from 'typebox/value';
import { LineCounter, parseDocument } from 'yaml';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';

/** Raised with every problem found in a configuration, each naming its path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A duration in config ("10s", "250ms") decoded to milliseconds. */
export const Duration = (options: { default?: string; description?: string } = {}) =>
  Type.Codec(Type.String({ ...options, pattern: DURATION_PATTERN, 'x-expected': 'a duration such as "10s"' }))
    .Decode((text) => parseDuration(text) ?? Number.NaN)
    .Encode((ms) => formatDuration(ms));

/** An absolute http(s) URL. */
export const HttpUrl = (options: { default?: string; description?: string } = {}) =>
  Type.String({ ...options, pattern: '^https?://[^\\s/]+', 'x-expected': 'an http(s) URL such as "http://127.0.0.1:8090/health"' });

/** A Standard Webhooks secret, `whsec_` and at least 16 bytes of base64. Never echoed in errors. */
export const WebhookSecret = (options: { description?: string } = {}) =>
  Type.String({
    description: 'Standard Webhooks secret "whsec_<base64>"; write ${ENV_VAR} to keep it out of the file',
    ...options,
    pattern: '^whsec_[A-Za-z0-9+/]{22,}={0,2}$',
    'x-expected': 'a Standard Webhooks secret "whsec_<base64>" of at least 16 bytes',
  });

export type Env = Record<string, string | undefined>;

/** Finds the config file: `--config PATH` / `--config=PATH`, else VIGIL_CONFIG. */
export function configPathFrom(argv: readonly string[], env: Env): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') return argv[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return env.VIGIL_CONFIG || undefined;
}

/** Reads, interpolates, validates and decodes a YAML config file. Throws ConfigError. */
export function loadConfigFile<S extends TSchema>(schema: S, path: string, env: Env = process.env): StaticDecode<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfigText(schema, text, path, env);
}

/** Parses YAML text as configuration; `source` names it in errors. Throws ConfigError. */
export function parseConfigText<S extends TSchema>(schema: S, text: string, source: string, env: Env = process.env): StaticDecode<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const at = lineCounter.linePos(e.pos[0]);
        return `line ${at.line}, column ${at.col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return parseConfigValue(schema, doc.toJS() ?? {}, source, env);
}

/** Validates an already-parsed value: interpolation, defaults, conversion, decoding. */
export function parseConfigValue<S extends TSchema>(schema: S, raw: unknown, source: string, env: Env = process.env): StaticDecode<S> {
  const problems: string[] = [];
  const interpolated = interpolate(raw, [], env, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const value = Value.Convert(schema, Value.Default(schema, fillDiscriminators(schema, interpolated)));
  const errors = allErrors(schema, value);
  if (errors.length > 0) throw new ConfigError(source, describeErrors(schema, value, errors));
  try {
    return Value.Decode(schema, value);
  } catch (err) {
    // Rules a schema cannot state (unique names, cross-field limits) are checked while decoding;
    // they raise ConfigError too, and are reported against the file being loaded.
    if (err instanceof ConfigError) throw new ConfigError(source, err.problems);
    throw err;
  }
}

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` / `${VAR:-default}` in every string; `VAR_FILE` names a file holding VAR's value. */
function interpolate(value: unknown, path: (string | number)[], env: Env, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '${'; // "$${" escapes a literal "${"
      const direct = env[name];
      if (direct !== undefined && direct !== '') return direct;
      const file = env[`${name}_FILE`];
      if (file) {
        try {
          return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          problems.push(`${formatPath(path)}: cannot read ${name}_FILE (${file}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
          return match;
        }
      }
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set (write \${${name}:-default} for a default)`);
      return match;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, problems)]));
  }
  return value;
}

/** Entries whose key an earlier entry already used (for "names must be unique" rules). */
export function repeatedKeys<T>(items: readonly T[], keyOf: (item: T) => string): { index: number; first: number; key: string }[] {
  const firstIndex = new Map<string, number>();
  const repeats: { index: number; first: number; key: string }[] = [];
  items.forEach((item, index) => {
    const key = keyOf(item);
    const first = firstIndex.get(key);
    if (first === undefined) firstIndex.set(key, index);
    else repeats.push({ index, first, key });
  });
  return repeats;
}

/** The problems a configuration load reports, or none when it succeeds (for checks and tests). */
export function collectConfigProblems(load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** `["monitors", 0, "interval"]` → `monitors[0].interval`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number' || /^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

type SchemaError = ReturnType<typeof Value.Errors>[number];

/** Every validation error: TypeBox stops at 8 by default, and a config should be fixable in one pass. */
function allErrors(schema: TSchema, value: unknown): SchemaError[] {
  const previous = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: 10_000 });
  try {
    return Value.Errors(schema, value);
  } finally {
    Settings.Set({ maxErrors: previous });
  }
}

function pointerParts(pointer: string): string[] {
  return pointer
    .replace(/^#/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function at(root: unknown, parts: readonly string[]): unknown {
  let node = root;
  for (const part of parts) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const SECRET_KEY = /secret|token|password|passphrase|routingkey|apikey|credential/i;

/** Shows what was found at a path; values under secret-looking keys are never echoed. */
function show(value: unknown, parts: readonly string[] = []): string {
  if (value === undefined) return 'nothing';
  if (parts.some((p) => SECRET_KEY.test(p))) return `a ${typeof value} (hidden: it looks like a secret)`;
  if (value !== null && typeof value === 'object') return `an object with keys ${Object.keys(value).map((k) => JSON.stringify(k)).join(', ') || '(none)'}`;
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeErrors(schema: TSchema, value: unknown, errors: SchemaError[]): string[] {
  const lines = new Set<string>();
  // A failed union is reported once: either as the errors of the branch its discriminator
  // (`kind`, `type`) selects, or as "expected one of …" — never as one error per branch.
  const unions = errors.filter((e) => e.keyword === 'anyOf');
  const insideUnion = (e: SchemaError) =>
    unions.some((u) => e !== u && e.schemaPath.startsWith(`${u.schemaPath}/anyOf/`) && isWithin(e.instancePath, u.instancePath));
  for (const error of errors) {
    // An additionalProperties:false rejection is also reported as a "schema is false" error per key.
    if (error.keyword === 'boolean' || insideUnion(error)) continue;
    const parts = pointerParts(error.instancePath);
    const where = formatPath(parts);
    const actual = at(value, parts);
    const node = at(schema, pointerParts(error.schemaPath)) as Record<string, unknown> | undefined;
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'additionalProperties':
        for (const key of (params.additionalProperties as string[] | undefined) ?? []) {
          lines.add(`${formatPath([...parts, key])}: unknown key (check its spelling and indentation)`);
        }
        break;
      case 'required':
        for (const key of (params.requiredProperties as string[] | undefined) ?? []) {
          lines.add(`${formatPath([...parts, key])}: is required`);
        }
        break;
      case 'pattern':
      case 'format':
        lines.add(`${where}: expected ${expectation(node)}, got ${show(actual, parts)}`);
        break;
      case 'type':
        lines.add(`${where}: expected ${String(params.type ?? node?.type)}, got ${show(actual, parts)}`);
        break;
      case 'anyOf': {
        const branch = selectedBranch(node, actual);
        if (branch) {
          // Defaults could not be applied while the member was unknown: apply this member's now.
          const withDefaults: unknown = Value.Default(branch, structuredClone(actual));
          const nested = describeErrors(branch, withDefaults, allErrors(branch, withDefaults));
          for (const line of nested) lines.add(line.startsWith('(top level)') ? line.replace('(top level)', where) : prefixPath(where, line));
        } else {
          lines.add(unknownMember(node, actual, parts) ?? `${where}: expected ${describeChoices(node)}, got ${show(actual, parts)}`);
        }
        break;
      }
      case 'const':
      case 'enum':
        lines.add(`${where}: expected ${describeChoices(node)}, got ${show(actual, parts)}`);
        break;
      default:
        lines.add(`${where}: ${error.message}, got ${show(actual, parts)}`);
    }
  }
  return [...lines];
}

function isWithin(instancePath: string, parent: string): boolean {
  return instancePath === parent || instancePath.startsWith(`${parent}/`);
}

function expectation(node: Record<string, unknown> | undefined): string {
  const described = node?.['x-expected'];
  if (typeof described === 'string') return described;
  return `text matching ${JSON.stringify(node?.pattern ?? node?.format)}`;
}

const DISCRIMINATORS = ['kind', 'type'];

type SchemaNode = { anyOf?: SchemaNode[]; properties?: Record<string, SchemaNode>; items?: SchemaNode; default?: unknown; const?: unknown };

/**
 * A union told apart by `kind` (or `type`) may give one member's discriminator a default: an entry
 * written without it is that member. Filled in before validation, so that the member's own
 * defaults apply and its errors name the field at fault.
 */
function fillDiscriminators(schema: SchemaNode, value: unknown): unknown {
  if (Array.isArray(value)) return schema.items ? value.map((item) => fillDiscriminators(schema.items!, item)) : value;
  if (value === null || typeof value !== 'object') return value;
  let object = value as Record<string, unknown>;
  let node = schema;
  if (Array.isArray(schema.anyOf)) {
    for (const key of DISCRIMINATORS) {
      const defaults = schema.anyOf.filter((m) => m.properties?.[key]?.default !== undefined);
      if (!(key in object) && defaults.length === 1) object = { [key]: defaults[0]!.properties![key]!.default, ...object };
      const member = schema.anyOf.find((m) => m.properties?.[key]?.const !== undefined && m.properties[key].const === object[key]);
      if (member) {
        node = member;
        break;
      }
    }
  }
  if (!node.properties) return object;
  const properties = node.properties;
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, properties[k] ? fillDiscriminators(properties[k], v) : v]));
}

/** The union member whose `kind`/`type` literal matches the value's, if the union is discriminated that way. */
function selectedBranch(node: Record<string, unknown> | undefined, actual: unknown): TSchema | undefined {
  if (!Array.isArray(node?.anyOf) || actual === null || typeof actual !== 'object') return undefined;
  for (const key of DISCRIMINATORS) {
    const wanted = (actual as Record<string, unknown>)[key];
    if (wanted === undefined) continue;
    const match = (node.anyOf as Record<string, unknown>[]).find(
      (b) => (b.properties as Record<string, { const?: unknown }> | undefined)?.[key]?.const === wanted,
    );
    if (match) return match;
  }
  return undefined;
}

/** "checks[2].kind: expected one of "http", "tcp", got "smtp"" when the discriminator names no member. */
function unknownMember(node: Record<string, unknown> | undefined, actual: unknown, parts: readonly string[]): string | undefined {
  if (!Array.isArray(node?.anyOf) || actual === null || typeof actual !== 'object') return undefined;
  const members = node.anyOf as SchemaNode[];
  for (const key of DISCRIMINATORS) {
    const kinds = members.map((m) => m.properties?.[key]?.const).filter((k) => k !== undefined);
    if (kinds.length !== members.length || !(key in actual)) continue;
    const got = (actual as Record<string, unknown>)[key];
    return `${formatPath([...parts, key])}: expected one of ${kinds.map((k) => JSON.stringify(k)).join(', ')}, got ${show(got, [...parts, key])}`;
  }
  return undefined;
}

function prefixPath(prefix: string, line: string): string {
  return line.startsWith('[') ? `${prefix}${line}` : `${prefix}.${line}`;
}

function describeChoices(node: Record<string, unknown> | undefined): string {
  if (!node) return 'one of the allowed values';
  if ('const' in node) return JSON.stringify(node.const);
  const options = (node.anyOf ?? node.enum) as unknown[] | undefined;
  if (Array.isArray(options) && options.every((o) => o !== null && typeof o === 'object' && 'const' in o)) {
    return `one of ${options.map((o) => JSON.stringify((o).const)).join(', ')}`;
  }
  if (Array.isArray(node.enum)) return `one of ${node.enum.map((o) => JSON.stringify(o)).join(', ')}`;
  if (typeof node['x-expected'] === 'string') return node['x-expected'];
  return 'one of the allowed forms';
}
