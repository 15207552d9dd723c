import Type, { type Static } from 'typebox';
import { MAX_RETRY_DELAY_MS } from './plan/runner.js';
import type { PlanStep } from './plan/steps/index.js';

/** A plan step as the API shows it: its limits and its worst case. */
export const StepView = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  /** Limit of one attempt. */
  timeoutMs: Type.Number(),
  /** 1 + retries. */
  attempts: Type.Integer({ minimum: 1 }),
  /** Worst case: every attempt times out, with the runner's backoff between attempts. */
  budgetMs: Type.Number(),
});
export type StepView = Static<typeof StepView>;

/**
 * The longest a step can take as the plan runner runs it (plan/runner.ts): each attempt is cut at
 * `timeout`; before retry n (1-based) it waits `retryDelay × 2^(n−1)`, at most MAX_RETRY_DELAY_MS.
 */
export function stepBudgetMs(step: Pick<PlanStep, 'timeout' | 'retries' | 'retryDelay'>): number {
  let total = step.timeout * (step.retries + 1);
  for (let retry = 1; retry <= step.retries; retry++) total += Math.min(step.retryDelay * 2 ** (retry - 1), MAX_RETRY_DELAY_MS);
  return total;
}

export function stepView(step: PlanStep): StepView {
  return { name: step.name, kind: step.kind, timeoutMs: step.timeout, attempts: step.retries + 1, budgetMs: stepBudgetMs(step) };
}

/** The worst case of a whole plan: every step at its worst (a step that fails after its retries aborts earlier, so this bounds it). */
export function planBudgetMs(plan: readonly PlanStep[]): number {
  return plan.reduce((sum, step) => sum + stepBudgetMs(step), 0);
}
