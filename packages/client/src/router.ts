import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { isFixedBody, isIterableBody, ReplayableBody } from './body.js';
import { VigilRouteError, VigilSwitchedError } from './errors.js';
import type { SideInfo, StateSource, VigilClientEvents } from './events.js';
import { FENCED_HEADER, hasIdempotencyKey, stampEpoch } from './headers.js';
import type { ResolvedOptions } from './options.js';
import type { ActiveState, Side } from './state.js';

/** What a target's router needs from the client that owns it. */
export interface RouterHost {
  readonly options: ResolvedOptions;
  publish<K extends keyof VigilClientEvents>(name: K, ...payload: VigilClientEvents[K]): void;
  /** Asks the activation service for the target's state (at most one in flight per burst). */
  recheck(target: string): Promise<void>;
  pool(origin: string): Dispatcher;
}

/** Where a target's requests go now: one side, its pool (new at each switch), the epoch they carry. */
export interface Route {
  readonly side: Side;
  readonly origin: string;
  epoch: number;
  readonly pool: Dispatcher;
  /** Attempts sent on this route that have no answer yet: cut if still waiting after a switch. */
  readonly unanswered: Unanswered;
}

/**
 * The attempts of one route that have no answer yet, in the order they were sent: what a `Set`
 * would hold, as a list threaded through the attempts, whose removed entries keep no pointer to
 * another attempt. With a `Set` here, the per-request objects were promoted out of the young
 * generation in bulk (bench/client: the old space grew to ~90 MB over 100,000 requests, 6
 * mark-compacts where a bare Agent needs 2, about 10 µs more CPU per request); with this list
 * they die young, as a bare Agent's do.
 */
export class Unanswered implements Iterable<Attempt> {
  private head: Attempt | undefined;
  private tail: Attempt | undefined;
  size = 0;

  add(attempt: Attempt): void {
    if (attempt.listedIn !== undefined) return;
    attempt.listedIn = this;
    attempt.previousUnanswered = this.tail;
    attempt.nextUnanswered = undefined;
    if (this.tail) this.tail.nextUnanswered = attempt;
    else this.head = attempt;
    this.tail = attempt;
    this.size += 1;
  }

  delete(attempt: Attempt): boolean {
    if (attempt.listedIn !== this) return false;
    const { previousUnanswered: previous, nextUnanswered: next } = attempt;
    if (previous) previous.nextUnanswered = next;
    else this.head = next;
    if (next) next.previousUnanswered = previous;
    else this.tail = previous;
    attempt.listedIn = undefined;
    attempt.previousUnanswered = undefined;
    attempt.nextUnanswered = undefined;
    this.size -= 1;
    return true;
  }

  /** The attempts listed now; one removed while the iteration runs (answered, failed, cut) is skipped, as a `Set` would. */
  *[Symbol.iterator](): Iterator<Attempt> {
    const listed: Attempt[] = [];
    for (let a = this.head; a; a = a.nextUnanswered) listed.push(a);
    for (const attempt of listed) if (attempt.listedIn === this) yield attempt;
  }
}

