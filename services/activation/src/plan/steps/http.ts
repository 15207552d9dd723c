import Type, { type StaticDecode } from 'typebox';
import { request } from 'undici';
import { HttpUrl, redactUrl } from '@vigil/core';
import { stepBaseProperties, type AttemptOutcome, type StepKind } from './step.js';

const StatusCode = Type.Integer({ minimum: 100, maximum: 599 });
export const HttpMethod = Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')], {
  default: 'POST',
});
export const StatusRange = Type.Tuple([StatusCode, StatusCode], { default: [200, 299], description: 'inclusive range of statuses that mean success' });

export const HttpStepConfig = Type.Object(
  {
    ...stepBaseProperties,
    kind: Type.Literal('http'),
    method: HttpMethod,
    url: HttpUrl(),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(
      Type.Union([Type.String(), Type.Record(Type.String(), Type.Unknown())], { description: 'an object is sent as JSON, a string as is' }),
    ),
    expectStatus: StatusRange,
  },
  { additionalProperties: false },
);
export type HttpStepConfig = StaticDecode<typeof HttpStepConfig>;

/** How much of an unexpected response body is kept as the step's output. */
const SNIPPET_BYTES = 200;

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function encodeBody(step: Pick<HttpStepConfig, 'body'>, headers: Record<string, string>): string | undefined {
  const { body } = step;
  if (body === undefined) return undefined;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (!hasHeader(headers, 'content-type')) headers['content-type'] = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  return text;
}

async function readSnippet(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= SNIPPET_BYTES) break; // leaving the loop destroys the rest of the stream
  }
  return Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8').trim();
}

/** Only a server-side or throttling answer may change on retry; another 4xx is final. */
function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** One HTTP call judged by its status; shared by the `http` and `fence` steps. */
export async function callHttp(
  step: Pick<HttpStepConfig, 'method' | 'url' | 'headers' | 'body' | 'expectStatus'>,
  signal: AbortSignal,
  extraHeaders: Record<string, string> = {},
): Promise<AttemptOutcome> {
  const headers = { ...step.headers, ...extraHeaders };
  const body = encodeBody(step, headers);
  const where = `${step.method} ${redactUrl(step.url)}`;
  try {
    // `reset` closes the connection afterwards: plan steps are rare, a pooled socket would only linger.
    const response = await request(step.url, { method: step.method, headers, body, signal, reset: true });
    const [low, high] = step.expectStatus;
    const status = response.statusCode;
    if (status >= low && status <= high) {
      await response.body.dump();
      return { ok: true, retryable: false, responseStatus: status, output: `${where} answered ${status}` };
    }
    const snippet = await readSnippet(response.body);
    return {
      ok: false,
      retryable: isRetryableStatus(status),
      responseStatus: status,
      output: `${where} answered ${status}, expected ${low}-${high}${snippet ? `: ${snippet}` : ''}`,
    };
  } catch (err) {
    const reason = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
    return { ok: false, retryable: true, output: `${where} failed: ${reason}` };
  }
}

/** Calls an HTTP endpoint (e.g. the standby's admin API) and checks the response status. */
export const httpStep: StepKind<HttpStepConfig> = {
  kind: 'http',
  attempt: (step, signal) => callHttp(step, signal),
  problems: httpProblems,
};

export function httpProblems(step: Pick<HttpStepConfig, 'method' | 'body' | 'expectStatus'>): { path: string[]; message: string }[] {
  const [low, high] = step.expectStatus;
  const found: { path: string[]; message: string }[] = [];
  if (low > high) found.push({ path: ['expectStatus'], message: `the range [${low}, ${high}] is empty; write the lower status first` });
  if (step.method === 'GET' && step.body !== undefined) found.push({ path: ['body'], message: 'a GET request cannot carry a body' });
  return found;
}
