import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { duration, render } from '../output.js';

export type ServiceKind = 'activation' | 'watchdog' | 'health-check';
export const KINDS: readonly ServiceKind[] = ['activation', 'watchdog', 'health-check'];

/** Top-level keys only one service's configuration has. */
const KEYS: Record<ServiceKind, readonly string[]> = {
  activation: ['targets', 'voters', 'operators', 'coordination', 'signatureTolerance', 'externalUrl', 'replica', 'console'],
  watchdog: ['monitors', 'voter', 'controlTargets', 'heartbeat', 'maintenance', 'activation', 'api'],
  'health-check': ['checks', 'serviceId', 'deadline', 'cache', 'background', 'details', 'version'],
};

/** Which service a configuration is for, by its top-level keys; undefined when they do not tell. */
export function detectKind(value: unknown): ServiceKind | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const scores = KINDS.map((kind) => ({ kind, score: keys.filter((k) => KEYS[kind].includes(k)).length }));
  scores.sort((a, b) => b.score - a.score);
  const [best, second] = scores;
  return best && best.score > 0 && best.score > (second?.score ?? 0) ? best.kind : undefined;
}

/** What the cross-file checks need of a watchdog configuration (decoded: durations in ms). */
export interface WatchdogFacts {
  path: string;
  voter?: { id: string; secret: string };
  /** detectionMs: the watchdog's own worst case until it asks for the activation (its detectionBudget). */
  monitors: { name: string; intervalMs: number; failureThreshold: number; timeoutMs: number; detectionMs: number; target?: string }[];
}

/** What the cross-file checks need of an activation configuration. */
export interface ActivationFacts {
  path: string;
  voters: { id: string; secret: string }[];
  targets: { name: string; quorumVotes: number; holdOffMs: number; holdOffEnabled: boolean; holdOffProbeTimeoutMs?: number; planBudgetMs: number; rtoMs?: number }[];
}

export interface CrossCheck {
  level: 'ok' | 'warning' | 'error';
  check: 'voters' | 'quorum' | 'targets' | 'rto' | 'replicas';
  text: string;
}

/**
 * The checks across files: each watchdog's voter is known to every activation configuration
 * with the same secret; quorum k ≤ voters (and the watchdogs given can reach it); every monitor's
 * target exists; worst-case detection + hold-off + plan budget within each target's rto.
 * Secrets are compared, never shown.
 */