/** RFC 9110 §9.2.2: repeating these has the effect of sending them once. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Failures that say nothing reached the server: the request was never sent. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN']);
/** Failures of the connection or the side itself: worth asking the activation service about. */
const SIDE_FAILURES = new Set([...NEVER_SENT, 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED']);
/** Answers of a proxy in front of a failing side: the request itself failed, but ask too. */
const SIDE_FAILURE_STATUS = new Set([502, 503, 504]);
/** A refusal held back to see whether a newer epoch makes repeating it right: small by nature. */
const MAX_HELD_BYTES = 64 * 1024;

const codeOf = (error: unknown): string | undefined => (error as { code?: unknown } | null)?.code as string | undefined;

interface Waiter {
  done(route: Route | undefined, error?: Error): void;
  timer: NodeJS.Timeout;
}

/** Follows one target: its current route, the switch from side to side, requests waiting for it. */
export class TargetRouter {
  private route: Route | undefined;
  private latest: ActiveState | undefined;
  private switching = false;
  private readonly waiters = new Set<Waiter>();
  private readonly retiring = new Set<NodeJS.Timeout>();
  /** Pools of sides traffic left, until their last answers are read. */
  private readonly draining = new Set<Dispatcher>();

  constructor(
    readonly name: string,
    private readonly origins: { primary: string; secondary: string },
    private readonly host: RouterHost,
  ) {}

  /** The route to send on now; undefined while a switch is under way or no side is known. */
  ready(): Route | undefined {
    return this.switching ? undefined : this.route;
  }

  get current(): Route | undefined {
    return this.route;
  }

  /** A newer state of the target was accepted. */
  apply(state: ActiveState, source: StateSource): void {
    this.latest = state;
    if (this.switching) return; // the switch under way takes the latest state when it ends
    if (!this.route) {
      this.route = this.newRoute(state.active, state.epoch);
      this.wake();
      return;
    }
    if (state.active === this.route.side) {
      this.route.epoch = Math.max(this.route.epoch, state.epoch);
      return;
    }
    this.switching = true;
    void this.switchSides(source);
  }

  /**
   * Moves traffic to the latest state's side: `switchRequired` (listeners may hold the move up to
   * `switchTimeoutMs`), a new pool for the new side, the old one drained, then `switched`.
   */
  private async switchSides(source: StateSource): Promise<void> {
    try {
      while (this.route && this.latest && this.latest.active !== this.route.side) {
        const previous = this.route;
        const next = this.latest;
        const started = performance.now();
        const reason = next.active === 'secondary' ? 'failover' : 'failback';
        const from: SideInfo = { side: previous.side, origin: previous.origin, epoch: previous.epoch };
        const to: SideInfo = { side: next.active, origin: this.origins[next.active], epoch: next.epoch };
        const holds: Promise<unknown>[] = [];
        this.host.publish('switchRequired', {
          target: this.name,
          previous: from,
          next: to,
          epoch: next.epoch,
          reason,
          ...(next.activationId !== undefined && { activationId: next.activationId }),
          source,
          waitUntil: (promise) => void holds.push(Promise.resolve(promise)),
        });
        if (holds.length > 0) await this.bounded(Promise.allSettled(holds), this.host.options.switchTimeoutMs);
        const now = this.latest;
        if (now.active === previous.side) {
          // A newer state put traffic back where it is while the listeners held the move.
          previous.epoch = Math.max(previous.epoch, now.epoch);
          break;
        }
        this.route = this.newRoute(now.active, now.epoch);
        this.retire(previous, now.epoch);
        this.host.publish('switched', {
          target: this.name,
          previous: from,
          next: { side: now.active, origin: this.route.origin, epoch: now.epoch },
          epoch: now.epoch,
          reason: now.active === 'secondary' ? 'failover' : 'failback',
          ...(now.activationId !== undefined && { activationId: now.activationId }),
          source,
          durationMs: performance.now() - started,
        });
      }
      if (this.route && this.latest && this.latest.active === this.route.side) this.route.epoch = Math.max(this.route.epoch, this.latest.epoch);
    } finally {
      this.switching = false;
      this.wake();
    }
  }

  private newRoute(side: Side, epoch: number): Route {
    const origin = this.origins[side];
    return { side, origin, epoch, pool: this.host.pool(origin), unanswered: new Unanswered() };
  }

  /**
   * The old side gets no new request; its answers in flight are read to the end (its pool closes
   * once they are), and those still unanswered after `drainTimeoutMs` are cut (repeated on the
   * new side when that is safe). A pool that has not closed a minute later is destroyed.
   */
  private retire(route: Route, epoch: number): void {
    const cut = () => {
      for (const attempt of route.unanswered) attempt.cut(epoch);
    };
    const { drainTimeoutMs } = this.host.options;
    if (drainTimeoutMs === 0) cut();
    else this.later(cut, drainTimeoutMs);
    this.draining.add(route.pool);
    const closed = () => void this.draining.delete(route.pool);
    route.pool.close().then(closed, closed);
    this.later(() => {
      if (this.draining.has(route.pool)) void route.pool.destroy().catch(() => undefined);
    }, drainTimeoutMs + 60_000);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.retiring.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.retiring.add(timer);
  }

  private bounded(promise: Promise<unknown>, ms: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
  }

  /**
   * Calls `done` with a route once one is ready: at once when a state is known and no switch is
   * under way, else when it is, within `switchTimeoutMs`. No state by then: the fallback side if
   * one is configured, else an error; likewise when too many requests already wait.
   */
  waitForRoute(done: Waiter['done']): Waiter | undefined {
    const { maxWaiting, switchTimeoutMs, fallbackSide } = this.host.options;
    if (this.waiters.size >= maxWaiting) {
      done(undefined, new VigilRouteError('VIGIL_TOO_MANY_WAITING', `${maxWaiting} requests to "${this.name}" already wait for a side; this one was not sent`, this.name));
      return undefined;
    }
    const waiter: Waiter = {
      done,
      timer: setTimeout(() => {
        this.waiters.delete(waiter);
        if (this.switching) {
          done(undefined, new VigilRouteError('VIGIL_SWITCH_TIMEOUT', `the switch of "${this.name}" took longer than ${switchTimeoutMs} ms; the request was not sent`, this.name));
        } else if (!this.route && fallbackSide) {
          // Never heard from the activation service: the configured side, under epoch 0, so a fenced server that knows better refuses.
          this.route = this.newRoute(fallbackSide, 0);
          done(this.route);
        } else if (this.route) {
          done(this.route);
        } else {
          done(undefined, new VigilRouteError('VIGIL_NO_STATE', `no activation service has told which side of "${this.name}" is active (waited ${switchTimeoutMs} ms); the request was not sent`, this.name));
        }
      }, switchTimeoutMs),
    };
    this.waiters.add(waiter);
    return waiter;
  }

  cancelWait(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }

  private wake(): void {
    const route = this.ready();
    if (!route) return;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.done(route);
    }
  }

  /**
   * After a request sent under `sentEpoch` failed: if that is still the newest epoch known, ask the
   * activation service (one re-check per burst); then wait for a switch that is under way. Both
   * bounded by `switchTimeoutMs`. Decides nothing: the activation service does.
   */
  async afterFailure(sentEpoch: number): Promise<void> {
    const deadline = performance.now() + this.host.options.switchTimeoutMs;
    if (this.route && sentEpoch >= this.route.epoch) await this.bounded(this.host.recheck(this.name), this.host.options.switchTimeoutMs);
    if (!this.switching) return;
    await new Promise<void>((resolve) => {
      const waiter = this.waitForRoute(() => resolve());
      if (!waiter) resolve();
      else {
        clearTimeout(waiter.timer);
        waiter.timer = setTimeout(
          () => {
            this.waiters.delete(waiter);
            resolve();
          },
          Math.max(0, deadline - performance.now()),
        );
      }
    });
  }

  /** A response that says the side may be failing: ask, without holding the response. */
  suspect(sentEpoch: number): void {
    if (this.route && sentEpoch >= this.route.epoch) void this.host.recheck(this.name).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const timer of this.retiring) clearTimeout(timer);
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.done(undefined, new VigilRouteError('VIGIL_CLOSED', 'the Vigil client was closed', this.name));
    }
    this.waiters.clear();
    const pools = this.route ? [this.route.pool, ...this.draining] : [...this.draining];
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }
}

