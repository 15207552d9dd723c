import type { Context } from '../context.js';
import { EXIT, worstExit, type ExitCode } from '../exit.js';
import { age, duration, render, short, table } from '../output.js';
import type { MonitorView } from '../views.js';
import { intervalOf, staleness, watchdogMonitors } from './common.js';

export interface MonitorsReport {
  watchdogs: { url: string; ok: boolean; error?: string; fetchedAt?: string; monitors: (MonitorView & { ageMs?: number; stale: boolean })[] }[];
  exitCode: ExitCode;
}

/** `vigil monitors`: every watchdog's monitors, with the age of their data. */
export async function monitors(context: Context): Promise<ExitCode> {
  const all = await watchdogMonitors(context);
  const now = context.now();
  const report: MonitorsReport = {
    watchdogs: all.map((w) => ({
      url: w.watchdog,
      ok: w.ok,
      ...(w.error !== undefined && { error: w.error }),
      ...(w.receivedAt !== undefined && { fetchedAt: new Date(w.receivedAt).toISOString() }),
      monitors: w.monitors.map((m) => ({ ...m, ...staleness(m, now) })),
    })),
    exitCode: EXIT.ok,
  };
  const codes: ExitCode[] = [];
  if (all.every((w) => !w.ok)) codes.push(EXIT.error);
  else if (all.some((w) => !w.ok)) codes.push(EXIT.degraded);
  for (const w of report.watchdogs) for (const m of w.monitors) if (m.state === 'down' || m.stale || m.paused) codes.push(EXIT.degraded);
  report.exitCode = worstExit(codes);
  for (const w of all) if (!w.ok) context.note(`watchdog ${w.watchdog} did not answer: ${w.error ?? ''}`);

  if (context.format !== 'table') {
    context.print(render(context.format, report));
    return report.exitCode;
  }
  const { paint } = context;
  const rows = report.watchdogs.flatMap((w) =>
    w.monitors.map((m) => {
      const colour = m.state === 'up' ? 'green' : m.state === 'down' ? 'red' : m.state === 'maintenance' ? 'blue' : 'yellow';
      const state = m.stale ? paint('gray', `${m.state} (stale)`) : paint(colour, m.state);
      const paused = m.paused ? `paused${m.paused.until ? ` until ${m.paused.until.slice(11, 19)}Z` : ''}${m.paused.operator ? ` by ${m.paused.operator}` : ''}${m.paused.reason ? `: ${short(m.paused.reason, 30)}` : ''}` : m.inMaintenance ? 'maintenance' : '-';
      return [
        m.name,
        state,
        w.url,
        m.activationTarget ?? '-',
        duration(intervalOf(m)),
        m.lastResult ? `${m.lastResult.status} ${duration(m.lastResult.durationMs)}` : '-',
        age(m.lastProbeAt ?? m.lastResult?.time, now),
        paused,
        m.incident?.id ?? '-',
      ];
    }),
  );
  context.print(rows.length === 0 ? 'no monitors\n' : table(['MONITOR', 'STATE', 'WATCHDOG', 'TARGET', 'INTERVAL', 'LAST RESULT', 'LAST PROBE', 'PAUSE', 'INCIDENT'], rows, paint));
  return report.exitCode;
}
