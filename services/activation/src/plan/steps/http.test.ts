import { afterEach, describe, expect, it } from 'vitest';
import Value from 'typebox/value';
import { fakeEndpoint } from '../../test-support/fixtures.js';
import { httpStep, HttpStepConfig } from './http.js';
import type { StepContext } from './step.js';

const context: StepContext = { activationId: 'act_1', target: 'primary', kind: 'failover', epoch: 1, notify: () => Promise.resolve({ delivered: true, output: '' }) };

let endpoint: Awaited<ReturnType<typeof fakeEndpoint>> | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

const stepFor = (url: string, extra: Record<string, unknown> = {}) =>
  Value.Decode(HttpStepConfig, Value.Default(HttpStepConfig, { name: 's', kind: 'http', url, ...extra }));

describe('http step', () => {
  it('sends the configured method, headers and body', async () => {
    endpoint = await fakeEndpoint();
    const outcome = await httpStep.attempt(
      stepFor(`${endpoint.url}/x`, { method: 'PUT', headers: { authorization: 'Bearer t' }, body: 'plain text' }),
      AbortSignal.timeout(10_000),
      context,
    );
    expect(outcome).toMatchObject({ ok: true, responseStatus: 200 });
    expect(endpoint.calls[0]).toMatchObject({ method: 'PUT', body: 'plain text' });
    expect(endpoint.calls[0]!.headers).toMatchObject({ authorization: 'Bearer t', 'content-type': 'text/plain; charset=utf-8' });
  });

  it('accepts any status in the expected range and explains one outside it', async () => {
    endpoint = await fakeEndpoint((_n, _req, res) => {
      res.statusCode = 409;
      res.end('already enabled');
    });
    expect(await httpStep.attempt(stepFor(endpoint.url, { expectStatus: [200, 409] }), AbortSignal.timeout(10_000), context)).toMatchObject({ ok: true });
    expect(await httpStep.attempt(stepFor(endpoint.url), AbortSignal.timeout(10_000), context)).toEqual({
      ok: false,
      retryable: false,
      responseStatus: 409,
      output: `POST ${endpoint.url}/ answered 409, expected 200-299: already enabled`,
    });
  });

  it('reports a connection failure as retryable without throwing, and hides URL credentials', async () => {
    endpoint = await fakeEndpoint();
    const url = endpoint.url.replace('http://', 'http://admin:pa55@');
    await endpoint.close();
    endpoint = undefined;
    const outcome = await httpStep.attempt(stepFor(url), AbortSignal.timeout(10_000), context);
    expect(outcome).toMatchObject({ ok: false, retryable: true });
    expect(outcome.output).not.toContain('pa55');
  });
});