/** The controller the application's handler holds: stays the same across attempts and forwards to the current one. */
class ForwardingController implements Dispatcher.DispatchController {
  private target: Dispatcher.DispatchController | null = null;
  private pausedHere = false;
  private abortReason: Error | null = null;

  constructor(private readonly onAbort: (reason: Error) => void) {}

  attach(target: Dispatcher.DispatchController): void {
    this.target = target;
    if (this.abortReason) target.abort(this.abortReason);
    else if (this.pausedHere) target.pause();
  }

  get aborted(): boolean {
    return this.abortReason !== null || (this.target?.aborted ?? false);
  }
  /** Aborted by the application, not by a switch cutting an attempt. */
  get abortedHere(): boolean {
    return this.abortReason !== null;
  }
  get paused(): boolean {
    return this.pausedHere || (this.target?.paused ?? false);
  }
  get reason(): Error | null {
    return this.abortReason ?? this.target?.reason ?? null;
  }
  get rawHeaders(): Dispatcher.DispatchController['rawHeaders'] {
    return this.target?.rawHeaders ?? null;
  }
  set rawHeaders(value: Dispatcher.DispatchController['rawHeaders']) {
    if (this.target) this.target.rawHeaders = value;
  }
  get rawTrailers(): Dispatcher.DispatchController['rawTrailers'] {
    return this.target?.rawTrailers ?? null;
  }
  set rawTrailers(value: Dispatcher.DispatchController['rawTrailers']) {
    if (this.target) this.target.rawTrailers = value;
  }

  /** The application aborts (or its handler does): never repeated, whatever the method. */
  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason ?? new Error('aborted');
    this.target?.abort(this.abortReason);
    this.onAbort(this.abortReason);
  }
  pause(): void {
    this.pausedHere = true;
    this.target?.pause();
  }
  resume(): void {
    this.pausedHere = false;
    this.target?.resume();
  }
}

