import type { CheckResult } from '@vigil/checks';
import type { HealthStatus } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import type { HealthCheckItem } from './config.js';
import { overallStatus, singleFlight, type CheckOutcome } from './health.js';

const outcome = (status: HealthStatus, critical = true): CheckOutcome => ({
  check: { name: 'x', kind: 'tcp', host: 'h', port: 1, timeout: 1_000, critical } satisfies HealthCheckItem,
  result: { status, durationMs: 1 } satisfies CheckResult,
  time: new Date(0),
});

describe('overallStatus', () => {
  it.each<[string, CheckOutcome[], HealthStatus]>([
    ['no checks', [], 'pass'],
    ['all pass', [outcome('pass'), outcome('pass', false)], 'pass'],
    ['a critical warn', [outcome('pass'), outcome('warn')], 'warn'],
    ['a non-critical fail', [outcome('pass'), outcome('fail', false)], 'warn'],
    ['a critical fail', [outcome('fail'), outcome('warn', false)], 'fail'],
  ])('%s', (_name, outcomes, expected) => expect(overallStatus(outcomes)).toBe(expected));
});

describe('singleFlight', () => {
  it('shares one run between concurrent callers, and starts afresh afterwards', async () => {
    let runs = 0;
    const shared = singleFlight(async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return runs;
    });
    expect(await Promise.all([shared(), shared(), shared()])).toEqual([1, 1, 1]);
    expect(await shared()).toBe(2);
  });

  it('does not keep a failed run', async () => {
    let runs = 0;
    const shared = singleFlight(() => (++runs === 1 ? Promise.reject(new Error('first')) : Promise.resolve(runs)));
    await expect(shared()).rejects.toThrow('first');
    expect(await shared()).toBe(2);
  });
});
