/**
 * Just enough of the Dockerfile and .dockerignore languages to check Vigil's images without a
 * Docker engine: instructions with their flags, line continuations, comments, exec (JSON) and
 * shell forms, named stages, ARG defaults and `${VAR}` expansion; and .dockerignore matching
 * with the engine's rules (`*`, `?`, `**`, `!` exceptions, a match on a parent folder counts).
 */
import { posix } from 'node:path';

export interface Flag {
  name: string;
  value: string;
}

export interface Instruction {
  /** Upper-case: FROM, RUN, COPY... */
  keyword: string;
  /** Line (1-based) where the instruction starts. */
  line: number;
  flags: Flag[];
  /** What follows the keyword and the flags, continuation lines joined. */
  args: string;
  /** The exec form: `args` written as a JSON array of strings. */
  exec?: string[];
  /** The WORKDIR in effect when the instruction runs. */
  workdir: string;
}

export interface Stage {
  index: number;
  name?: string;
  /** The FROM image with the global ARGs substituted, or the name of an earlier stage. */
  base: string;
  /** The earlier stage this one starts from, when it does. */
  parent?: Stage;
  from: Instruction;
  instructions: Instruction[];
  /** ARG values visible in the stage (declared in it, defaults from the global ARGs). */
  args: Record<string, string | undefined>;
}

export interface Dockerfile {
  source: string;
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

export class DockerfileError extends Error {}

const FLAGGED = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK']);

/** Substitutes `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alternative}`; `\$` stays a literal `$`. */
export function expand(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, op?: string, word?: string, bare?: string) => {
    if (whole === '\\$') return '$';
    const value = vars[(braced ?? bare)!];
    if (op === '-') return value ? value : (word ?? '');
    if (op === '+') return value ? (word ?? '') : '';
    return value ?? '';
  });
}

/** Splits a shell-form argument list into words, honouring quotes and backslash escapes. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) word += text[++i]!;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (ch === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i]!;
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (quote) throw new DockerfileError(`unterminated ${quote} quote in: ${text}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** `KEY=value KEY2="quoted value"` (ENV, LABEL, ARG), or the old `ENV KEY value` form. */
export function keyValues(text: string, where: string): Record<string, string> {
  const words = shellWords(text);
  if (words.length > 0 && !words[0]!.includes('=')) {
    const [key, ...rest] = text.trim().split(/\s+/);
    if (rest.length === 0) throw new DockerfileError(`${where}: "${key}" has no value`);
    return { [key!]: rest.join(' ') };
  }
  const pairs: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new DockerfileError(`${where}: expected KEY=value, got "${word}"`);
    pairs[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return pairs;
}

function parseExec(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined; // not valid JSON: Docker runs it in shell form
  }
}

function takeFlags(keyword: string, rest: string): { flags: Flag[]; args: string } {
  const flags: Flag[] = [];
  if (!FLAGGED.has(keyword)) return { flags, args: rest };
  let args = rest;
  for (let m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(args); m; m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(args)) {
    flags.push({ name: m[1]!, value: m[2] ?? 'true' });
    args = args.slice(m[0].length);
  }
  return { flags, args };
}

/** The logical lines of a Dockerfile: comments dropped, continuations joined. */
function logicalLines(text: string, source: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let pending: { line: number; text: string } | undefined;
  let directives = true;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (directives) {
      const directive = /^#\s*([a-z]+)\s*=\s*(.*)$/i.exec(trimmed);
      if (directive && directive[1]!.toLowerCase() === 'escape' && directive[2]!.trim() !== '\\') {
        throw new DockerfileError(`${source}:${i + 1}: only the default escape character \\ is supported`);
      }
      if (!directive) directives = false;
    }
    if (trimmed.startsWith('#') || trimmed === '') return; // also inside a continuation, as the engine does
    const continued = /\\\s*$/.test(raw);
    const body = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (pending) pending.text += ` ${body.trim()}`;
    else pending = { line: i + 1, text: body.trim() };
    if (!continued) {
      out.push(pending);
      pending = undefined;
    }
  });
  if (pending) throw new DockerfileError(`${source}:${pending.line}: the file ends inside a line continuation`);
  return out;
}

export function parseDockerfile(text: string, source = 'Dockerfile'): Dockerfile {
  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  let workdir = '/';
  for (const { line, text: body } of logicalLines(text, source)) {
    const where = `${source}:${line}`;
    const m = /^([A-Za-z]+)(?:\s+(.*))?$/.exec(body);
    if (!m) throw new DockerfileError(`${where}: not an instruction: ${body}`);
    const keyword = m[1]!.toUpperCase();
    const { flags, args } = takeFlags(keyword, (m[2] ?? '').trim());
    if (args === '') throw new DockerfileError(`${where}: ${keyword} needs arguments`);
    if (keyword === 'FROM') {
      const words = shellWords(args);
      const asAt = words.findIndex((w) => w.toLowerCase() === 'as');
      if (!(words.length === 1 || (words.length === 3 && asAt === 1))) throw new DockerfileError(`${where}: expected FROM <image> [AS <name>], got: ${args}`);
      const base = expand(words[0]!, globalArgs);
      const parent = stages.find((s) => s.name === base);
      workdir = parent ? (parent.instructions.at(-1)?.workdir ?? parent.from.workdir) : '/';
      const from: Instruction = { keyword, line, flags, args, workdir };
      stage = { index: stages.length, base, from, instructions: [], args: {}, ...(asAt === 1 ? { name: words[2]! } : {}), ...(parent ? { parent } : {}) };
      stages.push(stage);
      continue;
    }
    if (keyword === 'ARG') {
      const [name, value] = args.includes('=') ? [args.slice(0, args.indexOf('=')), shellWords(args.slice(args.indexOf('=') + 1)).join(' ')] : [args, undefined];
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DockerfileError(`${where}: bad ARG name "${name}"`);
      if (stage) stage.args[name] = value ?? globalArgs[name];
      else globalArgs[name] = value;
      continue;
    }
    if (!stage) throw new DockerfileError(`${where}: ${keyword} before the first FROM`);
    if (keyword === 'WORKDIR') workdir = posix.resolve(workdir, expand(args, stage.args));
    const exec = parseExec(args);
    stage.instructions.push({ keyword, line, flags, args, workdir, ...(exec ? { exec } : {}) });
  }
  if (stages.length === 0) throw new DockerfileError(`${source}: no FROM instruction`);
  return { source, globalArgs, stages };
}

