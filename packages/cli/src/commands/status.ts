import type { Context } from '../context.js';
import { CliError, EXIT, worstExit, type ExitCode } from '../exit.js';
import { age, duration, renderEvent, render, short, when } from '../output.js';
import { follow, StreamRefused } from '../sse.js';
import type { Activation, ActiveSide, DataLossReading, MonitorView, TargetView } from '../views.js';
import { get, isFinal, staleness, watchdogMonitors, type WatchdogMonitors } from './common.js';

export interface MonitorLine {
  watchdog: string;
  name: string;
  state: string;
  activationTarget?: string;
  lastProbeAt?: string;
  ageMs?: number;
  stale: boolean;
  paused?: MonitorView['paused'];
  inMaintenance: boolean;
  incident?: string;
}

export interface TargetStatus {
  name: string;
  active: 'primary' | 'secondary';
  epoch: number;
  since?: string;
  activationId?: string;
  mode?: string;
  rtoMs?: number;
  quorum?: TargetView['quorum'];
  /** Votes towards the quorum now (no activation yet). */
  votes: TargetView['votes'];
  pending?: Activation;
  dataLoss?: DataLossReading | { configured: true; error: string };
  monitors: MonitorLine[];
}

export interface Finding {
  level: 'degraded' | 'pending-approval' | 'error' | 'note';
  target?: string;
  text: string;
}

export interface StatusReport {
  /** The activation server that answered, and when. */
  server: string;
  fetchedAt: string;
  targets: TargetStatus[];
  watchdogs: { url: string; ok: boolean; error?: string; fetchedAt?: string }[];
  /** Monitors of no target shown (all of them when no target is named). */
  otherMonitors: MonitorLine[];
  findings: Finding[];
  exitCode: ExitCode;
}

function monitorLine(watchdog: string, m: MonitorView, now: number): MonitorLine {
  const { ageMs, stale } = staleness(m, now);
  return {
    watchdog,
    name: m.name,
    state: m.state,
    ...(m.activationTarget !== undefined && { activationTarget: m.activationTarget }),
    ...((m.lastProbeAt ?? m.lastResult?.time) !== undefined && { lastProbeAt: m.lastProbeAt ?? m.lastResult?.time }),
    ...(ageMs !== undefined && { ageMs }),
    stale,
    ...(m.paused && { paused: m.paused }),
    inMaintenance: m.inMaintenance,
    ...(m.incident && { incident: m.incident.id }),
  };
}

/** The targets as the activation service describes them; from the older per-target APIs when it has no `/v1/targets`. */
async function readTargets(context: Context, only: string | undefined, watchdogs: WatchdogMonitors[]): Promise<{ server: string; receivedAt: number; targets: TargetStatus[] }> {
  const answer = await get<{ targets: TargetView[] }>(context, '/v1/targets', [404]);
  if (answer.status === 200) {
    const views = only === undefined ? answer.body.targets : answer.body.targets.filter((t) => t.name === only);
    if (only !== undefined && views.length === 0) throw new CliError(`no target "${only}" (targets: ${answer.body.targets.map((t) => t.name).join(', ') || 'none'})`);
    return {
      server: answer.server,
      receivedAt: answer.receivedAt,
      targets: views.map((t) => ({
        name: t.name,
        active: t.active.active,
        epoch: t.active.epoch,
        ...(t.active.since !== undefined && { since: t.active.since }),
        ...(t.active.activationId !== undefined && { activationId: t.active.activationId }),
        mode: t.mode,
        ...(t.rtoMs !== undefined && { rtoMs: t.rtoMs }),
        quorum: t.quorum,
        votes: t.votes,
        ...(t.pending && { pending: t.pending }),
        ...(t.dataLoss && { dataLoss: { configured: true as const, error: 'not read' } }),
        monitors: [],
      })),
    };
  }
  // An activation service from before /v1/targets: the targets the monitors name, or the activations'.
  context.note(`${answer.server} has no /v1/targets (an older version): showing what /v1/active and /v1/activations tell`);
  let names = only !== undefined ? [only] : [...new Set(watchdogs.flatMap((w) => w.monitors.flatMap((m) => (m.activationTarget ? [m.activationTarget] : []))))];
  if (names.length === 0) {
    const list = await get<{ activations: Activation[] }>(context, '/v1/activations');
    names = [...new Set(list.body.activations.map((a) => a.target))];
  }
  const targets: TargetStatus[] = [];
  let server = answer.server;
  let receivedAt = answer.receivedAt;
  for (const name of names) {
    const side = await get<ActiveSide>(context, `/v1/active?target=${encodeURIComponent(name)}`);
    server = side.server;
    receivedAt = side.receivedAt;
    const list = await get<{ activations: Activation[] }>(context, `/v1/activations?target=${encodeURIComponent(name)}`);
    const pending = list.body.activations.filter((a) => !isFinal(a)).at(-1);
    targets.push({
      name,
      active: side.body.active,
      epoch: side.body.epoch,
      ...(side.body.since !== undefined && { since: side.body.since }),
      ...(side.body.activationId !== undefined && { activationId: side.body.activationId }),
      ...(pending?.mode !== undefined && { mode: pending.mode }),
      votes: [],
      ...(pending && { pending }),
      monitors: [],
    });
  }
  return { server, receivedAt, targets };
}

