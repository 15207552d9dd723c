import { Duration, HEALTH_CONTENT_TYPE, HttpUrl, redactUrl, type HealthStatus } from '@vigil/core';
import { isDeepStrictEqual } from 'node:util';
import Type, { type StaticDecode } from 'typebox';
import { Client, request, type Dispatcher } from 'undici';
import type { Check, CheckResult, HttpPhases } from './check.js';
import { timedConnector, type ConnectionTimings } from './http-connection.js';
import { abortText, errorText, fail, pass, warn } from './outcome.js';

/** A response body larger than this fails the check rather than being buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

const ExpectedStatus = Type.Union([
  Type.Integer({ minimum: 100, maximum: 599 }),
  Type.String({ pattern: '^[1-5]xx$', 'x-expected': 'a status code such as 204 or a class such as "2xx"' }),
]);

export const HttpCheckConfig = Type.Object(
  {
    kind: Type.Literal('http'),
    url: HttpUrl({ description: 'credentials in the URL are sent as basic auth and never reported' }),
    method: Type.String({ default: 'GET', pattern: '^[A-Z]+$', 'x-expected': 'an HTTP method such as "GET"' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    expectStatus: Type.Array(ExpectedStatus, { default: ['2xx'], minItems: 1, description: 'the statuses that pass' }),
    expectBody: Type.Optional(
      Type.Object(
        {
          contains: Type.Optional(Type.String({ minLength: 1, description: 'text the body must contain' })),
          json: Type.Optional(
            Type.Record(Type.String(), Type.Unknown(), {
              description: 'JSON paths such as "$.db.status" or "$.items[0].ok" and the value each must equal',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ description: 'extra trusted CA certificates, PEM ("${CA_PEM}" or CA_PEM_FILE)' })),
          serverName: Type.Optional(Type.String({ minLength: 1, description: 'name to verify and send as SNI; defaults to the URL host' })),
        },
        { additionalProperties: false },
      ),
    ),
    timeout: Duration({ default: '1s', description: 'covers connecting, the response headers and the body' }),
  },
  { additionalProperties: false },
);
export type HttpCheckConfig = StaticDecode<typeof HttpCheckConfig>;

/**
 * An HTTP check. Passes on an expected status; a health+json (or JSON) body's `status` of
 * `warn` or `fail` is followed, and `expectBody` can ask for text or JSON values. `dispatcher`
 * lets a caller reuse its connections (the watchdog probing the same target every few seconds):
 * then a reused connection has no DNS, connect or TLS phase. By default each run opens its own
 * connection, as a prober does, and measures every phase.
 */
export function createHttpCheck(dispatcher?: Dispatcher): Check<HttpCheckConfig> {
  return {
    kind: 'http',
    componentType: 'component',
    async run(config, signal) {
      let httpStatus: number | undefined;
      // Without a shared dispatcher each run opens its own connection, as a prober does, so that
      // every phase is measured; a shared one reuses connections and measures what it can.
      const timings: ConnectionTimings = { phases: {} };
      let own: Client | undefined;
      const started = performance.now();
      try {
        const { url, headers } = withBasicAuth(config.url, config.headers ?? {});
        own = dispatcher ? undefined : new Client(url.origin, { connect: timedConnector(timings, config.tls), pipelining: 1 });
        const response = await request(url, {
          method: config.method,
          headers,
          signal,
          dispatcher: dispatcher ?? own,
          // undici's own limits (300s by default) would outlive the check; keep them to its timeout.
          headersTimeout: config.timeout,
          bodyTimeout: config.timeout,
        });
        const headersAt = performance.now();
        httpStatus = response.statusCode;
        const body = await readBody(response);
        const phases: HttpPhases = { ...timings.phases, firstByte: headersAt - (timings.readyAt ?? started), transfer: performance.now() - headersAt };
        return { ...judge(config, response, body), httpStatus, phases, ...tlsExpiry(timings) };
      } catch (err) {
        const output = signal.aborted ? abortText(signal) : isUndiciTimeout(err) ? `timed out after ${config.timeout}ms` : errorText(err);
        return fail(withoutCredentials(output, config.url), { httpStatus, phases: timings.phases, ...tlsExpiry(timings) });
      } finally {
        own?.destroy().catch(() => undefined);
      }
    },
  };
}

const tlsExpiry = ({ tlsEarliestCertExpiry }: ConnectionTimings) => (tlsEarliestCertExpiry === undefined ? {} : { tlsEarliestCertExpiry });

/** The HTTP check, one connection per run. */
export const http = createHttpCheck();

