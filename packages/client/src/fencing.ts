import type { FastifyPluginCallback } from 'fastify';
import { EPOCH_HEADER, FENCED_HEADER } from './headers.js';
import type { Side } from './state.js';

/** Why a request was refused; absent when it was let through. */
export type FenceVerdict =
  | { ok: true; epoch?: number }
  | { ok: false; status: 400 | 409; error: 'bad-epoch' | 'missing-epoch' | 'stale-epoch' | 'deposed'; message: string; known: number };

export interface EpochFenceOptions {
  /** The epoch known at start (e.g. saved across restarts); default 0. */
  epoch?: number;
  /**
   * Which side this server is. With it, a server that knows it was deposed at epoch E (the
   * other side is active at E) refuses requests stamped E as well as older ones.
   */
  side?: Side;
  /** Refuse requests without `Vigil-Epoch` (default: let them through, e.g. health probes and non-Vigil clients). */
  requireEpoch?: boolean;
  /**
   * Learn a higher epoch from a request that carries one (default true): a client that followed
   * the switch proves it happened. Turn off when clients are not trusted to stamp honestly, and
   * feed the fence from the activation service instead (`observe`, or `follow` a VigilClient).
   */
  learnFromRequests?: boolean;
}

/**
 * A fencing token check for the application's own servers: each request carries the epoch its
 * client routed it under (`Vigil-Epoch`); a server refuses one stamped older than it knows, so a
 * client that missed a switch cannot write to the deposed side. Framework-free: `check` takes
 * the header's value; `vigilFence` is the Fastify plugin.
 */
export class EpochFence {
  private known: number;
  private activeSide: Side | undefined;
  readonly side: Side | undefined;
  private readonly requireEpoch: boolean;
  private readonly learn: boolean;

  constructor(options: EpochFenceOptions = {}) {
    const epoch = options.epoch ?? 0;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`EpochFence: epoch must be a whole number ≥ 0, got ${String(epoch)}`);
    this.known = epoch;
    this.side = options.side;
    this.requireEpoch = options.requireEpoch ?? false;
    this.learn = options.learnFromRequests ?? true;
  }

  get epoch(): number {
    return this.known;
  }

  /** Learns what the activation service says (its state, or the epoch an activation step passed): never goes back. */
  observe(epoch: number, active?: Side): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0) return;
    if (epoch > this.known) {
      this.known = epoch;
      this.activeSide = active;
    } else if (epoch === this.known && active !== undefined) {
      this.activeSide = active;
    }
  }

  /**
   * Keeps the fence at the epoch a VigilClient follows for `target` (its `state` events), so the
   * deposed side learns of the switch even though no up-to-date client calls it any more.
   * Returns the function that stops following.
   */
  follow(client: { on(event: 'state', listener: (e: { target: string; state: { epoch: number; active: Side } }) => void): unknown; off(event: 'state', listener: (e: { target: string; state: { epoch: number; active: Side } }) => void): unknown }, target: string): () => void {
    const listener = (e: { target: string; state: { epoch: number; active: Side } }) => {
      if (e.target === target) this.observe(e.state.epoch, e.state.active);
    };
    client.on('state', listener);
    return () => void client.off('state', listener);
  }

  /** Judges one request by its `Vigil-Epoch` header value. */
  check(header: string | string[] | undefined): FenceVerdict {
    const raw = Array.isArray(header) ? header[0] : header;
    if (raw === undefined || raw === '') {
      if (!this.requireEpoch) return { ok: true };
      return { ok: false, status: 400, error: 'missing-epoch', message: `this server requires the ${EPOCH_HEADER} header (send requests through the Vigil client)`, known: this.known };
    }
    if (!/^\d{1,15}$/.test(raw.trim())) {
      return { ok: false, status: 400, error: 'bad-epoch', message: `${EPOCH_HEADER} must be a whole number, got ${JSON.stringify(raw.slice(0, 40))}`, known: this.known };
    }
    const epoch = Number(raw.trim());
    if (epoch < this.known) {
      return { ok: false, status: 409, error: 'stale-epoch', message: `request stamped with epoch ${epoch}, but epoch ${this.known} is current: the client missed a switch`, known: this.known };
    }
    if (epoch === this.known && this.side !== undefined && this.activeSide !== undefined && this.activeSide !== this.side) {
      return { ok: false, status: 409, error: 'deposed', message: `this ${this.side} side was deposed at epoch ${epoch}; the ${this.activeSide} side is active`, known: this.known };
    }
    if (epoch > this.known && this.learn) {
      this.known = epoch;
      this.activeSide = undefined;
    }
    return { ok: true, epoch };
  }

  /** Headers to send with a refusal: the client recognises it and re-checks the active side. */
  refusalHeaders(verdict: Extract<FenceVerdict, { ok: false }>): Record<string, string> {
    return verdict.status === 409 ? { [FENCED_HEADER]: String(verdict.known) } : {};
  }
}

export interface VigilFenceOptions {
  fence: EpochFence;
  /** Requests to check: default every method but GET, HEAD and OPTIONS (reads of a deposed side harm no data). */
  methods?: readonly string[];
}

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Fastify plugin: refuses requests stamped with a stale epoch (409 with `Vigil-Fenced-Epoch`),
 * before any body is read or handler runs. Registered on the root, it covers every route.
 */
export const vigilFence: FastifyPluginCallback<VigilFenceOptions> = Object.assign(
  (app: Parameters<FastifyPluginCallback<VigilFenceOptions>>[0], options: VigilFenceOptions, done: (err?: Error) => void) => {
    if (!(options.fence instanceof EpochFence)) {
      done(new TypeError('vigilFence: the "fence" option must be an EpochFence'));
      return;
    }
    const methods = new Set((options.methods ?? WRITES).map((m) => m.toUpperCase()));
    app.addHook('onRequest', (request, reply, next) => {
      if (!methods.has(request.method)) return next();
      const verdict = options.fence.check(request.headers[EPOCH_HEADER]);
      if (verdict.ok) return next();
      void reply
        .code(verdict.status)
        .headers(options.fence.refusalHeaders(verdict))
        .send({ error: verdict.error, message: verdict.message, epoch: verdict.known });
    });
    done();
  },
  // Applies to the parent scope rather than an encapsulated child (what fastify-plugin does).
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'vigil-fence' },
);