export async function collectStatus(context: Context, only: string | undefined): Promise<StatusReport> {
  const watchdogs = await watchdogMonitors(context);
  const { server, receivedAt, targets } = await readTargets(context, only, watchdogs);
  const now = context.now();
  const findings: Finding[] = [];
  const lines = watchdogs.flatMap((w) => w.monitors.map((m) => monitorLine(w.watchdog, m, now)));
  const shown = new Set(targets.map((t) => t.name));
  for (const target of targets) {
    target.monitors = lines.filter((l) => l.activationTarget === target.name);
    if (target.dataLoss) {
      try {
        const reading = await get<DataLossReading>(context, `/v1/targets/${encodeURIComponent(target.name)}/data-loss`);
        target.dataLoss = reading.body;
      } catch (err) {
        target.dataLoss = { configured: true, error: err instanceof Error ? err.message : String(err) };
      }
    }
  }
  const otherMonitors = only === undefined ? lines.filter((l) => l.activationTarget === undefined || !shown.has(l.activationTarget)) : [];

  for (const target of targets) {
    const t = target.name;
    if (target.active === 'secondary') findings.push({ level: 'degraded', target: t, text: `${t} runs on its secondary (epoch ${target.epoch}); fail back with \`vigil failback ${t} --reason …\` once the primary is healthy` });
    const pending = target.pending;
    if (pending?.status === 'awaiting-approval') {
      findings.push({ level: 'pending-approval', target: t, text: `${pending.kind ?? 'failover'} ${pending.id} of ${t} waits for an approval (${pending.approval?.reason ?? 'approval mode'}): \`vigil approve ${pending.id} --reason …\` or \`vigil cancel ${pending.id} --reason …\`` });
    } else if (pending) {
      findings.push({ level: 'degraded', target: t, text: `${pending.kind ?? 'failover'} ${pending.id} of ${t} is ${pending.status}` });
    }
    if (target.dataLoss && 'withinLimit' in target.dataLoss && target.dataLoss.withinLimit === false) {
      findings.push({ level: 'degraded', target: t, text: `${t}: replication lag ${duration(target.dataLoss.lagMs)} is over the data-loss limit ${duration(target.dataLoss.maxMs)}` });
    }
    if (target.monitors.length === 0 && watchdogs.some((w) => w.ok)) findings.push({ level: 'note', target: t, text: `no monitor of the watchdogs asked activates ${t}` });
  }
  for (const line of [...targets.flatMap((t) => t.monitors), ...otherMonitors]) {
    const who = `monitor ${line.name} on ${line.watchdog}`;
    if (line.state === 'down') findings.push({ level: 'degraded', ...(line.activationTarget && { target: line.activationTarget }), text: `${who} is down${line.incident ? ` (incident ${line.incident})` : ''}` });
    if (line.paused) findings.push({ level: 'degraded', ...(line.activationTarget && { target: line.activationTarget }), text: `${who} is paused${line.paused.until ? ` until ${line.paused.until}` : ''}${line.paused.reason ? ` (${line.paused.reason})` : ''}: no failover while paused` });
    if (line.stale) findings.push({ level: 'degraded', ...(line.activationTarget && { target: line.activationTarget }), text: `${who}: data is stale (last probe ${line.lastProbeAt === undefined ? 'never' : age(line.lastProbeAt, now)})` });
  }
  for (const w of watchdogs) if (!w.ok) findings.push({ level: 'degraded', text: `watchdog ${w.watchdog} did not answer: ${w.error ?? ''}` });

  const exitOf = { 'pending-approval': EXIT.pendingApproval, error: EXIT.error, degraded: EXIT.degraded, note: EXIT.ok } as const;
  const exitCode = worstExit(findings.map((f) => exitOf[f.level]));
  return {
    server,
    fetchedAt: new Date(receivedAt).toISOString(),
    targets,
    watchdogs: watchdogs.map((w) => ({ url: w.watchdog, ok: w.ok, ...(w.error !== undefined && { error: w.error }), ...(w.receivedAt !== undefined && { fetchedAt: new Date(w.receivedAt).toISOString() }) })),
    otherMonitors,
    findings,
    exitCode,
  };
}

