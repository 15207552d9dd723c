import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { call } from '../http.js';
import { duration, render, short, table } from '../output.js';
import type { DrillReport } from '../views.js';
import { intervalOf, watchdogMonitors } from './common.js';

/** How long a watchdog takes at worst to ask for an activation once the target fails. */
export interface DetectionBound {
  watchdog: string;
  monitor: string;
  intervalMs: number;
  failureThreshold: number;
  timeoutMs: number;
  /**
   * The watchdog's own worst case (its detectionBudget): up to one schedule step until the first
   * failed probe, then failureThreshold probes, the last one timing out.
   */
  boundMs: number;
  source: 'config' | 'api';
}

/** The bounds from a watchdog configuration file, loaded and validated by the watchdog's own loader. */
export async function boundsFromConfig(path: string, target: string, env: NodeJS.ProcessEnv): Promise<DetectionBound[]> {
  const { loadConfigFile, ConfigError } = await import('@vigil/core');
  const { WatchdogConfig, detectionBudget } = await import('@vigil/watchdog');
  let config;
  try {
    config = loadConfigFile(WatchdogConfig, path, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`--watchdog-config: ${err.message}`);
    throw err;
  }
  return config.monitors
    .filter((m) => m.activate?.target === target)
    .map((m) => {
      // The watchdog's own arithmetic for the schedule (an interval, or a cron schedule's longest gap).
      const { intervalMs, detectionMs } = detectionBudget(m);
      return { watchdog: path, monitor: m.name, intervalMs, failureThreshold: m.failureThreshold, timeoutMs: m.timeout, boundMs: detectionMs, source: 'config' as const };
    });
}

export interface DrillOutput {
  server: string;
  report: DrillReport;
  detection: { bounds: DetectionBound[]; worstMs?: number; unknown: string[] };
  /** Each phase with its worst case and the running total, against the RTO. */
  phases: { phase: string; budgetMs: number; lastDurationMs?: number; totalMs: number; withinRto?: boolean }[];
  totalMs: number;
  rtoMs?: number;
  withinRto?: boolean;
  exitCode: ExitCode;
}

