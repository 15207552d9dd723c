import { STATUS_CODES } from 'node:http';
import { formatDuration } from '@vigil/core';
import { request } from 'undici';
import type { DeliveryResult } from './alert.js';

/**
 * Shared by every HTTP channel: one POST of a JSON body, mapped to a DeliveryResult the same
 * way for all (2xx ok; 408, 429 and 5xx retryable; any other status final).
 */

/** Response bodies are read only so the connection can be reused; a larger one costs the socket instead. */
const MAX_DRAIN_BYTES = 256 * 1024;

export interface JsonPost {
  url: string;
  /** Already serialised: a signature, when there is one, covers these exact bytes. */
  body: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** The caller's cancellation (shutdown); the per-attempt timeout is added here. */
  signal: AbortSignal;
}

/** POSTs JSON and maps the outcome. Never throws. */
export async function postJson(post: JsonPost): Promise<DeliveryResult> {
  const target = describeTarget(post.url);
  const timeout = AbortSignal.timeout(post.timeoutMs);
  const signal = AbortSignal.any([post.signal, timeout]);
  try {
    const response = await request(post.url, {
      method: 'POST',
      headers: { ...post.headers, 'content-type': 'application/json' },
      body: post.body,
      signal,
    });
    // The status already says whether the receiver took the alert; a body that fails to drain only costs the socket.
    await response.body.dump({ limit: MAX_DRAIN_BYTES, signal }).catch(() => undefined);
    return resultForStatus(response.statusCode, response.headers['retry-after'], target, Date.now());
  } catch (err) {
    if (post.signal.aborted) return { ok: false, retryable: true, error: `delivery to ${target} was cancelled` };
    if (timeout.aborted) {
      return { ok: false, retryable: true, error: `no response from ${target} within ${formatDuration(post.timeoutMs)}` };
    }
    return { ok: false, retryable: true, error: `cannot reach ${target}: ${describeError(err).replaceAll(post.url, target)}` };
  }
}

/** Maps an HTTP status to a result; `retryAfter` is the response's Retry-After header, if any. */
export function resultForStatus(status: number, retryAfter: string | string[] | undefined, target: string, nowMs: number): DeliveryResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  const error = `${target} answered HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter, nowMs);
    return { ok: false, retryable: true, error, status, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  // Redirects are not followed: a notification must not be re-sent somewhere unconfigured.
  const hint = status >= 300 && status < 400 ? ' (redirects are not followed; configure the final URL)' : '';
  return { ok: false, retryable: false, error: error + hint, status };
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with a day name; this keeps Date.parse away from stray numbers.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  // The asctime form carries no zone, but HTTP dates are always GMT.
  const at = Date.parse(/GMT$/i.test(text) ? text : `${text} GMT`);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * How errors name a receiver: scheme, host and port only. Webhook URLs often carry a token in
 * the path or the query (and redactUrl only knows some of those forms), so the rest is left out.
 */
export function describeTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the configured URL';
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  // Connection errors to several addresses arrive as an AggregateError with an empty message.
  const message = err.message || (err instanceof AggregateError ? describeError(err.errors[0]) : '');
  if (!message) return code ?? err.name;
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
