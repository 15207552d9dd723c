import type { ServerResponse } from 'node:http';
import { HEALTH_CONTENT_TYPE, httpStatusFor } from '@vigil/core';
import type { DetailLevel, HealthCheckConfig } from './config.js';
import { healthResponse, singleFlight, type Evaluation } from './health.js';

/** A serialised answer: the body, and its length for the content-length header. */
export interface Body {
  text: string;
  length: string;
}

/**
 * One evaluation as served: its bodies are serialised once per detail level, on first use, so a
 * cached answer costs a request no serialisation at all.
 */
export class Snapshot {
  readonly httpStatus: 200 | 503;
  private readonly bodies: Partial<Record<DetailLevel, Body>> = {};

  constructor(
    readonly evaluation: Evaluation,
    private readonly config: Pick<HealthCheckConfig, 'serviceId' | 'version'>,
  ) {
    this.httpStatus = httpStatusFor(evaluation.status);
  }

  body(level: DetailLevel): Body {
    let body = this.bodies[level];
    if (!body) {
      const { evaluation } = this;
      const text = JSON.stringify(level === 'full' ? evaluation.response : healthResponse(this.config, evaluation.status, evaluation.outcomes, level));
      body = this.bodies[level] = { text, length: String(Buffer.byteLength(text)) };
    }
    return body;
  }

  /** Whole seconds since the evaluation finished, as the HTTP Age header counts them. */
  ageSeconds(now = Date.now()): number {
    return Math.max(0, Math.floor((now - this.evaluation.at) / 1000));
  }
}

/**
 * Writes a snapshot as the answer to one request, straight to the socket: status line, headers
 * and body leave in one write. `closing` adds `connection: close` while the service stops.
 */
export function writeSnapshot(res: ServerResponse, snapshot: Snapshot, level: DetailLevel, closing: boolean): void {
  const body = snapshot.body(level);
  const headers = [
    'content-type',
    HEALTH_CONTENT_TYPE,
    'cache-control',
    'no-store',
    'age',
    String(snapshot.ageSeconds()),
    'content-length',
    body.length,
  ];
  if (closing) headers.push('connection', 'close');
  res.writeHead(snapshot.httpStatus, headers);
  res.end(body.text);
}

export interface HealthSourceOptions {
  /** Runs one evaluation; never rejects in practice (checks never throw), but a rejection is not kept. */
  evaluate: () => Promise<Evaluation>;
  config: Pick<HealthCheckConfig, 'serviceId' | 'version' | 'deadline' | 'cache' | 'background'>;
  /** Called when a background evaluation fails unexpectedly. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Where /health gets its answer: the last evaluation while it is fresh (within the cache TTL, or,
 * in background mode, until the next background run is overdue), else one shared new evaluation.
 */
export interface HealthSource {
  /** The last snapshot if it may still be served, without waiting. */
  fresh(): Snapshot | undefined;
  /** A new evaluation, shared with every caller waiting for one. */
  next(): Promise<Snapshot>;
  /** Starts background evaluation, when configured. */
  start(): void;
  stop(): void;
}

export function createHealthSource(options: HealthSourceOptions): HealthSource {
  const { config } = options;
  const now = options.now ?? (() => Date.now());
  let last: Snapshot | undefined;
  const next = singleFlight(async () => {
    const snapshot = new Snapshot(await options.evaluate(), config);
    last = snapshot;
    return snapshot;
  });
  const interval = config.background?.interval;
  // In background mode a result is served until the next run is clearly overdue (a stalled
  // loop): then callers evaluate for themselves rather than trust an old answer.
  const maxAge = interval === undefined ? config.cache.ttl : 2 * interval + config.deadline;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  const tick = async () => {
    const started = now();
    try {
      await next();
    } catch (err) {
      options.onError?.(err);
    }
    if (running) timer = setTimeout(() => void tick(), Math.max(0, interval! - (now() - started)));
  };

  return {
    fresh() {
      return last !== undefined && now() - last.evaluation.at < maxAge ? last : undefined;
    },
    next,
    start() {
      if (interval === undefined || running) return;
      running = true;
      void tick();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
