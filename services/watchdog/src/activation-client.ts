import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { parseRetryAfter } from '@vigil/alerting';
import { formatDuration, signedHeaders, type ActivationRequest, type Logger } from '@vigil/core';
import { request, type Dispatcher } from 'undici';

/**
 * For one replica: accepted: 2xx (200/202). conflict: 409, the target is already active or the
 * incident already handled. rejected: any other 4xx, final. failed: retries exhausted on network
 * errors, 5xx, 408 or 429. cancelled: the watchdog shut down first.
 * Over several replicas, see `combinedOutcome`.
 */
export type ActivationOutcome = 'accepted' | 'conflict' | 'rejected' | 'failed' | 'cancelled';
export const ACTIVATION_OUTCOMES: readonly ActivationOutcome[] = ['accepted', 'conflict', 'rejected', 'failed', 'cancelled'];

/** One replica's part of a request; `pending` while it is still being delivered (in the background once another replica accepted). */
export interface ReplicaResult {
  /** The replica's origin (scheme, host, port): where its requests go, without credentials. */
  url: string;
  outcome: ActivationOutcome | 'pending';
  attempts: number;
  status?: number;
  error?: string;
}

export interface ActivationResult {
  /** Over all replicas (`combinedOutcome`). */
  outcome: ActivationOutcome;
  /** Requests sent so far, over all replicas. */
  attempts: number;
  /** The status of the first replica whose own outcome is the combined one (the accepting one, the 409, …). */
  status?: number;
  /** Unless accepted: why each replica did not accept, each prefixed with its origin. */
  error?: string;
  /** Each configured replica in order, as it stood when the outcome was decided. */
  replicas?: ReplicaResult[];
}

export interface ActivationClientOptions {
  /** Base URL of each activation replica; requests go to `<origin>/v1/activations` of every one. */
  urls: readonly string[];
  timeoutMs: number;
  /** Attempts after the first, for each replica. */
  retries: number;
  voter: { id: string; secret: string };
  logger: Logger;
  dispatcher?: Dispatcher;
  /** Backoff before retry n is uniform in [base·2^(n-1)/2, base·2^(n-1)], capped at maxMs. */
  backoff?: { baseMs: number; maxMs: number };
  now?: () => number;
  /** Told each replica's final outcome, also of deliveries that go on after the request was answered (metrics). */
  onReplicaResult?: (url: string, outcome: ActivationOutcome) => void;
}

const MAX_ERROR_BODY = 500;
const MAX_RETRY_AFTER_MS = 60_000;
/** How each replica's final outcome is logged. */
const REPLICA_LOG: Record<ActivationOutcome, ['info' | 'warn' | 'error', string]> = {
  accepted: ['info', 'activation request accepted'],
  conflict: ['warn', 'activation service reports a conflict (already active or already requested)'],
  rejected: ['error', 'activation request rejected'],
  failed: ['error', 'activation request not delivered'],
  cancelled: ['warn', 'activation request cancelled by shutdown'],
};
/** How long signing times are remembered: twice the usual Standard Webhooks tolerance (5 min). */
const SIGNATURE_MEMORY_S = 600;

/** The idempotency key of the request for one incident: the same on every retry and after a restart. */
export function activationRequestId(incidentId: string): string {
  return `act-${incidentId}`;
}

/**
 * The combined outcome: accepted once any replica accepted (the vote is recorded, and the
 * replicas share it); otherwise a conflict if any answered 409; cancelled if shutdown cut a
 * delivery short; rejected only when every replica refused it; else failed (worth asking again).
 */
export function combinedOutcome(outcomes: readonly (ActivationOutcome | 'pending')[]): ActivationOutcome {
  if (outcomes.includes('accepted')) return 'accepted';
  if (outcomes.includes('conflict')) return 'conflict';
  if (outcomes.includes('cancelled')) return 'cancelled';
  if (outcomes.length > 0 && outcomes.every((o) => o === 'rejected')) return 'rejected';
  return 'failed';
}

interface Replica {
  origin: string;
  endpoint: string;
}

/** One request on its way to every replica. */
interface Delivery {
  id: string;
  text: string;
  log: Logger;
}

/**
 * Asks the activation service to fail a target over: a Standard Webhooks–signed POST to every
 * replica at once, each retried with backoff under the same `webhook-id` so the service counts it
 * once. Answers as soon as one replica accepted and goes on delivering to the others, so that a
 * replica that was down records the vote too. Never throws.
 */
