import type { Context } from '../context.js';
import { EXIT, type ExitCode } from '../exit.js';
import { call, callEach, type Answer, type EachResult } from '../http.js';
import type { Activation, MonitorView } from '../views.js';

/** Statuses after which an activation changes no more. */
export const FINAL: ReadonlySet<Activation['status']> = new Set(['succeeded', 'failed', 'interrupted', 'cancelled', 'notified']);

export function isFinal(activation: Pick<Activation, 'status'>): boolean {
  return FINAL.has(activation.status);
}

/** The exit code an activation's status means for a command that waited on it or acted on it. */
export function exitForStatus(status: Activation['status']): ExitCode {
  switch (status) {
    case 'succeeded':
    case 'notified':
      return EXIT.ok;
    case 'awaiting-approval':
      return EXIT.pendingApproval;
    case 'running':
    case 'holding-off':
      return EXIT.stillRunning;
    case 'failed':
    case 'interrupted':
    case 'cancelled':
      return EXIT.error;
  }
}

export async function get<T>(context: Context, path: string, accept?: readonly number[]): Promise<Answer<T>> {
  return call<T>(context.connection.servers, path, { timeoutMs: context.connection.timeoutMs, ...(accept && { accept }) });
}

export interface WatchdogMonitors {
  watchdog: string;
  ok: boolean;
  error?: string;
  receivedAt?: number;
  monitors: MonitorView[];
}

/** Every watchdog's monitors (each watchdog is a voter of its own); one that does not answer is reported, not fatal. */
export async function watchdogMonitors(context: Context): Promise<WatchdogMonitors[]> {
  const results: EachResult<{ monitors: MonitorView[] }>[] = await callEach(context.connection.watchdogs, '/v1/monitors', { timeoutMs: context.connection.timeoutMs });
  return results.map((r) =>
    r.ok ? { watchdog: r.server, ok: true, receivedAt: r.receivedAt, monitors: r.body.monitors } : { watchdog: r.server, ok: false, error: r.error, monitors: [] },
  );
}

/** "every 2s" → 2000; a cron schedule → undefined. */
export function intervalOf(monitor: Pick<MonitorView, 'schedule' | 'intervalMs'>): number | undefined {
  if (monitor.intervalMs !== undefined) return monitor.intervalMs;
  const match = /^every (\S+)$/.exec(monitor.schedule);
  if (!match) return undefined;
  return parseShortDuration(match[1]!);
}

function parseShortDuration(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** The time of a monitor's last probe: `lastProbeAt`, else its last result's time. */
export function lastProbeOf(monitor: MonitorView): string | undefined {
  return monitor.lastProbeAt ?? monitor.lastResult?.time;
}

/** A monitor's data is stale once no probe was seen for 3 intervals (the console greys it out). */
export function staleness(monitor: MonitorView, now: number): { ageMs?: number; stale: boolean } {
  const last = lastProbeOf(monitor);
  const interval = intervalOf(monitor);
  if (last === undefined) return { stale: monitor.state !== 'maintenance' && !monitor.paused };
  const ageMs = now - Date.parse(last);
  // A paused monitor does not probe: its old result is not a fault.
  if (monitor.paused || monitor.inMaintenance) return { ageMs, stale: false };
  return { ageMs, stale: interval !== undefined && ageMs > 3 * interval + 1_000 };
}
