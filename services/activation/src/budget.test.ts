import { describe, expect, it } from 'vitest';
import { planBudgetMs, stepBudgetMs, stepView } from './budget.js';
import type { PlanStep } from './plan/steps/index.js';

const step = (over: Partial<PlanStep> = {}): PlanStep =>
  ({ name: 's', kind: 'http', method: 'POST', url: 'http://x', expectStatus: [200, 299], timeout: 5_000, retries: 0, retryDelay: 1_000, onFailure: 'abort', idempotent: false, ...over }) as PlanStep;

describe('step budgets (the plan runner\'s worst case)', () => {
  it('one attempt: its timeout', () => {
    expect(stepBudgetMs(step())).toBe(5_000);
  });

  it('retries: every attempt times out, with the doubling backoff between attempts', () => {
    // 4 attempts of 2 s, waits of 1 s, 2 s, 4 s before the retries.
    expect(stepBudgetMs(step({ timeout: 2_000, retries: 3, retryDelay: 1_000 }))).toBe(8_000 + 7_000);
  });

  it('the backoff is capped at 60 s, as the runner caps it', () => {
    expect(stepBudgetMs(step({ timeout: 1_000, retries: 3, retryDelay: 40_000 }))).toBe(4_000 + 40_000 + 60_000 + 60_000);
  });

  it('a step view names the attempts and the budget; a plan sums its steps', () => {
    expect(stepView(step({ name: 'a', timeout: 2_000, retries: 1, retryDelay: 500 }))).toEqual({ name: 'a', kind: 'http', timeoutMs: 2_000, attempts: 2, budgetMs: 4_500 });
    expect(planBudgetMs([step(), step({ timeout: 1_000 })])).toBe(6_000);
  });
});