export function crossCheck(watchdogs: readonly WatchdogFacts[], activations: readonly ActivationFacts[]): CrossCheck[] {
  const out: CrossCheck[] = [];
  for (const a of activations) {
    for (const w of watchdogs) {
      if (!w.voter) continue;
      const known = a.voters.find((v) => v.id === w.voter!.id);
      if (!known) out.push({ level: 'error', check: 'voters', text: `voter "${w.voter.id}" of ${w.path} is not among the voters of ${a.path} (${a.voters.map((v) => v.id).join(', ') || 'none'}): its requests would be refused as unknown-voter` });
      else if (known.secret !== w.voter.secret) out.push({ level: 'error', check: 'voters', text: `voter "${w.voter.id}": the secret in ${w.path} differs from the one in ${a.path} (values not shown): its requests would be refused as bad-signature` });
      else out.push({ level: 'ok', check: 'voters', text: `voter "${w.voter.id}": id and secret match between ${w.path} and ${a.path}` });
    }
    if (watchdogs.length > 0) {
      for (const v of a.voters) {
        if (!watchdogs.some((w) => w.voter?.id === v.id)) out.push({ level: 'warning', check: 'voters', text: `voter "${v.id}" of ${a.path} is not the voter of any watchdog file given` });
      }
    }
    for (const t of a.targets) {
      if (t.quorumVotes > a.voters.length) {
        out.push({ level: 'error', check: 'quorum', text: `target ${t.name} in ${a.path}: quorum ${t.quorumVotes} > ${a.voters.length} voter(s): it can never fail over` });
        continue;
      }
      const voting = watchdogs.filter((w) => w.voter && a.voters.some((v) => v.id === w.voter!.id && v.secret === w.voter!.secret) && w.monitors.some((m) => m.target === t.name));
      if (watchdogs.length > 0 && voting.length < t.quorumVotes) {
        out.push({ level: 'warning', check: 'quorum', text: `target ${t.name}: quorum ${t.quorumVotes}, but ${voting.length} of the watchdog files given vote for it` });
      } else {
        out.push({ level: 'ok', check: 'quorum', text: `target ${t.name}: quorum ${t.quorumVotes} of ${a.voters.length} voter(s)${watchdogs.length > 0 ? `, ${voting.length} watchdog file(s) vote for it` : ''}` });
      }
    }
    for (const w of watchdogs) {
      for (const m of w.monitors) {
        if (m.target === undefined) continue;
        if (a.targets.some((t) => t.name === m.target)) out.push({ level: 'ok', check: 'targets', text: `monitor ${m.name} of ${w.path} activates target ${m.target}, which ${a.path} defines` });
        else out.push({ level: 'error', check: 'targets', text: `monitor ${m.name} of ${w.path} activates target "${m.target}", which ${a.path} does not define (targets: ${a.targets.map((t) => t.name).join(', ') || 'none'})` });
      }
    }
    for (const t of a.targets) {
      if (t.rtoMs === undefined) continue;
      const monitors = watchdogs.flatMap((w) => w.monitors.filter((m) => m.target === t.name).map((m) => ({ ...m, path: w.path })));
      const holdOff = t.holdOffEnabled ? t.holdOffMs + (t.holdOffProbeTimeoutMs ?? Math.max(0, ...monitors.map((m) => m.timeoutMs))) : 0;
      const plan = `hold-off ${duration(holdOff)} + plan budget ${duration(t.planBudgetMs)}`;
      if (monitors.length === 0) {
        const total = holdOff + t.planBudgetMs;
        out.push({
          level: total > t.rtoMs ? 'error' : 'warning',
          check: 'rto',
          text: `target ${t.name}: ${plan} = ${duration(total)} against rto ${duration(t.rtoMs)}; detection not counted (no watchdog file given activates it)`,
        });
        continue;
      }
      for (const m of monitors) {
        const detection = m.detectionMs;
        const total = detection + holdOff + t.planBudgetMs;
        const text = `target ${t.name} by monitor ${m.name} (${m.path}): detection ${duration(m.intervalMs)} × ${m.failureThreshold} + ${duration(m.timeoutMs)} = ${duration(detection)} + ${plan} = ${duration(total)}`;
        out.push(total > t.rtoMs ? { level: 'error', check: 'rto', text: `${text} exceeds rto ${duration(t.rtoMs)}` } : { level: 'ok', check: 'rto', text: `${text} within rto ${duration(t.rtoMs)}` });
      }
    }
  }
  // Replicas of one activation service must agree, or a vote counts on one and not on another.
  for (const other of activations.slice(1)) {
    const first = activations[0]!;
    const ids = (a: ActivationFacts) => a.voters.map((v) => `${v.id}:${v.secret}`).sort().join(',');
    const names = (a: ActivationFacts) => a.targets.map((t) => t.name).sort().join(',');
    if (ids(first) !== ids(other)) out.push({ level: 'warning', check: 'replicas', text: `${first.path} and ${other.path} have different voters (or secrets): replicas should agree` });
    if (names(first) !== names(other)) out.push({ level: 'warning', check: 'replicas', text: `${first.path} and ${other.path} define different targets` });
  }
  return out;
}

export interface FileResult {
  path: string;
  kind?: ServiceKind;
  /** "keys" when told by its top-level keys, "--kind" when given. */
  detectedBy?: 'keys' | '--kind';
  valid: boolean;
  problems: string[];
}

interface Loaded {
  file: FileResult;
  watchdog?: WatchdogFacts;
  activation?: ActivationFacts;
}