function judge(config: HttpCheckConfig, response: Dispatcher.ResponseData, body: Buffer | undefined): CheckResult {
  const statusText = `HTTP ${response.statusCode}`;
  if (body === undefined) return fail(`${statusText}, response body larger than the ${MAX_BODY_BYTES / 1024 / 1024} MiB limit`);
  const reported = reportedStatus(response.headers['content-type'], body);
  const expected = config.expectStatus.some((e) => (typeof e === 'number' ? e === response.statusCode : e[0] === String(response.statusCode)[0]));
  const details = [expected ? statusText : `${statusText} (expected ${config.expectStatus.join(', ')})`];
  if (reported) details.push(reported.text);
  const unmet = expected ? unmetBodyExpectation(config.expectBody, body) : undefined;
  if (unmet) details.push(unmet);
  const output = details.join(', ');
  if (!expected || unmet) return fail(output);
  if (reported?.status === 'fail') return fail(output);
  if (reported?.status === 'warn') return warn(output);
  return pass(output);
}

/** The body, or undefined when it exceeds MAX_BODY_BYTES (the rest is not read). */
async function readBody(response: Dispatcher.ResponseData): Promise<Buffer | undefined> {
  const declared = Number(response.headers['content-length']);
  if (declared > MAX_BODY_BYTES) {
    response.body.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined; // leaving the loop destroys the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// draft-inadarei-api-health-check accepts "ok"/"up" for pass and "error"/"down" for fail.
const STATUS_ALIASES: Record<string, HealthStatus> = { pass: 'pass', ok: 'pass', up: 'pass', warn: 'warn', fail: 'fail', error: 'fail', down: 'fail' };

/**
 * What a JSON body says about health. A body declared as health+json must say it clearly, or the
 * endpoint is broken; a plain JSON body is only followed when its `status` is a known value.
 */
function reportedStatus(contentType: string | string[] | undefined, body: Buffer): { status: HealthStatus; text: string } | undefined {
  const mediaType = String(contentType ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const isHealth = mediaType === HEALTH_CONTENT_TYPE;
  if (!isHealth && mediaType !== 'application/json' && !mediaType.endsWith('+json')) return undefined;
  const label = isHealth ? 'health+json' : 'JSON';
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return isHealth ? { status: 'fail', text: 'health+json body is not valid JSON' } : undefined;
  }
  const raw = value !== null && typeof value === 'object' && 'status' in value ? value.status : undefined;
  const status = typeof raw === 'string' ? STATUS_ALIASES[raw.toLowerCase()] : undefined;
  if (status) return { status, text: `${label} status ${JSON.stringify(raw)}` };
  return isHealth ? { status: 'fail', text: `health+json status ${JSON.stringify(raw ?? null)} is not pass, warn or fail` } : undefined;
}

/** undici does not send a URL's userinfo; send it as basic auth (unless set explicitly) and drop it from the URL. */
function withBasicAuth(raw: string, headers: Record<string, string>): { url: URL; headers: Record<string, string> } {
  const url = new URL(raw);
  if (!url.username && !url.password) return { url, headers };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) return { url, headers };
  return { url, headers: { ...headers, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } };
}

/** Error texts may quote the URL (as configured, or as sent without userinfo); show it only with credentials masked. */
function withoutCredentials(text: string, raw: string): string {
  if (!URL.canParse(raw)) return text;
  const sent = new URL(raw);
  sent.username = '';
  sent.password = '';
  return text.replaceAll(raw, redactUrl(raw)).replaceAll(sent.href, redactUrl(sent.href));
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** Why the body does not meet `expectBody`, or undefined when it does. */
function unmetBodyExpectation(expectation: HttpCheckConfig['expectBody'], body: Buffer): string | undefined {
  if (!expectation) return undefined;
  const text = body.toString('utf8');
  if (expectation.contains !== undefined && !text.includes(expectation.contains)) return `body does not contain ${JSON.stringify(expectation.contains)}`;
  if (!expectation.json) return undefined;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return 'body is not valid JSON';
  }
  for (const [path, wanted] of Object.entries(expectation.json)) {
    const found = jsonPathValue(document, path);
    if (!isDeepStrictEqual(found, wanted)) return `${path} is ${found === undefined ? 'absent' : JSON.stringify(found)}, expected ${JSON.stringify(wanted)}`;
  }
  return undefined;
}

/** The value at a simple JSON path: "$" (optional), then ".name" and "[index]" steps; "a.b" is "$.a.b". */
export function jsonPathValue(document: unknown, path: string): unknown {
  const steps = path.replace(/^\$/, '');
  let node = document;
  for (const [, name, index] of (/^[.[]/.test(steps) || steps === '' ? steps : `.${steps}`).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) {
    if (node === null || typeof node !== 'object') return undefined;
    const key = name ?? Number(index);
    if (Array.isArray(node) !== (name === undefined)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}
