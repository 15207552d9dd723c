import { request } from 'undici';
import { checks, runCheck } from '@vigil/checks';
import { redactUrl } from '@vigil/core';
import type { TargetConfig } from './config.js';
import { dataAtRisk } from './decide.js';

type LagSource = NonNullable<TargetConfig['dataLoss']>;
export interface Lag {
  /** Undefined when the lag could not be measured. */
  lagMs?: number;
  /** What was measured, or why nothing could be; never a password. */
  output: string;
}

/** The data-loss guard's reading: the lag against the allowed maximum, and whether failing over now keeps within it. */
export interface DataLossReading {
  /** Undefined when the lag could not be measured (which counts as over the limit). */
  lagMs?: number;
  maxMs: number;
  withinLimit: boolean;
  /** What was measured, or why nothing could be; never a password. */
  output: string;
}

/**
 * Runs the guard's read-only measurement and judges it as the driver does (an unknown lag is
 * too much): used by the driver before a failover, by drills and by `GET /v1/targets/:name/data-loss`.
 */
export async function readDataLoss(source: LagSource, stop: AbortSignal): Promise<DataLossReading> {
  const measured = await measureLag(source, stop);
  const lag = { ...(measured.lagMs !== undefined && { lagMs: measured.lagMs }), maxMs: source.maxDataLoss };
  return { ...lag, withinLimit: !dataAtRisk(lag), output: measured.output };
}

/** The data-loss guard's measurement. Never throws: a failure is an unknown lag, which the decision treats as too much. */
export function measureLag(source: LagSource, stop: AbortSignal): Promise<Lag> {
  return source.kind === 'postgres' ? postgresLag(source, stop) : httpLag(source, stop);
}

async function postgresLag(source: Extract<LagSource, { kind: 'postgres' }>, stop: AbortSignal): Promise<Lag> {
  const result = await runCheck(checks.postgres, { kind: 'postgres', url: source.url, replicationLag: true, timeout: source.timeout }, source.timeout, stop);
  const output = `postgres ${redactUrl(source.url)}: ${result.output ?? result.status}`;
  if (result.status === 'fail' || typeof result.observedValue !== 'number') return { output };
  return { lagMs: Math.round(result.observedValue * 1000), output };
}

/** Largest answer read from a replication-lag endpoint. */
const MAX_BYTES = 64 * 1024;

/** GET the endpoint and read the lag in seconds from a number field of its JSON answer. */
async function httpLag(guard: Extract<LagSource, { kind: 'http' }>, stop: AbortSignal): Promise<Lag> {
  const where = `GET ${redactUrl(guard.url)}`;
  try {
    const response = await request(guard.url, {
      method: 'GET',
      headers: { accept: 'application/json', ...guard.headers },
      signal: AbortSignal.any([stop, AbortSignal.timeout(guard.timeout)]),
      reset: true,
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode > 299) return { output: `${where} answered ${response.statusCode}` };
    if (text.length > MAX_BYTES) return { output: `${where}: answer larger than ${MAX_BYTES} bytes` };
    const value = (JSON.parse(text) as Record<string, unknown> | null)?.[guard.field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return { output: `${where}: no non-negative number "${guard.field}" in the answer` };
    return { lagMs: Math.round(value * 1000), output: `${where}: ${guard.field} ${value}` };
  } catch (err) {
    return { output: `${where} failed: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)}` };
  }
}
