import Type from 'typebox';
import { Duration } from '@vigil/core';

/**
 * Settings every step has, whatever its kind. The runner owns them (timeout, retries,
 * backoff), so a step kind only implements one attempt.
 */
export const stepBaseProperties = {
  name: Type.String({ minLength: 1, maxLength: 100, description: 'unique within the plan; names the step in records and metrics' }),
  timeout: Duration({ default: '5s', description: 'limit for one attempt' }),
  retries: Type.Integer({ minimum: 0, maximum: 20, default: 0, description: 'extra attempts after the first' }),
  retryDelay: Duration({ default: '1s', description: 'delay before the first retry; doubles on each further retry' }),
};

/** What one attempt of a step produced. */
export interface AttemptOutcome {
  ok: boolean;
  /** False when trying again cannot help (e.g. a 4xx other than 408/429): the runner stops retrying. */
  retryable: boolean;
  responseStatus?: number;
  /** Why it failed, or a short note of what happened; never a secret. */
  output?: string;
}

/**
 * One kind of plan step. `attempt` never throws: an error is a failed outcome saying why.
 * It should stop promptly when `signal` aborts (timeout or shutdown); the runner stops
 * waiting for it then anyway.
 */
export interface StepKind<C> {
  kind: string;
  attempt(step: C, signal: AbortSignal): Promise<AttemptOutcome>;
  /** Checks the schema cannot express; messages are relative to the step. */
  problems?(step: C): { path: string[]; message: string }[];
}
