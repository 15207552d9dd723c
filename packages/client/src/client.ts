import { EventEmitter } from 'node:events';
import { Agent, fetch as undiciFetch, Pool, type Dispatcher } from 'undici';
import { ControlPlane, type ControlPlaneStats } from './control-plane.js';
import { channels, type StateSource, type VigilClientEvents } from './events.js';
import { resolveOptions, type ResolvedOptions, type VigilClientOptions } from './options.js';
import { originKey, RoutedRequest, TargetRouter } from './router.js';
import { compareStates, type ActiveState, type Side } from './state.js';

/** What the client knows of one target, as `status(target)` reports it. */
export interface TargetStatus {
  target: string;
  /** The last state accepted; absent until the activation service first answered. */
  state?: ActiveState;
  /** Where requests go now (absent while no side is known), and the epoch they carry. */
  side?: Side;
  origin?: string;
  epoch?: number;
  /** Time since the activation service last confirmed the state (or since the client started, if it never did). */
  ageMs: number;
  stale: boolean;
  switching: boolean;
}

interface Followed {
  router: TargetRouter;
  state?: ActiveState;
  confirmedAt?: number;
  staleSince?: number;
}

/**
 * Makes an application's HTTP requests follow a Vigil failover. It learns each target's active
 * side from the activation service (event stream, slow poll, re-checks after failed requests),
 * accepts a state only when it is newer (epoch, then revision), and routes each request whose
 * origin is one of a target's two origins to the active one, stamped with `Vigil-Epoch`. It never
 * decides that a side is down: that is the activation service's decision.
 *
 * ```ts
 * const vigil = new VigilClient({ activation: ['https://vigil-eu:8083', 'https://vigil-us:8083'],
 *   targets: { shop: { primary: 'https://shop-eu.internal', secondary: 'https://shop-us.internal' } } });
 * const fetch = vigil.createFetch();
 * await fetch('https://shop-eu.internal/orders'); // sent to whichever side is active
 * ```
 */
export class VigilClient extends EventEmitter<VigilClientEvents> {
  readonly options: ResolvedOptions;
  private readonly followed = new Map<string, Followed>();
  private readonly byOrigin = new Map<string, TargetRouter>();
  private readonly originCache = new Map<string, string>();
  private readonly controlPlane: ControlPlane;
  private readonly ownControlDispatcher: Agent | undefined;
  private readonly staleTimer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private composed: Dispatcher | undefined;
  private baseAgent: Agent | undefined;
  private closed = false;

  constructor(options: VigilClientOptions) {
    super();
    this.options = resolveOptions(options);
    const host = {
      options: this.options,
      publish: <K extends keyof VigilClientEvents>(name: K, ...payload: VigilClientEvents[K]) => this.publish(name, ...payload),
      recheck: (target: string) => this.controlPlane.recheck(target),
      pool: (origin: string) => new Pool(origin, this.options.pool),
    };
    for (const [name, origins] of this.options.targets) {
      const router = new TargetRouter(name, origins, host);
      this.followed.set(name, { router });
      this.byOrigin.set(origins.primary, router);
      this.byOrigin.set(origins.secondary, router);
    }
    this.ownControlDispatcher = this.options.controlPlane ? undefined : new Agent({ keepAliveTimeout: 30_000 });
    this.controlPlane = new ControlPlane(this.options, this.options.controlPlane ?? this.ownControlDispatcher!, {
      accept: (target, state, source) => this.accept(target, state, source),
      confirmed: (target) => this.confirm(target),
      error: (event) => this.publish('controlPlaneError', event),
      held: (target) => this.followed.get(target)?.state,
    });
    const every = Math.max(50, Math.min(1_000, this.options.staleAfterMs / 4));
    this.staleTimer = setInterval(() => this.checkStaleness(), every);
    this.staleTimer.unref();
    this.controlPlane.start();
  }

  /** What the client holds for `target` and how old it is. */
  status(target: string): TargetStatus {
    const entry = this.followed.get(target);
    if (!entry) throw new RangeError(`"${target}" is not a target of this client (${[...this.followed.keys()].join(', ')})`);
    const route = entry.router.current;
    return {
      target,
      ...(entry.state && { state: entry.state }),
      ...(route && { side: route.side, origin: route.origin, epoch: route.epoch }),
      ageMs: performance.now() - (entry.confirmedAt ?? this.startedAt),
      stale: entry.staleSince !== undefined,
      switching: entry.router.current !== undefined && entry.router.ready() === undefined,
    };
  }

