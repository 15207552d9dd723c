import { createParser } from 'eventsource-parser';
import type { Dispatcher } from 'undici';
import type { ControlPlaneErrorEvent, StateSource } from './events.js';
import type { ResolvedOptions } from './options.js';
import { parseActiveState, stateId, type ActiveState } from './state.js';

/** What the control plane reports to the client that owns it. */
export interface ControlPlaneSink {
  /** A state read from the activation service (any age: the sink orders it). */
  accept(target: string, state: ActiveState, source: StateSource): void;
  /** The stream is alive and the state held is still current (a heartbeat or a resume). */
  confirmed(target: string): void;
  error(event: ControlPlaneErrorEvent): void;
  held(target: string): ActiveState | undefined;
}

/** Counters of what the client asked the activation service, for tests and dashboards. */
export interface ControlPlaneStats {
  polls: number;
  rechecks: number;
  streamConnects: number;
  /** Every request to an activation-service URL that failed (a poll tries the next URL after one). */
  failures: number;
}

/** An answer larger than this is not a state: refused rather than buffered. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The activation-service URLs in the order to try them: the one that answered last first, so a
 * healthy replica keeps the traffic and a dead one is skipped after one failure.
 */
export class Endpoints {
  private preferred = 0;

  constructor(readonly urls: readonly string[]) {}

  order(): string[] {
    return this.urls.map((_, i) => this.urls[(this.preferred + i) % this.urls.length]!);
  }

  first(): string {
    return this.urls[this.preferred]!;
  }

  answered(url: string): void {
    const i = this.urls.indexOf(url);
    if (i >= 0) this.preferred = i;
  }

  failed(url: string): void {
    if (this.urls[this.preferred] === url) this.preferred = (this.preferred + 1) % this.urls.length;
  }
}

/** Reconnect delay after `failures` failed attempts in a row: doubling, capped, drawn from [½, 1] of it. */
export function backoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30));
  return ceiling * (0.5 + 0.5 * random());
}