export class ActivationClient {
  /** The replicas' origins, in configured order. */
  readonly urls: readonly string[];
  private readonly replicas: readonly Replica[];
  private readonly cancel = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per request id, the seconds its deliveries were signed at (see signingTime). */
  private readonly signedSeconds = new Map<string, Set<number>>();
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly now: () => number;

  constructor(private readonly options: ActivationClientOptions) {
    if (options.urls.length === 0) throw new Error('ActivationClient needs at least one activation URL');
    this.replicas = options.urls.map((url) => ({ origin: new URL(url).origin, endpoint: new URL('/v1/activations', url).toString() }));
    this.urls = this.replicas.map((r) => r.origin);
    this.backoff = options.backoff ?? { baseMs: 500, maxMs: 10_000 };
    this.now = options.now ?? Date.now;
  }

  async request(body: ActivationRequest): Promise<ActivationResult> {
    const id = activationRequestId(body.incident.id);
    const log = this.options.logger.child({ webhookId: id, target: body.target, incidentId: body.incident.id });
    const delivery: Delivery = { id, text: JSON.stringify(body), log };
    const results = this.replicas.map((r): ReplicaResult => ({ url: r.origin, outcome: 'pending', attempts: 0 }));
    const outcomes = this.replicas.map((replica, i) => this.track(this.deliver(replica, results[i]!, delivery)));
    await acceptedOrAllEnded(outcomes);
    const result = summarize(results.map((r) => ({ ...r })));
    if (this.replicas.length > 1) logCombined(log, result);
    return result;
  }

  /** Cancels waits and requests in progress, background deliveries included; resolves once all have ended (shutdown). */
  async close(): Promise<void> {
    this.cancel.abort();
    await Promise.all([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Delivers to one replica with its own retries; updates `result` as it goes. Never rejects. */
  private async deliver(replica: Replica, result: ReplicaResult, delivery: Delivery): Promise<ActivationOutcome> {
    const log = delivery.log.child({ url: replica.origin });
    const maxAttempts = this.options.retries + 1;
    let last: Attempt = { error: 'not attempted' };
    for (let attempt = 1; ; attempt++) {
      if (this.cancel.signal.aborted) return this.finish(result, 'cancelled', last, log);
      const startedAt = this.now();
      result.attempts = attempt;
      const headers = signedHeaders(this.options.voter.secret, delivery.text, delivery.id, this.signingTime(delivery.id, startedAt));
      last = await this.attempt(replica.endpoint, delivery.text, headers);
      if (last.outcome) return this.finish(result, last.outcome, last, log);
      if (attempt === maxAttempts) return this.finish(result, this.cancel.signal.aborted ? 'cancelled' : 'failed', last, log);
      // Timestamps have one-second resolution: one replica signs at most once a second, which keeps
      // the signing times of all replicas (see signingTime) close to the clock.
      const nextSecondMs = (Math.floor(startedAt / 1000) + 1) * 1000 - this.now();
      const waitMs = Math.max(this.delayBefore(attempt, last.retryAfterMs), nextSecondMs);
      log.warn({ attempt, status: last.status, error: last.error, retryInMs: waitMs }, 'activation request failed; retrying');
      await delay(waitMs, undefined, { signal: this.cancel.signal }).catch(() => undefined);
    }
  }

  /**
   * When to sign a delivery of `id`: now, unless a delivery of the same id (to any replica) was
   * already signed in this second; then the latest second before it that none used. The receiver
   * takes the same id with the same signature for a replay, and replicas that share their records
   * must each get a signature of their own. With one signing per replica per second and backoff
   * growing to seconds, a signing time stays well inside the receiver's tolerance (minutes).
   */
  private signingTime(id: string, nowMs: number): number {
    const current = Math.floor(nowMs / 1000);
    for (const [key, seconds] of this.signedSeconds) {
      // Older signatures are past any receiver's tolerance: they can no longer be taken for replays.
      for (const second of seconds) if (second < current - SIGNATURE_MEMORY_S) seconds.delete(second);
      if (seconds.size === 0 && key !== id) this.signedSeconds.delete(key);
    }
    const used = this.signedSeconds.get(id) ?? new Set<number>();
    this.signedSeconds.set(id, used);
    let second = current;
    while (used.has(second)) second--;
    used.add(second);
    return second === current ? nowMs : second * 1000;
  }

  private finish(result: ReplicaResult, outcome: ActivationOutcome, last: Attempt, log: Logger): ActivationOutcome {
    Object.assign(result, { outcome }, detail(last));
    const [level, message] = REPLICA_LOG[outcome];
    log[level]({ outcome, attempts: result.attempts, status: result.status, error: result.error }, message);
    try {
      this.options.onReplicaResult?.(result.url, outcome);
    } catch (err) {
      // A delivery must end whatever an observer does: request() waits for it.
      log.error({ err }, 'observer of activation results failed');
    }
    return outcome;
  }

  private async attempt(endpoint: string, body: string, headers: Record<string, string>): Promise<Attempt> {
    const limit = attemptSignal(this.cancel.signal, this.options.timeoutMs);
    try {
      const response = await request(endpoint, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
        signal: limit.signal,
        ...(this.options.dispatcher && { dispatcher: this.options.dispatcher }),
      });
      const text = await response.body.text().catch(() => '');
      return classify(response.statusCode, text, parseRetryAfter(response.headers['retry-after'], this.now()));
    } catch (err) {
      if (limit.timedOut()) return { error: `no response within ${formatDuration(this.options.timeoutMs)}` };
      if (this.cancel.signal.aborted) return { error: 'cancelled by shutdown' };
      return { error: `cannot reach it: ${describeError(err)}` };
    } finally {
      limit.dispose();
    }
  }

  private delayBefore(attempt: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempt - 1));
    // Jitter keeps several watchdogs that saw the same outage from retrying in lockstep.
    const backoff = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }
}