  /** Resolves once every target's state is known; rejects when `signal` aborts first. */
  ready(signal?: AbortSignal): Promise<void> {
    const missing = () => [...this.followed.values()].some((f) => !f.state);
    if (!missing()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = () => {
        if (missing()) return;
        this.off('state', onState);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.off('state', onState);
        reject(signal!.reason as Error);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.on('state', onState);
    });
  }

  /** Asks the activation service for `target`'s state now (subject to the re-check limit). */
  recheck(target: string): Promise<void> {
    return this.controlPlane.recheck(target);
  }

  /** Counters of the requests made to the activation service. */
  get stats(): Readonly<ControlPlaneStats> {
    return this.controlPlane.stats;
  }

  /**
   * The undici interceptor: `agent.compose(vigil.interceptor(), interceptors.retry())` routes each
   * request of a followed origin to the active side (undici's retry, composed after it, goes
   * through it again on each try and so picks up a new side). Other requests pass unchanged.
   */
  interceptor(): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) =>
      // The name's length must stay 2: undici checks an interceptor's arity.
      (opts, handler) => {
        // Most origins arrive normalised (undici's own parsing): one map lookup; others are normalised once and cached.
        const origin = opts.origin;
        let router = typeof origin === 'string' ? this.byOrigin.get(origin) : undefined;
        if (!router) {
          const key = originKey(origin, this.originCache);
          router = key === undefined ? undefined : this.byOrigin.get(key);
        }
        if (!router) return dispatch(opts, handler);
        return new RoutedRequest(router, opts, handler).start();
      };
  }

  /**
   * A dispatcher that routes followed origins and sends the rest through a plain Agent: pass it
   * as `dispatcher` to undici, or to `setGlobalDispatcher` for Node's built-in `fetch`.
   */
  get dispatcher(): Dispatcher {
    if (!this.composed) {
      this.baseAgent = new Agent(this.options.pool);
      this.composed = this.baseAgent.compose(this.interceptor());
    }
    return this.composed;
  }

  /** `fetch` (undici's) sending through `dispatcher`; an explicit `init.dispatcher` wins. */
  createFetch(): typeof undiciFetch {
    const dispatcher = this.dispatcher;
    return ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(input, { dispatcher, ...init }));
  }

  /** Stops following: streams and polls end, waiting requests fail, every pool closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.staleTimer);
    await this.controlPlane.close();
    await Promise.all([...this.followed.values()].map((f) => f.router.close()));
    await Promise.all([this.ownControlDispatcher?.destroy(), this.baseAgent?.close()]);
  }

  private accept(target: string, state: ActiveState, source: StateSource): void {
    const entry = this.followed.get(target);
    if (!entry || this.closed) return;
    const held = entry.state;
    if (held) {
      const order = compareStates(state, held);
      if (order < 0) {
        this.publish('ignored', { target, state, held, source });
        return;
      }
      if (order === 0) {
        this.confirm(target);
        return;
      }
    }
    entry.state = state;
    this.confirm(target);
    this.publish('state', { target, state, ...(held && { previous: held }), source });
    entry.router.apply(state, source);
  }

  private confirm(target: string): void {
    const entry = this.followed.get(target);
    if (!entry) return;
    const now = performance.now();
    entry.confirmedAt = now;
    if (entry.staleSince !== undefined && entry.state) {
      const staleForMs = now - entry.staleSince;
      entry.staleSince = undefined;
      this.publish('recovered', { target, state: entry.state, staleForMs });
    }
  }

  private checkStaleness(): void {
    const now = performance.now();
    for (const [target, entry] of this.followed) {
      if (entry.staleSince !== undefined) continue;
      const ageMs = now - (entry.confirmedAt ?? this.startedAt);
      if (ageMs <= this.options.staleAfterMs) continue;
      entry.staleSince = now;
      this.publish('stale', { target, ...(entry.state && { state: entry.state }), ageMs, staleAfterMs: this.options.staleAfterMs });
    }
  }

  /** Emits to listeners and to `node:diagnostics_channel`; a listener that throws cannot break the client. */
  private publish<K extends keyof VigilClientEvents>(name: K, ...payload: VigilClientEvents[K]): void {
    const channel = channels[name];
    if (channel.hasSubscribers) channel.publish(payload[0]);
    try {
      (this.emit as (event: K, ...args: VigilClientEvents[K]) => boolean)(name, ...payload);
    } catch (error) {
      process.emitWarning(`a listener of the Vigil client's "${name}" event threw: ${error instanceof Error ? error.message : String(error)}`, 'VigilClientWarning');
    }
  }
}
