import { describe, expect, it } from 'vitest';
import { RESPONSE_TIME, type Measurement } from './check.js';
import { applyThresholds, thresholdProblems, thresholdStatus } from './thresholds.js';

const FREE: Measurement = { name: 'free', unit: '%', worse: 'lower' };

describe('thresholds', () => {
  it.each([
    [10, 'pass'],
    [100, 'warn'],
    [150, 'warn'],
    [500, 'fail'],
    [900, 'fail'],
  ] as const)('a response time of %sms against warn 100, fail 500: %s', (value, status) => {
    expect(thresholdStatus(value, { warn: 100, fail: 500 }, 'higher')).toBe(status);
  });

  it.each([
    [50, 'pass'],
    [10, 'warn'],
    [5, 'fail'],
    [1, 'fail'],
  ] as const)('%s%% free against warn 10, fail 5: %s', (value, status) => {
    expect(thresholdStatus(value, { warn: 10, fail: 5 }, 'lower')).toBe(status);
  });

  it('only makes a result worse, and says which threshold it reached', () => {
    const found = { status: 'pass', durationMs: 1, observedValue: 120, output: 'HTTP 200' } as const;
    expect(applyThresholds(found, { warn: 100 }, RESPONSE_TIME)).toEqual({ ...found, status: 'warn', output: 'HTTP 200; responseTime 120ms ≥ warn threshold 100ms' });
    const failed = { status: 'fail', durationMs: 1, observedValue: 1, output: 'HTTP 503' } as const;
    expect(applyThresholds(failed, { warn: 100 }, RESPONSE_TIME)).toBe(failed);
    const unobserved = { status: 'pass', durationMs: 1 } as const;
    expect(applyThresholds(unobserved, { fail: 0 }, FREE)).toBe(unobserved);
    expect(applyThresholds(found, undefined, RESPONSE_TIME)).toBe(found);
  });

  it('wants the warn limit before the fail limit, in the direction things get worse', () => {
    expect(thresholdProblems({ warn: 100, fail: 500 }, RESPONSE_TIME)).toEqual([]);
    expect(thresholdProblems({ warn: 500, fail: 100 }, RESPONSE_TIME)).toEqual([
      'warn 500 must be at most fail 100 (a responseTime gets worse as it gets higher)',
    ]);
    expect(thresholdProblems({ warn: 10, fail: 5 }, FREE)).toEqual([]);
    expect(thresholdProblems({ warn: 5, fail: 10 }, FREE)).toEqual(['warn 5 must be at least fail 10 (a free gets worse as it gets lower)']);
    expect(thresholdProblems({ fail: 10 }, FREE)).toEqual([]);
  });
});
