import Type, { type Static } from 'typebox';
import { request } from 'undici';
import { redactUrl } from '@vigil/core';

/** One watchdog's monitors as `GET /console/monitors` reports them. */
export const WatchdogMonitors = Type.Object({
  url: Type.String(),
  ok: Type.Boolean(),
  /** Why this watchdog could not be read (ok: false). */
  error: Type.Optional(Type.String()),
  fetchedAt: Type.String(),
  /** The watchdog's `GET /v1/monitors?history=24h` items (`MonitorView`), as it sent them; empty when not ok. */
  monitors: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});
export type WatchdogMonitors = Static<typeof WatchdogMonitors>;
export const ConsoleMonitors = Type.Object({ watchdogs: Type.Array(WatchdogMonitors) });
export type ConsoleMonitors = Static<typeof ConsoleMonitors>;

export interface MonitorsFetcherOptions {
  watchdogs: readonly string[];
  token?: string | undefined;
  now: () => number;
  /** Per watchdog. */
  timeoutMs?: number;
  /** How long an answer is reused. */
  cacheMs?: number;
}

/** Largest answer read from one watchdog (96 history buckets per monitor stay far below). */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * Gathers every configured watchdog's monitors, server-side (the console page may only connect
 * to this service): in parallel, each bounded by the timeout; one failing watchdog is reported
 * with its error and never fails the others. Answers are reused for `cacheMs`, and concurrent
 * callers share one round of requests.
 */
export class MonitorsFetcher {
  private cached: { at: number; value: Promise<ConsoleMonitors> } | undefined;

  constructor(private readonly options: MonitorsFetcherOptions) {}

  get(): Promise<ConsoleMonitors> {
    const now = this.options.now();
    const cacheMs = this.options.cacheMs ?? 2_000;
    if (this.cached && now - this.cached.at < cacheMs && now >= this.cached.at) return this.cached.value;
    const value = Promise.all(this.options.watchdogs.map((url) => this.fetchOne(url))).then((watchdogs) => ({ watchdogs }));
    this.cached = { at: now, value };
    return value;
  }

  private async fetchOne(base: string): Promise<WatchdogMonitors> {
    const url = `${base.replace(/\/+$/, '')}/v1/monitors?history=24h`;
    // As configured (credentials in it hidden), so the console can name it as the operator wrote it.
    const shown = base.includes('@') ? redactUrl(base) : base;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const failed = (error: string): WatchdogMonitors => ({ url: shown, ok: false, error, fetchedAt: new Date(this.options.now()).toISOString(), monitors: [] });
    try {
      const response = await request(url, { method: 'GET', headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000) });
      const text = await readLimited(response.body, MAX_BYTES);
      if (response.statusCode !== 200) return failed(`GET ${redactUrl(url)} answered ${response.statusCode}`);
      if (text === undefined) return failed(`GET ${redactUrl(url)}: answer larger than ${MAX_BYTES} bytes`);
      const body = JSON.parse(text) as { monitors?: unknown } | null;
      const monitors = body?.monitors;
      if (!Array.isArray(monitors) || !monitors.every((m) => m !== null && typeof m === 'object' && !Array.isArray(m))) {
        return failed(`GET ${redactUrl(url)}: no "monitors" list in the answer`);
      }
      return { url: shown, ok: true, fetchedAt: new Date(this.options.now()).toISOString(), monitors: monitors as Record<string, unknown>[] };
    } catch (err) {
      const reason =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? `timed out after ${this.options.timeoutMs ?? 2_000}ms`
          : err instanceof SyntaxError
            ? 'the answer is not JSON'
            : err instanceof Error
              ? ((err as NodeJS.ErrnoException).code ?? err.message)
              : String(err);
      return failed(`GET ${redactUrl(url)} failed: ${reason}`);
    }
  }
}

/** The body as text, or undefined (and the rest discarded) once it is longer than `limit` bytes. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy?: () => void }, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) return undefined; // leaving the loop destroys the rest of the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
