import type { Context } from '../context.js';
import { EXIT, type ExitCode } from '../exit.js';
import { between, duration, render, short } from '../output.js';
import type { Activation, AuditRecord, StepRecordView } from '../views.js';
import { get, isFinal, watchdogMonitors } from './common.js';

/** One entry of an activation's timeline. */
export interface TimelineEntry {
  time: string;
  /** evidence, vote, decision, approval, step, outcome, page */
  phase: 'evidence' | 'vote' | 'decision' | 'approval' | 'step' | 'outcome' | 'page';
  text: string;
  durationMs?: number;
  output?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * The story of one activation, in order: what the watchdogs saw (their incident and the probes
 * their votes carried), the votes, the decision (created, hold-off probe, data-loss guard,
 * approval asked), approvals, each step with its duration and output, and the outcome.
 */
export function timeline(activation: Activation, audit: readonly AuditRecord[], evidence: readonly EvidenceLine[] = []): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const e of evidence) {
    const failures = e.consecutiveFailures !== undefined ? `, ${e.consecutiveFailures} consecutive failure(s)` : '';
    entries.push({ time: e.incidentStartedAt ?? activation.createdAt, phase: 'evidence', text: `watchdog ${e.watchdog}: monitor ${e.monitor} failing since ${e.incidentStartedAt ?? '?'} (incident ${e.incidentId}${failures})` });
    for (const r of e.results) {
      entries.push({ time: r.time, phase: 'evidence', text: `probe by ${e.watchdog}: ${r.status} in ${duration(r.durationMs)}`, ...(r.output !== undefined && { output: r.output }) });
    }
  }
  for (const v of activation.votes ?? []) entries.push({ time: v.receivedAt, phase: 'vote', text: `vote from ${v.voter} (incident ${v.incidentId})` });
  for (const r of audit) {
    const time = r.time;
    switch (r.event) {
      case 'activation-created':
        entries.push({ time, phase: 'decision', text: `${activation.kind ?? 'failover'} decided: epoch ${r.epoch ?? activation.epoch}, mode ${activation.mode ?? 'auto'}, the request of ${str(r.voter) ?? activation.voter} completed the quorum` });
        break;
      case 'failback-created':
        entries.push({ time, phase: 'decision', text: `failback asked by ${str(r.operator) ?? '?'}${str(r.comment) ? `: ${str(r.comment)}` : ''}` });
        break;
      case 'primary-probed':
        entries.push({ time, phase: 'decision', text: `direct probe of the primary${str(r.probe) ? ` (${str(r.probe)})` : ''}: ${str(r.status)}${num(r.attempts) !== undefined ? ` after ${num(r.attempts)} attempt(s)` : ''}`, ...(str(r.output) !== undefined && { output: str(r.output) }) });
        break;
      case 'data-loss-checked':
        entries.push({ time, phase: 'decision', text: `data-loss guard: lag ${duration(num(r.lagMs))} of max ${duration(num(r.maxMs))}`, ...(str(r.output) !== undefined && { output: str(r.output) }) });
        break;
      case 'approval-requested':
        entries.push({ time, phase: 'decision', text: `waits for an operator's approval: ${str(r.reason) ?? ''}` });
        break;
      case 'approved':
      case 'cancelled':
        entries.push({ time, phase: 'approval', text: `${r.event} by ${str(r.operator) ?? '?'}${str(r.comment) ?? str(r.reason) ? `: ${str(r.comment) ?? str(r.reason)}` : ''}` });
        break;
      case 'plan-resumed':
        entries.push({ time, phase: 'step', text: `plan resumed from step ${str(r.fromStep) ?? '?'} (after a restart)` });
        break;
      case 'step-started': {
        const step = r.step as StepRecordView | undefined;
        entries.push({ time, phase: 'step', text: `step ${step?.name ?? '?'} (${step?.kind ?? '?'}) started` });
        break;
      }
      case 'step-finished': {
        const step = r.step as StepRecordView | undefined;
        const took = between(step?.startedAt, step?.endedAt);
        entries.push({
          time,
          phase: 'step',
          text: `step ${step?.name ?? '?'} ${step?.status ?? '?'} in ${duration(took)} after ${step?.attempts ?? '?'} attempt(s)${step?.responseStatus !== undefined ? `, HTTP ${step.responseStatus}` : ''}${step?.continued ? ' (the plan went on)' : ''}`,
          ...(took !== undefined && { durationMs: took }),
          ...(step?.output !== undefined && { output: step.output }),
        });
        break;
      }
      case 'page':
        entries.push({ time, phase: 'page', text: `paged: ${str(r.summary) ?? ''}${r.delivered === false ? ' (not delivered)' : ''}` });
        break;
      case 'activation-finished':
        entries.push({ time, phase: 'outcome', text: `${str(r.status) ?? activation.status}${str(r.reason) ? `: ${str(r.reason)}` : ''} after ${duration(between(activation.createdAt, time))}` });
        break;
      case 'break-glass':
        entries.push({ time, phase: 'decision', text: `break-glass by ${str(r.operator) ?? '?'} on ${str(r.host) ?? '?'}: ${str(r.reason) ?? ''}` });
        break;
      default:
        entries.push({ time, phase: 'decision', text: r.event });
    }
  }
  if (!isFinal(activation)) entries.push({ time: new Date().toISOString(), phase: 'outcome', text: `still ${activation.status} (not final)` });
  // Stable: records with one time keep their order.
  return entries.map((e, i) => ({ e, i })).sort((a, b) => Date.parse(a.e.time) - Date.parse(b.e.time) || a.i - b.i).map(({ e }) => e);
}

