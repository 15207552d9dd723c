import { setTimeout as sleep } from 'node:timers/promises';
import Type, { type StaticDecode } from 'typebox';
import { checks, runCheck } from '@vigil/checks';
import { Duration, HttpUrl } from '@vigil/core';
import { stepBaseProperties, type AttemptOutcome, type StepKind } from './step.js';

export const WaitHealthyStepConfig = Type.Object(
  {
    ...stepBaseProperties,
    // Polling is the point of this step: one attempt lasts until the endpoint passes or this runs out.
    timeout: Duration({ default: '2m', description: 'how long to wait for a passing answer' }),
    kind: Type.Literal('wait-healthy'),
    url: HttpUrl({ description: 'a health endpoint (health+json or any 2xx)' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    interval: Duration({ default: '1s', description: 'pause between two polls' }),
    probeTimeout: Duration({ default: '2s', description: 'limit for one poll' }),
  },
  { additionalProperties: false },
);
export type WaitHealthyStepConfig = StaticDecode<typeof WaitHealthyStepConfig>;

/** Polls a health endpoint (with the health-check's HTTP check) until it passes or the step times out. */
export const waitHealthyStep: StepKind<WaitHealthyStepConfig> = {
  kind: 'wait-healthy',
  async attempt(step, signal): Promise<AttemptOutcome> {
    const config = { kind: 'http' as const, url: step.url, method: 'GET', headers: step.headers, expectStatus: ['2xx'], timeout: step.probeTimeout };
    for (let polls = 1; ; polls++) {
      const result = await runCheck(checks.http, config, step.probeTimeout, signal);
      if (result.status !== 'fail') {
        return { ok: true, retryable: false, ...(result.httpStatus !== undefined && { responseStatus: result.httpStatus }), output: `healthy after ${polls} poll(s): ${result.output ?? result.status}` };
      }
      if (signal.aborted) return { ok: false, retryable: true, output: `not healthy: ${result.output ?? 'fail'}` };
      try {
        await sleep(step.interval, undefined, { signal });
      } catch {
        return { ok: false, retryable: true, output: `not healthy: ${result.output ?? 'fail'}` };
      }
    }
  },
};