function monitorText(context: Context, l: MonitorLine, now: number): string {
  const { paint } = context;
  const colour = l.state === 'up' ? 'green' : l.state === 'down' ? 'red' : l.state === 'maintenance' || l.paused ? 'blue' : 'yellow';
  let text = `${l.name} on ${l.watchdog}: ${paint(l.stale ? 'gray' : colour, l.stale ? `${l.state} (STALE)` : l.state)}, last probe ${l.lastProbeAt === undefined ? 'never' : age(l.lastProbeAt, now)}`;
  if (l.paused) text += `; ${paint('blue', 'paused')} since ${age(l.paused.since, now)}${l.paused.until ? `, until ${when(l.paused.until, now)}` : ''}${l.paused.operator ? ` by ${l.paused.operator}` : ''}${l.paused.reason ? ` — ${short(l.paused.reason)}` : ''}`;
  if (l.incident) text += `; incident ${l.incident}`;
  return text;
}

export function statusTable(context: Context, report: StatusReport): string {
  const { paint } = context;
  const now = context.now();
  const out: string[] = [];
  if (report.targets.length === 0) out.push('no targets configured');
  for (const t of report.targets) {
    const side = t.active === 'primary' ? paint('green', 'primary') : paint(['bold', 'red'], 'SECONDARY');
    out.push(`${paint('bold', `target ${t.name}`)}: active ${side}, epoch ${t.epoch}, since ${when(t.since, now)}`);
    const rows: [string, string][] = [];
    const quorum = t.quorum ? `, quorum ${t.quorum.votes} vote(s) within ${duration(t.quorum.windowMs)}` : '';
    rows.push(['mode', `${t.mode ?? '-'}${quorum}${t.rtoMs !== undefined ? `, rto ${duration(t.rtoMs)}` : ''}`]);
    if (t.quorum) rows.push(['votes', t.votes.length === 0 ? 'none now' : t.votes.map((v) => `${v.voter} (${age(v.at, now)}, incident ${v.incidentId})`).join(', ')]);
    if (t.pending) {
      const p = t.pending;
      const colour = p.status === 'awaiting-approval' ? 'yellow' : 'cyan';
      const votes = (p.votes ?? []).map((v) => `${v.voter} ${age(v.receivedAt, now)}`).join(', ');
      let text = `${p.kind ?? 'failover'} ${p.id} ${paint(colour, p.status)} since ${age(p.createdAt, now)}, epoch ${p.epoch}${votes ? `; votes: ${votes}` : ''}`;
      if (p.approval && !p.approval.decidedAt) text += `; needs approval: ${p.approval.reason}`;
      const step = p.steps.at(-1);
      if (step) text += `; step ${step.name} ${step.status}`;
      rows.push(['pending', text]);
    } else {
      rows.push(['pending', 'none']);
    }
    if (t.dataLoss === undefined) rows.push(['data loss', 'no guard configured']);
    else if ('error' in t.dataLoss) rows.push(['data loss', paint('yellow', `unread: ${t.dataLoss.error}`)]);
    else if (!t.dataLoss.configured) rows.push(['data loss', 'no guard configured']);
    else {
      const within = t.dataLoss.withinLimit;
      rows.push([
        'data loss',
        `lag ${duration(t.dataLoss.lagMs)} of max ${duration(t.dataLoss.maxMs)} ${within === true ? paint('green', 'within limit') : within === false ? paint('red', 'OVER LIMIT') : paint('yellow', 'unknown')}, checked ${age(t.dataLoss.checkedAt, now)}${t.dataLoss.output ? ` (${short(t.dataLoss.output)})` : ''}`,
      ]);
    }
    if (t.monitors.length === 0) rows.push(['monitors', 'none']);
    t.monitors.forEach((m, i) => rows.push([i === 0 ? 'monitors' : '', monitorText(context, m, now)]));
    for (const [key, value] of rows) out.push(`  ${key.padEnd(10)}  ${value}`);
    out.push('');
  }
  if (report.otherMonitors.length > 0) {
    out.push(paint('bold', 'other monitors'));
    for (const m of report.otherMonitors) out.push(`  ${monitorText(context, m, now)}`);
    out.push('');
  }
  const watchdogs = report.watchdogs.map((w) => (w.ok ? w.url : `${w.url} ${paint('red', 'unreachable')}`)).join(', ');
  out.push(paint('dim', `answered by ${report.server} at ${when(report.fetchedAt, now)}; watchdogs: ${watchdogs || 'none'}`));
  if (report.findings.length > 0) {
    out.push('');
    for (const f of report.findings) out.push(`${f.level === 'note' ? paint('dim', '-') : paint(f.level === 'pending-approval' ? 'yellow' : 'red', '!')} ${f.text}`);
  }
  return `${out.join('\n')}\n`;
}