/** `vigil drill <target>`: the activation service's dry run, plus the watchdogs' detection bound, against the RTO. */
export async function drill(context: Context, target: string, options: { kind?: string; reason?: string; watchdogConfig?: string }): Promise<ExitCode> {
  const token = context.connection.token;
  if (token === undefined) throw new CliError('an operator token is required: set VIGIL_TOKEN or give --token-file <file>');
  const kind = options.kind ?? 'failover';
  if (kind !== 'failover' && kind !== 'failback') throw new CliError(`--kind: expected failover or failback, got "${kind}"`, EXIT.usage);
  const answer = await call<DrillReport>(context.connection.servers, '/v1/drills', {
    method: 'POST',
    body: { target, kind, ...(options.reason !== undefined && { reason: options.reason }) },
    token,
    timeoutMs: Math.max(context.connection.timeoutMs, 30_000),
    accept: [404],
  });
  if (answer.status === 404) {
    const error = (answer.body as unknown as { error?: string } | undefined)?.error;
    if (error === 'unknown-target') throw new CliError(`no target "${target}"`);
    throw new CliError(`${answer.server} has no drill API (POST /v1/drills answered 404: an older version)`);
  }
  const report = answer.body;

  // Detection counts for a failover only: a failback is started by an operator.
  const bounds: DetectionBound[] = [];
  const unknown: string[] = [];
  if (kind === 'failover') {
    if (options.watchdogConfig !== undefined) bounds.push(...(await boundsFromConfig(options.watchdogConfig, target, context.env)));
    else {
      for (const w of await watchdogMonitors(context)) {
        if (!w.ok) {
          unknown.push(`watchdog ${w.watchdog} did not answer: ${w.error ?? ''}`);
          continue;
        }
        for (const m of w.monitors.filter((x) => x.activationTarget === target)) {
          const intervalMs = intervalOf(m);
          if (intervalMs === undefined || m.failureThreshold === undefined || m.timeoutMs === undefined || m.detectionMs === undefined) {
            unknown.push(`monitor ${m.name} on ${w.watchdog}: the watchdog (an older version) does not tell its detection bound; give --watchdog-config <file>`);
            continue;
          }
          bounds.push({ watchdog: w.watchdog, monitor: m.name, intervalMs, failureThreshold: m.failureThreshold, timeoutMs: m.timeoutMs, boundMs: m.detectionMs, source: 'api' });
        }
      }
      if (bounds.length === 0 && unknown.length === 0) unknown.push(`no monitor of the watchdogs asked activates ${target}`);
    }
  }
  const worst = bounds.length > 0 ? Math.max(...bounds.map((b) => b.boundMs)) : undefined;
  const rtoMs = report.rtoMs;
  const phases: DrillOutput['phases'] = [];
  let total = 0;
  const add = (phase: string, budgetMs: number, lastDurationMs?: number) => {
    total += budgetMs;
    phases.push({ phase, budgetMs, ...(lastDurationMs !== undefined && { lastDurationMs }), totalMs: total, ...(rtoMs !== undefined && { withinRto: total <= rtoMs }) });
  };
  if (worst !== undefined) add('detection (worst case)', worst);
  add(`hold-off${report.holdOff.probe ? ' and direct probe' : ''}`, report.holdOff.durationMs + (report.holdOff.probe?.durationMs ?? 0));
  for (const step of report.steps) add(`step ${step.name} (${step.kind})`, step.budgetMs, step.lastDurationMs);
  const withinRto = rtoMs === undefined ? undefined : total <= rtoMs;
  const codes: ExitCode[] = [];
  if (withinRto === false) codes.push(EXIT.degraded);
  if (report.dataLoss && !report.dataLoss.withinLimit) codes.push(EXIT.degraded);
  const exitCode = codes.length > 0 ? EXIT.degraded : EXIT.ok;
  const output: DrillOutput = {
    server: answer.server,
    report,
    detection: { bounds, ...(worst !== undefined && { worstMs: worst }), unknown },
    phases,
    totalMs: total,
    ...(rtoMs !== undefined && { rtoMs }),
    ...(withinRto !== undefined && { withinRto }),
    exitCode,
  };
  for (const u of unknown) context.note(`detection not counted: ${u}`);
  if (context.format !== 'table') {
    context.print(render(context.format, output));
    return exitCode;
  }
  const { paint } = context;
  const lines: string[] = [];
  lines.push(`${paint('bold', `drill of ${report.kind} for ${target}`)} (dry run: no effectful step ran), mode ${report.mode}`);
  lines.push(`  approval: ${report.wouldWaitForApproval ? paint('yellow', `would wait for an operator: ${report.approvalReasons.join('; ')}`) : 'would not wait for an operator'}`);
  if (report.holdOff.probe) lines.push(`  direct probe of the primary now: ${report.holdOff.probe.status} in ${duration(report.holdOff.probe.durationMs)}${report.holdOff.probe.output ? ` (${short(report.holdOff.probe.output)})` : ''}`);
  if (report.dataLoss) lines.push(`  data loss: lag ${duration(report.dataLoss.lagMs)} of max ${duration(report.dataLoss.maxMs)}: ${report.dataLoss.withinLimit ? paint('green', 'within limit') : paint('red', 'OVER LIMIT')}`);
  for (const b of bounds) lines.push(`  detection by ${b.monitor} (${b.watchdog}): at worst ${duration(b.boundMs)} (interval ${duration(b.intervalMs)}, failureThreshold ${b.failureThreshold}, timeout ${duration(b.timeoutMs)})`);
  lines.push('');
  const verdict = (ok: boolean | undefined) => (ok === undefined ? '-' : ok ? paint('green', 'yes') : paint('red', 'NO'));
  lines.push(
    table(
      ['PHASE', 'WORST CASE', 'LAST RUN', 'TOTAL', 'WITHIN RTO'],
      phases.map((p) => [p.phase, duration(p.budgetMs), duration(p.lastDurationMs), duration(p.totalMs), verdict(p.withinRto)]),
      paint,
    ).trimEnd(),
  );
  lines.push('');
  lines.push(
    rtoMs === undefined
      ? `total ${duration(total)}; no rto configured for ${target}`
      : `total ${duration(total)} against rto ${duration(rtoMs)}: ${withinRto ? paint('green', 'within the RTO') : paint('red', 'OVER THE RTO')}${worst === undefined && kind === 'failover' ? ' (detection not counted)' : ''}`,
  );
  context.print(`${lines.join('\n')}\n`);
  return exitCode;
}
