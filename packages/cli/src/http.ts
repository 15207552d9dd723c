import { CliError, EXIT } from './exit.js';

/** What `vigil` talks to, from the command line and the environment. */
export interface Connection {
  /** Activation service replicas, tried in turn. */
  servers: readonly string[];
  /** Watchdogs: each one is a voter of its own (not a replica), so reads ask every one. */
  watchdogs: readonly string[];
  /** Operator bearer token (VIGIL_TOKEN or --token-file), for actions only: reads are public. */
  token: string | undefined;
  /** Bearer token of the watchdogs' pause API; the operator token unless given separately. */
  watchdogToken: string | undefined;
  /** Limit of one request. */
  timeoutMs: number;
}

/** A JSON answer and where it came from. */
export interface Answer<T> {
  status: number;
  body: T;
  /** The base URL that answered. */
  server: string;
  /** When the answer arrived (ms since the epoch). */
  receivedAt: number;
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  token?: string | undefined;
  timeoutMs: number;
  /** Statuses that are answers, not errors (e.g. 404 when a route is new and an older server lacks it). */
  accept?: readonly number[];
}

/** Why one server gave no usable answer. */
interface Failure {
  server: string;
  reason: string;
  /** True when the request cannot have reached the service (nothing was done): another server may be asked. */
  unsent: boolean;
}

const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function causeOf(err: unknown): { code?: string; message: string } {
  const cause = err instanceof Error && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : undefined;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return { code: 'TIMEOUT', message: 'no answer in time' };
  if (cause) return { ...(cause.code !== undefined && { code: cause.code }), message: cause.code ?? cause.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

async function once<T>(server: string, path: string, options: RequestOptions): Promise<Answer<T> | Failure> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(join(server, path), {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const { code, message } = causeOf(err);
    return { server, reason: message, unsent: code !== undefined && UNSENT_CODES.has(code) };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return { server, reason: `the answer was cut: ${causeOf(err).message}`, unsent: false };
  }
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: kept as text for the error message
  }
  // A replica shutting down, or a proxy in front of a dead one, did nothing: the next may serve.
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    return { server, reason: `answered ${res.status}${describeError(body)}`, unsent: true };
  }
  return { status: res.status, body: body as T, server, receivedAt: Date.now() };
}

function describeError(body: unknown): string {
  if (body !== null && typeof body === 'object') {
    const { error, message } = body as { error?: unknown; message?: unknown };
    if (typeof error === 'string' || typeof message === 'string') return ` ${[error, message].filter((p) => typeof p === 'string').join(': ')}`;
  }
  return typeof body === 'string' && body !== '' ? ` ${body.slice(0, 200)}` : '';
}

/**
 * Asks each server in turn until one answers. A read moves on after any failure; an action
 * (POST) moves on only when it cannot have reached the service (connection refused, 503), so
 * that an action is never done twice. A 2xx (or an `accept`ed status) is the answer; any other
 * status is an error with the service's message.
 */
export async function call<T>(servers: readonly string[], path: string, options: RequestOptions): Promise<Answer<T>> {
  const failures: Failure[] = [];
  const isRead = (options.method ?? 'GET') === 'GET';
  for (const server of servers) {
    const answer = await once<T>(server, path, options);
    if ('reason' in answer) {
      failures.push(answer);
      if (isRead || answer.unsent) continue;
      throw new CliError(`${server}${path}: ${answer.reason}; the request may or may not have been acted on: check with \`vigil status\` or \`vigil history\` before trying again`);
    }
    if ((answer.status >= 200 && answer.status < 300) || options.accept?.includes(answer.status)) return answer;
    throw refusal(answer, path);
  }
  const tried = failures.map((f) => `${f.server}: ${f.reason}`).join('; ');
  throw new CliError(`no server answered ${path} (${tried || 'no server given'})`);
}

export type EachResult<T> = ({ ok: true } & Answer<T>) | { ok: false; server: string; error: string };

/** Reads from every server (each watchdog is a voter of its own); what did not answer is reported, not thrown. */
export async function callEach<T>(servers: readonly string[], path: string, options: RequestOptions): Promise<EachResult<T>[]> {
  return Promise.all(
    servers.map(async (server): Promise<EachResult<T>> => {
      try {
        return { ok: true, ...(await call<T>([server], path, options)) };
      } catch (err) {
        return { ok: false, server, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** An answer other than 2xx, as the error the user sees. */
export function refusal(answer: Answer<unknown>, path: string): CliError {
  const detail = describeError(answer.body);
  if (answer.status === 401 || answer.status === 403) {
    return new CliError(`${answer.server}${path}: refused (${answer.status}${detail}); give an operator token with VIGIL_TOKEN or --token-file`);
  }
  return new CliError(`${answer.server}${path}: ${answer.status}${detail}`, EXIT.error);
}