export async function status(context: Context, target: string | undefined): Promise<ExitCode> {
  const report = await collectStatus(context, target);
  context.print(context.format === 'table' ? statusTable(context, report) : render(context.format, report));
  return report.exitCode;
}

/** One change seen by `status --watch`. */
export type WatchEvent =
  | { type: 'status'; status: StatusReport }
  | { type: 'active'; at: string; server: string; state: ActiveSide }
  | { type: 'activation'; at: string; server: string; activation: Activation };

function timeOf(now: number): string {
  return new Date(now).toISOString().slice(11, 23);
}

export function watchLine(context: Context, event: Exclude<WatchEvent, { type: 'status' }>, previous: ActiveSide | undefined): string {
  const { paint } = context;
  const at = timeOf(Date.parse(event.at));
  if (event.type === 'active') {
    const s = event.state;
    const side = s.active === 'primary' ? paint('green', 'primary') : paint(['bold', 'red'], 'SECONDARY');
    const was = previous ? ` (was ${previous.active}, epoch ${previous.epoch})` : '';
    return `${at}  ${s.target}: active ${side}, epoch ${s.epoch}${s.activationId ? `, activation ${s.activationId}` : ''}${was}\n`;
  }
  const a = event.activation;
  const step = a.steps.at(-1);
  const stepText = step ? `; step ${step.name} ${step.status}${step.endedAt ? ` in ${duration(Date.parse(step.endedAt) - Date.parse(step.startedAt))}` : ''}${step.output ? `: ${short(step.output)}` : ''}` : '';
  const colour = a.status === 'succeeded' ? 'green' : a.status === 'failed' || a.status === 'interrupted' ? 'red' : 'yellow';
  return `${at}  ${a.target}: ${a.kind ?? 'failover'} ${a.id} ${paint(colour, a.status)}${stepText}${a.reason ? ` (${short(a.reason)})` : ''}\n`;
}

