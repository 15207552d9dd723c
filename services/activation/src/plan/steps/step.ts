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
  onFailure: Type.Union([Type.Literal('abort'), Type.Literal('continue')], {
    default: 'abort',
    description: 'abort the plan when this step fails (after its retries), or go on with the next step',
  }),
  idempotent: Type.Boolean({
    default: false,
    description: 'running it twice has the effect of running it once: after a restart mid-step it may be run again',
  }),
};

/** What a step may know about the activation it belongs to, and the alerting channels. */
export interface StepContext {
  activationId: string;
  target: string;
  kind: 'failover' | 'failback';
  /** The fencing epoch this activation establishes. */
  epoch: number;
  /** Sends an alert through every configured channel; true when at least one receiver took it. */
  notify(alert: PageRequest): Promise<{ delivered: boolean; output: string }>;
}

/** What a page says; the alert around it (ids, times, labels) is made by the service. */
export interface PageRequest {
  severity: 'info' | 'warning' | 'critical';
  summary: string;
  annotations?: Record<string, string>;
  /** The target the page is about, and what pages about one activation share (set by the service). */
  target?: string;
  dedupKey?: string;
}

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
  attempt(step: C, signal: AbortSignal, context: StepContext): Promise<AttemptOutcome>;
  /** Checks the schema cannot express; messages are relative to the step. */
  problems?(step: C): { path: string[]; message: string }[];
}