function describe(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new Error(`answer larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Follows each target's state at the activation service: the event stream (resumed with
 * `Last-Event-ID`, jittered reconnect, rotating through the URLs), a slow jittered poll because a
 * push can be lost, and on-demand re-checks (at most one per target in flight or per
 * `recheckIntervalMs`).
 */
export class ControlPlane {
  readonly stats: ControlPlaneStats = { polls: 0, rechecks: 0, streamConnects: 0, failures: 0 };
  private readonly endpoints: Endpoints;
  private readonly inFlight = new Set<AbortController>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rechecks = new Map<string, { running?: Promise<void>; startedAt: number }>();
  private closed = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly dispatcher: Dispatcher,
    private readonly sink: ControlPlaneSink,
  ) {
    this.endpoints = new Endpoints(options.activation);
  }

  /** Starts every target's stream and poll; the first poll runs at once. */
  start(): void {
    for (const target of this.options.targets.keys()) {
      if (this.options.stream) void this.streamLoop(target);
      void this.poll(target);
    }
  }

  /**
   * Asks for `target`'s state now, on behalf of a request that failed. Joins a re-check in
   * flight; within `recheckIntervalMs` of the last one, asks nothing (the state held is as good).
   */
  recheck(target: string): Promise<void> {
    const entry = this.rechecks.get(target);
    if (entry?.running) return entry.running;
    const now = performance.now();
    if (entry && now - entry.startedAt < this.options.recheckIntervalMs) return Promise.resolve();
    this.stats.rechecks++;
    const running = this.check(target, 'recheck').then(() => {
      this.rechecks.set(target, { startedAt: now });
    });
    this.rechecks.set(target, { running, startedAt: now });
    return running;
  }

  /** One read of `target`'s state, trying each URL in turn; false when none answered. */
  async check(target: string, source: StateSource): Promise<boolean> {
    for (const url of this.endpoints.order()) {
      if (this.closed) return false;
      try {
        const state = await this.readState(url, target);
        this.endpoints.answered(url);
        this.sink.accept(target, state, source);
        return true;
      } catch (error) {
        if (this.closed) return false;
        this.stats.failures++;
        this.endpoints.failed(url);
        this.sink.error({ target, url, operation: source, error: describe(error) });
      }
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort(new Error('client closed'));
    await Promise.all([...this.rechecks.values()].map((r) => r.running ?? Promise.resolve()));
  }

  private async poll(target: string): Promise<void> {
    if (this.closed) return;
    this.stats.polls++;
    await this.check(target, 'poll');
    if (this.closed) return;
    const delay = this.options.pollIntervalMs * (0.8 + 0.4 * Math.random());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.poll(target);
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.timers.add(timer);
    });
  }

  /** A request with a deadline that `close()` also ends. */
  private controller(timeoutMs?: number): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        this.inFlight.delete(controller);
      },
    };
  }

  private async readState(base: string, target: string): Promise<ActiveState> {
    const url = new URL(`${base}/v1/active`);
    url.searchParams.set('target', target);
    const { signal, done } = this.controller(this.options.requestTimeoutMs);
    try {
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'application/json', ...this.options.headers },
        signal,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
      });
      const text = await readBounded(res.body);
      if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${text.slice(0, 300)}`);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new Error(`answered 200 with a body that is not JSON: ${text.slice(0, 100)}`);
      }
      try {
        return parseActiveState(json, target);
      } catch (error) {
        throw new Error(`answered 200 with something that is not the state of "${target}": ${describe(error).message}`, { cause: error });
      }
    } finally {
      done();
    }
  }

  private async streamLoop(target: string): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const url = this.endpoints.first();
      const session = { connected: false };
      try {
        await this.streamOnce(url, target, session);
      } catch (error) {
        if (this.closed) return;
        this.stats.failures++;
        this.sink.error({ target, url, operation: 'stream', error: describe(error) });
      }
      if (this.closed) return;
      if (session.connected) {
        failures = 0;
      } else {
        failures++;
        this.endpoints.failed(url);
      }
      await this.sleep(backoffMs(failures, this.options.reconnectMinMs, this.options.reconnectMaxMs));
    }
  }

  /** One stream connection, until it ends or fails; `session.connected` once the server said 200. */
  private async streamOnce(base: string, target: string, session: { connected: boolean }): Promise<void> {
    const url = new URL(`${base}/v1/active/stream`);
    url.searchParams.set('target', target);
    const held = this.sink.held(target);
    const { signal, done } = this.controller();
    try {
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'text/event-stream', ...(held && { 'last-event-id': stateId(held) }), ...this.options.headers },
        signal,
        headersTimeout: this.options.requestTimeoutMs,
        // The server sends a comment every 15 s: a longer silence is a dead connection.
        bodyTimeout: this.options.streamIdleTimeoutMs,
      });
      if (res.statusCode !== 200) {
        const text = await readBounded(res.body).catch(() => '');
        throw new Error(`stream answered ${res.statusCode}: ${text.slice(0, 300)}`);
      }
      session.connected = true;
      this.stats.streamConnects++;
      this.endpoints.answered(base);
      let problem: Error | undefined;
      const parser = createParser({
        onEvent: (event) => {
          if (event.event !== 'active') return;
          try {
            this.sink.accept(target, parseActiveState(JSON.parse(event.data), target), 'stream');
          } catch (error) {
            problem = new Error(`stream sent an event that is not the state of "${target}": ${describe(error).message}`);
          }
        },
        onComment: () => this.sink.confirmed(target),
        onError: (error) => {
          problem = error;
        },
        maxBufferSize: MAX_BODY_BYTES,
      });
      res.body.setEncoding('utf8');
      for await (const chunk of res.body as AsyncIterable<string>) {
        parser.feed(chunk);
        if (problem) {
          res.body.destroy();
          throw problem;
        }
      }
    } finally {
      done();
    }
  }
}