/**
 * `status --watch`: the status once, then every change from the activation service's event
 * streams (the active side of each target and, when the service has it, every activation's
 * progress) until interrupted, or with `untilSwitch` until the active side of a target changes.
 */
export async function watch(context: Context, target: string | undefined, untilSwitch: boolean): Promise<ExitCode> {
  const report = await collectStatus(context, target);
  const emit = (event: WatchEvent, line?: string) => {
    if (context.format === 'table') context.print(line ?? '');
    else context.print(renderEvent(context.format, event));
  };
  emit({ type: 'status', status: report }, `${statusTable(context, report)}\nfollowing changes (Ctrl-C stops)…\n`);

  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const initial = new Map(report.targets.map((t) => [t.name, { active: t.active, epoch: t.epoch }]));
  const last = new Map<string, ActiveSide>();
  let switched = false;
  const streams: Promise<void>[] = [];
  const onStatus = (text: string) => context.note(text);
  for (const t of report.targets) {
    streams.push(
      follow({
        servers: context.connection.servers,
        path: `/v1/active/stream?target=${encodeURIComponent(t.name)}`,
        signal,
        onStatus,
        onEvent: (event, server) => {
          if (event.event !== 'active') return;
          const state = JSON.parse(event.data) as ActiveSide;
          const previous = last.get(state.target);
          last.set(state.target, state);
          const start = initial.get(state.target);
          // The first event repeats the state the status showed: not a change.
          if (previous === undefined && start && start.active === state.active && start.epoch === state.epoch) return;
          emit({ type: 'active', at: new Date(context.now()).toISOString(), server, state }, watchLine(context, { type: 'active', at: new Date(context.now()).toISOString(), server, state }, previous ?? (start && { target: state.target, ...start })));
          if (untilSwitch && start && state.active !== start.active) {
            switched = true;
            stop.abort();
          }
        },
      }),
    );
  }
  const seen = new Map<string, string>();
  streams.push(
    follow({
      servers: context.connection.servers,
      path: `/v1/activations/stream${target === undefined ? '' : `?target=${encodeURIComponent(target)}`}`,
      signal,
      onStatus,
      onEvent: (event, server) => {
        if (event.event !== 'activation') return;
        const activation = JSON.parse(event.data) as Activation;
        // The stream starts with the current activations: each is shown once per change.
        const key = JSON.stringify([activation.status, activation.steps.map((s) => [s.name, s.status]), activation.approval?.decidedAt]);
        if (seen.get(activation.id) === key) return;
        const known = seen.has(activation.id);
        seen.set(activation.id, key);
        if (!known && isFinal(activation) && !report.targets.some((t) => t.pending?.id === activation.id) && Date.parse(activation.finishedAt ?? activation.createdAt) < Date.parse(report.fetchedAt)) return;
        const at = new Date(context.now()).toISOString();
        emit({ type: 'activation', at, server, activation }, watchLine(context, { type: 'activation', at, server, activation }, undefined));
      },
    }).catch((err: unknown) => {
      if (err instanceof StreamRefused && err.status === 404) {
        context.note('this activation service has no /v1/activations/stream (an older version): following the active side only');
        return;
      }
      throw err;
    }),
  );
  await Promise.race([Promise.all(streams), new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
  stop.abort();
  await Promise.allSettled(streams);
  if (switched) context.note('the active side changed: stopping (--until-switch)');
  return EXIT.ok;
}