/** One try of a request on one route; callbacks of a try that was superseded are ignored. */
export class Attempt implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  answered = false;
  cutBy: number | undefined;
  held: { statusCode: number; headers: Record<string, string | string[] | undefined>; statusMessage: string | undefined; chunks: Buffer[]; bytes: number } | undefined;
  /** Its place in the route's `Unanswered` list, while it is listed there. */
  listedIn: Unanswered | undefined;
  previousUnanswered: Attempt | undefined;
  nextUnanswered: Attempt | undefined;

  constructor(
    private readonly request: RoutedRequest,
    readonly route: Route,
    readonly epoch: number,
  ) {}

  /** Vigil moved the target while this attempt still waited for an answer from the old side. */
  cut(epoch: number): void {
    if (this.answered || this.cutBy !== undefined) return;
    this.cutBy = epoch;
    this.controller?.abort(new Error(`the side was deposed (epoch ${epoch}) before it answered`));
  }

  private get live(): boolean {
    return this.request.isCurrent(this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller = controller;
    if (this.cutBy !== undefined) {
      controller.abort(new Error(`the side was deposed (epoch ${this.cutBy}) before the request was sent`));
      return;
    }
    // Queued in the pool while the request ended (aborted by the application): never send it.
    if (!this.live) controller.abort(new Error('the request ended before it was sent'));
    else this.request.started(controller, context);
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: Duplex): void {
    this.answered = true;
    this.route.unanswered.delete(this);
    if (this.live) this.request.handler.onRequestUpgrade?.(this.request.controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    if (this.live) this.request.handler.onResponseStarted?.();
  }

  onBodySent(chunk: Buffer): void {
    if (this.live) this.request.handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    if (this.live) this.request.handler.onRequestSent?.();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (!this.live) return;
    if (statusCode < 200) {
      this.request.handler.onResponseStart?.(this.request.controller, statusCode, headers, statusMessage);
      return;
    }
    this.answered = true;
    this.route.unanswered.delete(this);
    if (statusCode === 409 && headers[FENCED_HEADER] !== undefined && this.request.mayRepeat(true)) {
      // A fenced server refused it unprocessed: hold the answer until the epoch is checked.
      this.held = { statusCode, headers, statusMessage, chunks: [], bytes: 0 };
      return;
    }
    if (SIDE_FAILURE_STATUS.has(statusCode)) this.request.router.suspect(this.epoch);
    this.request.forwardStart(statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.live) return;
    if (this.held) {
      this.held.chunks.push(chunk);
      this.held.bytes += chunk.length;
      if (this.held.bytes > MAX_HELD_BYTES) this.request.release(this); // not a fencing refusal after all
      return;
    }
    this.request.handler.onResponseData?.(this.request.controller, chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.route.unanswered.delete(this);
    if (!this.live) return;
    if (this.held) {
      void this.request.fenced(this, trailers);
      return;
    }
    this.request.end(trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.route.unanswered.delete(this);
    if (this.live) void this.request.failed(this, error);
  }
}

/**
 * One request of the application to a followed target: sent to the active side stamped with its
 * epoch, waiting (bounded) while a switch is under way, and repeated at most once on a new side
 * when Vigil moved the target and repeating it cannot apply it twice.
 */
export class RoutedRequest {
  readonly controller: ForwardingController;
  private attempt: Attempt | undefined;
  private waiter: ReturnType<TargetRouter['waitForRoute']>;
  private upstreamStarted = false;
  private headersForwarded = false;
  private finished = false;
  private repeated = false;
  private readonly idempotent: boolean;
  private readonly body: ReplayableBody | undefined;

  constructor(
    readonly router: TargetRouter,
    private readonly opts: Dispatcher.DispatchOptions,
    readonly handler: Dispatcher.DispatchHandler,
  ) {
    this.controller = new ForwardingController((reason) => this.aborted(reason));
    const method = (opts.method ?? 'GET').toUpperCase();
    this.idempotent = IDEMPOTENT.has(method) || hasIdempotencyKey(opts.headers);
    if (!isFixedBody(opts.body) && isIterableBody(opts.body)) this.body = new ReplayableBody(opts.body);
  }

  isCurrent(attempt: Attempt): boolean {
    return !this.finished && this.attempt === attempt;
  }

  start(): boolean {
    const route = this.router.ready();
    if (route) return this.send(route);
    this.startUpstream({});
    if (this.finished) return true;
    this.waiter = this.router.waitForRoute((ready, error) => {
      this.waiter = undefined;
      if (this.finished) return;
      if (ready) this.send(ready);
      else this.fail(error!);
    });
    return true;
  }

  private startUpstream(context: unknown): void {
    if (this.upstreamStarted) return;
    this.upstreamStarted = true;
    this.handler.onRequestStart?.(this.controller, context);
  }

  private send(route: Route): boolean {
    const attempt = new Attempt(this, route, route.epoch);
    this.attempt = attempt;
    route.unanswered.add(attempt);
    // undici sends an async iterable body as it sends fetch's own (its types name only streams).
    const body = this.body ? (this.body.stream() as unknown as Dispatcher.DispatchOptions['body']) : this.opts.body;
    return route.pool.dispatch({ ...this.opts, origin: route.origin, headers: stampEpoch(this.opts.headers, String(route.epoch)), body }, attempt);
  }

  started(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller.attach(controller);
    this.startUpstream(context);
  }

  /** Whether one more attempt is allowed; `unprocessed`: the side is known not to have acted on it. */
  mayRepeat(unprocessed: boolean): boolean {
    if (this.repeated || this.headersForwarded) return false;
    const bodyAgain = this.body ? this.body.replayable : isFixedBody(this.opts.body);
    return bodyAgain && (unprocessed || this.idempotent);
  }

  forwardStart(statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage: string | undefined): void {
    this.headersForwarded = true;
    this.handler.onResponseStart?.(this.controller, statusCode, headers, statusMessage);
  }

  end(trailers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    // A handler may throw here to turn the answer into an error (undici's retry handler does, to
    // retry): the dispatcher then reports it to the attempt, which passes it on as an error.
    this.handler.onResponseEnd?.(this.controller, trailers);
    this.finished = true;
  }

  private fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.handler.onResponseError?.(this.controller, error);
  }

  /** The application aborted: the request ends now, whatever it was doing (the attempt's controller carries the abort). */
  private aborted(reason: Error): void {
    if (this.waiter) {
      this.router.cancelWait(this.waiter);
      this.waiter = undefined;
    }
    this.fail(reason);
  }

  /** Passes a held answer on as it came (the refusal stands). */
  release(attempt: Attempt, trailers?: Record<string, string | string[] | undefined>): void {
    const held = attempt.held;
    if (!held) return;
    attempt.held = undefined;
    this.forwardStart(held.statusCode, held.headers, held.statusMessage);
    for (const chunk of held.chunks) this.handler.onResponseData?.(this.controller, chunk);
    if (trailers) this.end(trailers);
  }

  /** A fenced server refused the request as stale: repeat it under the newer epoch if there is one. */
  async fenced(attempt: Attempt, trailers: Record<string, string | string[] | undefined>): Promise<void> {
    await this.router.afterFailure(attempt.epoch);
    if (this.finished) return;
    const route = this.router.ready();
    if (route && (route.epoch > attempt.epoch || route.side !== attempt.route.side) && this.mayRepeat(true)) {
      this.repeated = true;
      this.send(route);
      return;
    }
    this.release(attempt, trailers);
  }

  async failed(attempt: Attempt, error: Error): Promise<void> {
    if (this.controller.abortedHere || this.headersForwarded) return this.fail(this.controller.reason ?? error);
    const cut = attempt.cutBy !== undefined;
    const code = codeOf(error);
    if (!cut && (code === undefined || !SIDE_FAILURES.has(code))) return this.fail(error);
    // Ask the activation service, once per burst; whether the side is down is never decided here.
    await this.router.afterFailure(attempt.epoch);
    if (this.finished) return;
    const route = this.router.ready();
    const moved = route !== undefined && route.side !== attempt.route.side;
    if (moved && this.mayRepeat(!cut && code !== undefined && NEVER_SENT.has(code))) {
      this.repeated = true;
      this.send(route);
      return;
    }
    if (cut || moved) {
      const epoch = route?.epoch ?? attempt.cutBy ?? attempt.epoch;
      const method = (this.opts.method ?? 'GET').toUpperCase();
      const why = this.repeated ? 'it was already repeated once' : !this.idempotent ? `${method} is not idempotent and the request has no Idempotency-Key` : 'its body cannot be sent again';
      return this.fail(
        new VigilSwitchedError(
          `${method} ${this.opts.path} was sent to the ${attempt.route.side} side of "${this.router.name}" under epoch ${attempt.epoch}, which Vigil deposed (epoch ${epoch}) before it answered; it was not repeated because ${why}. The ${attempt.route.side} side may or may not have processed it.`,
          this.router.name,
          attempt.epoch,
          epoch,
          { cause: error },
        ),
      );
    }
    this.fail(error);
  }
}

/** Normalises a dispatch origin (string or URL) the way the targets' origins were. */
export function originKey(origin: Dispatcher.DispatchOptions['origin'], cache: Map<string, string>): string | undefined {
  if (origin === undefined || origin === null) return undefined;
  if (typeof origin !== 'string') return origin.origin;
  const known = cache.get(origin);
  if (known !== undefined) return known;
  let normal: string;
  try {
    normal = new URL(origin).origin;
  } catch {
    return undefined;
  }
  if (cache.size < 1_000) cache.set(origin, normal);
  return normal;
}
