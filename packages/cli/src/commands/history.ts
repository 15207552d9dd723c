import { parseDuration } from '@vigil/core/duration';
import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { callEach } from '../http.js';
import { between, duration, render, short, table, when } from '../output.js';
import type { Activation } from '../views.js';
import { get } from './common.js';

/** `--since 24h` (a duration back from now) or an ISO time; undefined for the whole history. */
export function sinceOf(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms !== undefined) return now - ms;
  const at = Date.parse(text);
  if (!Number.isNaN(at) && /^\d{4}-\d{2}-\d{2}/.test(text)) return at;
  throw new CliError(`--since: expected a duration such as "24h" or a time such as "2026-12-03T10:00:00Z", got "${text}"`, EXIT.usage);
}

export interface PauseRecord {
  watchdog: string;
  time: string;
  event: string;
  monitor: string;
  operator?: string;
  reason?: string;
  until?: string;
}

/** `vigil history`: the activations (newest last) and the watchdogs' pause records since a time. */
export async function history(context: Context, target: string | undefined, sinceText: string | undefined): Promise<ExitCode> {
  const now = context.now();
  const since = sinceOf(sinceText, now);
  const answer = await get<{ activations: Activation[] }>(context, `/v1/activations${target === undefined ? '' : `?target=${encodeURIComponent(target)}`}`);
  const activations = answer.body.activations.filter((a) => since === undefined || Date.parse(a.createdAt) >= since);
  const query = since === undefined ? '' : `?since=${encodeURIComponent(new Date(since).toISOString())}`;
  const audits = await callEach<{ records: Omit<PauseRecord, 'watchdog'>[] }>(context.connection.watchdogs, `/v1/audit${query}`, { timeoutMs: context.connection.timeoutMs, accept: [404] });
  const pauses: PauseRecord[] = [];
  for (const a of audits) {
    if (!a.ok) {
      context.note(`watchdog ${a.server}: no pause records (${a.error})`);
      continue;
    }
    if (a.status === 404) continue; // a watchdog from before the audit log
    for (const r of a.body.records) if (since === undefined || Date.parse(r.time) >= since) pauses.push({ watchdog: a.server, ...r });
  }
  pauses.sort((x, y) => Date.parse(x.time) - Date.parse(y.time));
  const data = { server: answer.server, since: since === undefined ? null : new Date(since).toISOString(), activations, pauses };
  if (context.format !== 'table') {
    context.print(render(context.format, data));
    return EXIT.ok;
  }
  const { paint } = context;
  const colour = (s: Activation['status']) => (s === 'succeeded' ? 'green' : s === 'failed' || s === 'interrupted' ? 'red' : s === 'cancelled' || s === 'notified' ? 'gray' : 'yellow');
  const rows = activations.map((a) => [
    a.id,
    a.target,
    a.kind ?? 'failover',
    paint(colour(a.status), a.status),
    String(a.epoch),
    when(a.createdAt, now),
    duration(between(a.createdAt, a.finishedAt)),
    a.approval?.decidedBy ?? a.voter,
    short(a.reason ?? a.approval?.reason, 50),
  ]);
  let out = activations.length === 0 ? `no activations${since === undefined ? '' : ` since ${when(new Date(since).toISOString(), now)}`}\n` : table(['ID', 'TARGET', 'KIND', 'STATUS', 'EPOCH', 'CREATED', 'TOOK', 'BY', 'REASON'], rows, paint);
  if (pauses.length > 0) {
    out += `\n${table(
      ['TIME', 'MONITOR', 'EVENT', 'BY', 'UNTIL', 'REASON', 'WATCHDOG'],
      pauses.map((p) => [when(p.time, now), p.monitor, p.event, p.operator ?? '-', p.until ?? '-', short(p.reason, 40), p.watchdog]),
      paint,
    )}`;
  }
  context.print(out);
  return EXIT.ok;
}