export interface EvidenceLine {
  watchdog: string;
  monitor: string;
  incidentId: string;
  incidentStartedAt?: string;
  consecutiveFailures?: number;
  /** The probe results the vote carried (newest last), or the watchdog's latest one when the vote kept none. */
  results: { status: string; durationMs: number; output?: string; time: string }[];
}

/** What the votes of an activation carry (recorded by the activation service with each vote). */
export function voteEvidence(activation: Activation): EvidenceLine[] {
  return (activation.votes ?? [])
    .filter((v) => v.evidence !== undefined)
    .map((v) => ({
      watchdog: v.voter,
      monitor: v.monitor ?? '?',
      incidentId: v.incidentId,
      ...(v.incidentStartedAt !== undefined && { incidentStartedAt: v.incidentStartedAt }),
      ...(v.consecutiveFailures !== undefined && { consecutiveFailures: v.consecutiveFailures }),
      results: v.evidence ?? [],
    }));
}

/** `vigil show <activation>`. */
export async function show(context: Context, id: string): Promise<ExitCode> {
  const answer = await get<Activation>(context, `/v1/activations/${encodeURIComponent(id)}`);
  const activation = answer.body;
  const audit = (await get<{ records: AuditRecord[] }>(context, `/v1/activations/${encodeURIComponent(id)}/audit`)).body.records;
  // The votes keep the probes their watchdogs sent. Votes recorded before the service kept them
  // carry none: for those, each watchdog's latest probe while it still shows the incident.
  const evidence = voteEvidence(activation);
  const without = new Set((activation.votes ?? []).filter((v) => v.evidence === undefined).map((v) => v.incidentId));
  if (activation.kind !== 'failback' && without.size > 0) {
    for (const w of await watchdogMonitors(context)) {
      for (const m of w.monitors) {
        if (m.incident && without.has(m.incident.id)) {
          evidence.push({ watchdog: w.watchdog, monitor: m.name, incidentId: m.incident.id, incidentStartedAt: m.incident.startedAt, results: m.lastResult ? [m.lastResult] : [] });
        }
      }
    }
  }
  const entries = timeline(activation, audit, evidence);
  const code = activation.status === 'awaiting-approval' ? EXIT.pendingApproval : EXIT.ok;
  if (context.format !== 'table') {
    context.print(render(context.format, { server: answer.server, activation, timeline: entries, audit, evidence }));
    return code;
  }
  const { paint } = context;
  const colour = activation.status === 'succeeded' ? 'green' : activation.status === 'failed' || activation.status === 'interrupted' ? 'red' : 'yellow';
  const out: string[] = [
    `${paint('bold', `${activation.kind ?? 'failover'} ${activation.id}`)} of ${activation.target}: ${paint(colour, activation.status)}, epoch ${activation.epoch}, mode ${activation.mode ?? 'auto'}`,
    `  created ${activation.createdAt}${activation.finishedAt ? `, finished ${activation.finishedAt} (took ${duration(between(activation.createdAt, activation.finishedAt))})` : ''}${activation.reason ? `; ${activation.reason}` : ''}`,
    '',
  ];
  const start = Date.parse(activation.createdAt);
  for (const e of entries) {
    const offset = Date.parse(e.time) - start;
    const rel = Number.isNaN(offset) ? '' : `${offset >= 0 ? '+' : '-'}${duration(Math.abs(offset))}`;
    out.push(`${e.time.slice(11, 23)} ${paint('dim', rel.padStart(8))}  ${paint('cyan', e.phase.padEnd(8))}  ${e.text}`);
    if (e.output !== undefined) out.push(`${' '.repeat(32)}${paint('dim', short(e.output, 200))}`);
  }
  if (activation.status === 'awaiting-approval') out.push('', `approve: vigil approve ${activation.id} --reason …   cancel: vigil cancel ${activation.id} --reason …`);
  context.print(`${out.join('\n')}\n`);
  return code;
}