/** Loads one file with its service's own loader (the one `check-config` of the service runs). */
async function load(path: string, forced: ServiceKind | undefined, env: NodeJS.ProcessEnv): Promise<Loaded> {
  const { loadConfigFile, ConfigError } = await import('@vigil/core');
  let kind = forced;
  if (kind === undefined) {
    let raw: unknown;
    try {
      raw = parse(readFileSync(path, 'utf8'));
    } catch (err) {
      const message = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
      return { file: { path, valid: false, problems: [`cannot read the file: ${message}`] } };
    }
    kind = detectKind(raw);
    if (kind === undefined) return { file: { path, valid: false, problems: ['cannot tell which service this configuration is for from its keys: give --kind activation|watchdog|health-check'] } };
  }
  const detectedBy = forced === undefined ? ('keys' as const) : ('--kind' as const);
  try {
    if (kind === 'watchdog') {
      const { WatchdogConfig, detectionBudget } = await import('@vigil/watchdog');
      const config = loadConfigFile(WatchdogConfig, path, env);
      return {
        file: { path, kind, detectedBy, valid: true, problems: [] },
        watchdog: {
          path,
          ...(config.voter && { voter: { id: config.voter.id, secret: config.voter.secret } }),
          monitors: config.monitors.map((m) => ({
            name: m.name,
            intervalMs: detectionBudget(m).intervalMs,
            failureThreshold: m.failureThreshold,
            timeoutMs: m.timeout,
            detectionMs: detectionBudget(m).detectionMs,
            ...(m.activate && { target: m.activate.target }),
          })),
        },
      };
    }
    if (kind === 'activation') {
      const { ActivationConfig, planBudgetMs } = await import('@vigil/activation');
      const config = loadConfigFile(ActivationConfig, path, env);
      return {
        file: { path, kind, detectedBy, valid: true, problems: [] },
        activation: {
          path,
          voters: config.voters.map((v) => ({ id: v.id, secret: v.secret })),
          targets: config.targets.map((t) => {
            const probeTimeout = (t.holdOff.probe as { timeout?: unknown } | undefined)?.timeout;
            return {
              name: t.name,
              quorumVotes: t.quorum.votes,
              holdOffEnabled: t.holdOff.enabled,
              holdOffMs: t.holdOff.duration,
              ...(typeof probeTimeout === 'number' && { holdOffProbeTimeoutMs: probeTimeout }),
              planBudgetMs: planBudgetMs(t.plan),
              ...(t.rto !== undefined && { rtoMs: t.rto }),
            };
          }),
        },
      };
    }
    const { HealthCheckConfig } = await import('@vigil/health-check');
    loadConfigFile(HealthCheckConfig, path, env);
    return { file: { path, kind, detectedBy, valid: true, problems: [] } };
  } catch (err) {
    if (err instanceof ConfigError) return { file: { path, kind, detectedBy, valid: false, problems: err.problems } };
    throw err;
  }
}

export interface CheckConfigReport {
  files: FileResult[];
  checks: CrossCheck[];
  exitCode: ExitCode;
}

/** `vigil check-config <files…> [--kind k]`. */
export async function checkConfig(context: Context, paths: readonly string[], kindText: string | undefined): Promise<ExitCode> {
  if (kindText !== undefined && !(KINDS as readonly string[]).includes(kindText)) throw new CliError(`--kind: expected one of ${KINDS.join(', ')}, got "${kindText}"`, EXIT.usage);
  const forced = kindText as ServiceKind | undefined;
  const loaded: Loaded[] = [];
  for (const path of paths) loaded.push(await load(path, forced, context.env));
  const watchdogs = loaded.flatMap((l) => (l.watchdog ? [l.watchdog] : []));
  const activations = loaded.flatMap((l) => (l.activation ? [l.activation] : []));
  const checks = crossCheck(watchdogs, activations);
  const invalid = loaded.some((l) => !l.file.valid) || checks.some((c) => c.level === 'error');
  const exitCode: ExitCode = invalid ? EXIT.error : checks.some((c) => c.level === 'warning') ? EXIT.degraded : EXIT.ok;
  const report: CheckConfigReport = { files: loaded.map((l) => l.file), checks, exitCode };
  if (context.format !== 'table') {
    context.print(render(context.format, report));
    return exitCode;
  }
  const { paint } = context;
  const lines: string[] = [];
  for (const f of report.files) {
    if (f.valid) lines.push(`${paint('green', 'valid')}    ${f.path} (${f.kind ?? '?'}${f.detectedBy === 'keys' ? ', told by its keys' : ''})`);
    else {
      lines.push(`${paint('red', 'INVALID')}  ${f.path}${f.kind ? ` (${f.kind})` : ''}`);
      for (const p of f.problems) lines.push(`           ${p}`);
    }
  }
  if (checks.length > 0) lines.push('', paint('bold', 'across files'));
  for (const c of checks) {
    const mark = c.level === 'ok' ? paint('green', 'ok     ') : c.level === 'warning' ? paint('yellow', 'warning') : paint('red', 'ERROR  ');
    lines.push(`${mark}  ${c.check.padEnd(8)}  ${c.text}`);
  }
  if (activations.length === 0 && watchdogs.length > 0) lines.push('', paint('dim', 'no activation configuration given: voters, targets and rto are not checked across files'));
  context.print(`${lines.join('\n')}\n`);
  return exitCode;
}