/** Resolves once one delivery was accepted or all have ended. */
function acceptedOrAllEnded(outcomes: readonly Promise<ActivationOutcome>[]): Promise<void> {
  return new Promise((resolve) => {
    let remaining = outcomes.length;
    const ended = (accepted: boolean) => {
      remaining--;
      if (accepted || remaining === 0) resolve();
    };
    // A delivery never rejects; were one to, it still counts as ended, so no request waits forever.
    for (const outcome of outcomes) void outcome.then((o) => ended(o === 'accepted'), () => ended(false));
  });
}

function summarize(replicas: ReplicaResult[]): ActivationResult {
  const outcome = combinedOutcome(replicas.map((r) => r.outcome));
  const status = replicas.find((r) => r.outcome === outcome)?.status;
  const errors = outcome === 'accepted' ? [] : replicas.filter((r) => r.error !== undefined).map((r) => `${r.url}: ${r.error}`);
  return {
    outcome,
    attempts: replicas.reduce((sum, r) => sum + r.attempts, 0),
    ...(status !== undefined && { status }),
    ...(errors.length > 0 && { error: errors.join('; ') }),
    replicas,
  };
}

function logCombined(log: Logger, result: ActivationResult): void {
  const replicas = result.replicas?.map(({ url, outcome, attempts, status }) => ({ url, outcome, attempts, ...(status !== undefined && { status }) }));
  const fields = { outcome: result.outcome, replicas };
  if (result.outcome === 'accepted') {
    const pending = replicas?.filter((r) => r.outcome === 'pending').length ?? 0;
    log.info(fields, pending > 0 ? `activation request accepted; still delivering to ${pending} replica(s) in the background` : 'activation request accepted');
  } else if (result.outcome === 'conflict' || result.outcome === 'cancelled') {
    log.warn(fields, `activation request ${result.outcome} over the replicas`);
  } else {
    log.error(fields, `activation request ${result.outcome} by every replica`);
  }
}

/** Aborted by `parent` or after `ms`; dispose() clears the timer and the listener, so nothing outlives the attempt. */
function attemptSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; timedOut(): boolean; dispose(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, ms);
  // A listener rather than AbortSignal.any: signals derived from a long-lived one accumulate in it.
  const onAbort = () => controller.abort();
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** One attempt; without an `outcome` it is worth retrying. */
interface Attempt {
  outcome?: Exclude<ActivationOutcome, 'failed' | 'cancelled'>;
  status?: number;
  error?: string;
  retryAfterMs?: number;
}

function classify(status: number, body: string, retryAfterMs: number | undefined): Attempt {
  if (status >= 200 && status < 300) return { outcome: 'accepted', status };
  const error = `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim() + (body ? `: ${body.slice(0, MAX_ERROR_BODY)}` : '');
  if (status === 409) return { outcome: 'conflict', status, error };
  if (status === 408 || status === 429 || status >= 500) return { status, error, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  // other 4xx, and 3xx: redirects are not followed, an activation must not go anywhere unconfigured
  return { outcome: 'rejected', status, error };
}

function detail(attempt: Attempt): Pick<ReplicaResult, 'status' | 'error'> {
  return { ...(attempt.status !== undefined && { status: attempt.status }), ...(attempt.error !== undefined && { error: attempt.error }) };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const message = err.message || (err instanceof AggregateError ? describeError(err.errors[0]) : err.name);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