export function flag(instruction: Instruction, name: string): string | undefined {
  return instruction.flags.findLast((f) => f.name === name)?.value;
}

/** The stages a stage is built on, oldest first, then the stage itself. */
export function stageChain(stage: Stage): Stage[] {
  return stage.parent ? [...stageChain(stage.parent), stage] : [stage];
}

export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The last instruction of a kind in a stage (or the stages it is built on): the one in effect. */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  return stageChain(stage)
    .flatMap((s) => s.instructions)
    .findLast((i) => i.keyword === keyword);
}

export function stageByName(file: Dockerfile, name: string): Stage {
  const stage = file.stages.find((s) => s.name === name) ?? file.stages[Number(name)];
  if (!stage) throw new DockerfileError(`${file.source}: no stage named "${name}"`);
  return stage;
}

/** ENV of a stage (and the stages it is built on), values expanded. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of stageChain(stage)) {
    for (const i of instructionsOf(s, 'ENV')) {
      for (const [key, value] of Object.entries(keyValues(i.args, `line ${i.line}`))) env[key] = expand(value, { ...s.args, ...env });
    }
  }
  return env;
}

export function labelsOf(stage: Stage): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const i of instructionsOf(stage, 'LABEL')) {
    for (const [key, value] of Object.entries(keyValues(i.args, `line ${i.line}`))) labels[key] = expand(value, { ...stage.args, ...envOf(stage) });
  }
  return labels;
}

export interface Copy {
  instruction: Instruction;
  /** The stage (or image) named by `--from`; absent for the build context. */
  from?: string;
  sources: string[];
  /** Absolute path in the image; ends with `/` when written as a folder. */
  dest: string;
}

export function copyOf(instruction: Instruction): Copy {
  const words = instruction.exec ?? shellWords(instruction.args);
  if (words.length < 2) throw new DockerfileError(`line ${instruction.line}: ${instruction.keyword} needs a source and a destination`);
  const dest = words.at(-1)!;
  const sources = words.slice(0, -1);
  const absolute = posix.resolve(instruction.workdir, dest) + (dest.endsWith('/') || dest === '.' || dest === './' ? '/' : '');
  if (sources.length > 1 && !absolute.endsWith('/')) throw new DockerfileError(`line ${instruction.line}: with several sources the destination must end with /`);
  const from = flag(instruction, 'from');
  return { instruction, sources, dest: absolute === '//' ? '/' : absolute, ...(from ? { from } : {}) };
}

export interface Healthcheck {
  options: Record<string, string>;
  /** Exec form as an array; shell form as a string. */
  command: string[] | string;
}

export function healthcheckOf(instruction: Instruction): Healthcheck | 'none' {
  if (/^none$/i.test(instruction.args)) return 'none';
  const m = /^CMD\s+(.*)$/i.exec(instruction.args);
  if (!m) throw new DockerfileError(`line ${instruction.line}: expected HEALTHCHECK [options] CMD <command> or HEALTHCHECK NONE`);
  const options = Object.fromEntries(instruction.flags.map((f) => [f.name, f.value]));
  return { options, command: parseExec(m[1]!) ?? m[1]! };
}

/** A Docker duration ("30s", "1m30s", "500ms") in milliseconds. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new DockerfileError(`not a duration: "${text}"`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

// --- .dockerignore ---

export interface IgnoreRule {
  text: string;
  exclusion: boolean;
  pattern: RegExp;
}

/** A path pattern as the engine compiles it: `*` and `?` stay within a folder, `**` spans folders. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      i += 1;
      if (glob[i + 1] === '/') i += 1;
      re += i + 1 >= glob.length ? '.*' : '(.*/)?';
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < glob.length) re += `\\${glob[++i]!}`;
    else if (ch === '[' || ch === ']') re += ch; // character classes pass through
    else re += /[.+^${}()|]/.test(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!');
      const cleaned = posix.normalize(exclusion ? line.slice(1).trim() : line).replace(/^\/+/, '').replace(/\/+$/, '');
      return { text: line, exclusion, pattern: globToRegExp(cleaned) };
    });
}

/** Whether a context path (relative, `/`-separated) is left out of the build context. */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const file = posix.normalize(path).replace(/^\.?\/+/, '');
  const parts = file.split('/');
  const parents = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (rule.exclusion !== ignored) continue; // this rule could not change the answer
    if (rule.pattern.test(file) || parents.some((p) => rule.pattern.test(p))) ignored = !rule.exclusion;
  }
  return ignored;
}
