import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { parseRetryAfter } from '@vigil/alerting';
import { formatDuration, signedHeaders, type ActivationRequest, type Logger } from '@vigil/core';
import { request, type Dispatcher } from 'undici';

/**
 * accepted: 2xx (200/202). conflict: 409, the target is already active or the incident already handled.
 * rejected: any other 4xx, final. failed: retries exhausted on network errors, 5xx, 408 or 429.
 * cancelled: the watchdog shut down first.
 */
export type ActivationOutcome = 'accepted' | 'conflict' | 'rejected' | 'failed' | 'cancelled';
export const ACTIVATION_OUTCOMES: readonly ActivationOutcome[] = ['accepted', 'conflict', 'rejected', 'failed', 'cancelled'];

export interface ActivationResult {
  outcome: ActivationOutcome;
  attempts: number;
  status?: number;
  error?: string;
}

export interface ActivationClientOptions {
  /** Base URL of the activation service; requests go to `${url}/v1/activations`. */
  url: string;
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  voter: { id: string; secret: string };
  logger: Logger;
  dispatcher?: Dispatcher;
  /** Backoff before retry n is uniform in [base·2^(n-1)/2, base·2^(n-1)], capped at maxMs. */
  backoff?: { baseMs: number; maxMs: number };
  now?: () => number;
}

const MAX_ERROR_BODY = 500;
const MAX_RETRY_AFTER_MS = 60_000;

/** The idempotency key of the request for one incident: the same on every retry and after a restart. */
export function activationRequestId(incidentId: string): string {
  return `act-${incidentId}`;
}

/**
 * Asks the activation service to fail a target over: a Standard Webhooks–signed POST, retried
 * with backoff under the same `webhook-id` so the service counts it once. Never throws.
 */
export class ActivationClient {
  private readonly endpoint: string;
  private readonly cancel = new AbortController();
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly now: () => number;

  constructor(private readonly options: ActivationClientOptions) {
    this.endpoint = new URL('/v1/activations', options.url).toString();
    this.backoff = options.backoff ?? { baseMs: 500, maxMs: 10_000 };
    this.now = options.now ?? Date.now;
  }

  async request(body: ActivationRequest): Promise<ActivationResult> {
    const id = activationRequestId(body.incident.id);
    const text = JSON.stringify(body);
    const log = this.options.logger.child({ webhookId: id, target: body.target, incidentId: body.incident.id });
    const maxAttempts = this.options.retries + 1;
    let last: Attempt = { error: 'not attempted' };

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.cancel.signal.aborted) return { outcome: 'cancelled', attempts: attempt - 1, ...detail(last) };
      // Each attempt is signed afresh: same id, new timestamp, so a retry is never taken for a replay.
      const signedAt = this.now();
      last = await this.attempt(text, signedHeaders(this.options.voter.secret, text, id, signedAt));
      if (last.outcome) {
        const result = { outcome: last.outcome, attempts: attempt, ...detail(last) };
        if (last.outcome === 'accepted') log.info(result, 'activation request accepted');
        else if (last.outcome === 'conflict') log.warn(result, 'activation service reports a conflict (already active or already requested)');
        else log.error(result, 'activation request rejected');
        return result;
      }
      if (attempt === maxAttempts) break;
      // Timestamps have one-second resolution: a retry signed within the same second would carry the
      // same signature and be refused as a replay, so the next attempt waits for the next second.
      const nextSecondMs = (Math.floor(signedAt / 1000) + 1) * 1000 - this.now();
      const waitMs = Math.max(this.delayBefore(attempt, last.retryAfterMs), nextSecondMs);
      log.warn({ attempt, status: last.status, error: last.error, retryInMs: waitMs }, 'activation request failed; retrying');
      await delay(waitMs, undefined, { signal: this.cancel.signal }).catch(() => undefined);
    }
    const outcome = this.cancel.signal.aborted ? 'cancelled' : 'failed';
    const result = { outcome, attempts: maxAttempts, ...detail(last) } as const;
    log.error(result, 'activation request not delivered');
    return result;
  }

  /** Cancels waits and requests in progress (shutdown). */
  close(): void {
    this.cancel.abort();
  }

  private async attempt(body: string, headers: Record<string, string>): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = AbortSignal.any([this.cancel.signal, timeout]);
    try {
      const response = await request(this.endpoint, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
        signal,
        ...(this.options.dispatcher && { dispatcher: this.options.dispatcher }),
      });
      const text = await response.body.text().catch(() => '');
      return classify(response.statusCode, text, parseRetryAfter(response.headers['retry-after'], this.now()));
    } catch (err) {
      if (timeout.aborted) return { error: `no response within ${formatDuration(this.options.timeoutMs)}` };
      if (this.cancel.signal.aborted) return { error: 'cancelled by shutdown' };
      return { error: `cannot reach ${new URL(this.endpoint).origin}: ${describeError(err)}` };
    }
  }

  private delayBefore(attempt: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempt - 1));
    // Jitter keeps several watchdogs that saw the same outage from retrying in lockstep.
    const backoff = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }
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

function detail(attempt: Attempt): Pick<ActivationResult, 'status' | 'error'> {
  return { ...(attempt.status !== undefined && { status: attempt.status }), ...(attempt.error !== undefined && { error: attempt.error }) };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const message = err.message || (err instanceof AggregateError ? describeError(err.errors[0]) : err.name);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
