import type { HealthResponse } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import type { Evaluation } from './health.js';
import { createHealthSource, Snapshot } from './serving.js';

const config = { serviceId: 'primary', version: '1.0.0', deadline: 1_000, cache: { ttl: 0 } };

function evaluations(clock: { now: number }) {
  let count = 0;
  return {
    get count() {
      return count;
    },
    evaluate: () => {
      count++;
      const response: HealthResponse = { status: 'pass', serviceId: 'primary' };
      return Promise.resolve<Evaluation>({ status: 'pass', outcomes: [], response, slow: [], at: clock.now });
    },
  };
}

describe('Snapshot', () => {
  it('serialises each detail level once, and counts its age in whole seconds', () => {
    const evaluation: Evaluation = { status: 'fail', outcomes: [], response: { status: 'fail', checks: {} }, slow: [], at: 10_000 };
    const snapshot = new Snapshot(evaluation, config);
    expect(snapshot.httpStatus).toBe(503);
    expect(snapshot.body('full')).toBe(snapshot.body('full'));
    expect(JSON.parse(snapshot.body('status').text)).toEqual({ status: 'fail', serviceId: 'primary' });
    expect(snapshot.body('status').length).toBe(String(Buffer.byteLength(snapshot.body('status').text)));
    expect(snapshot.ageSeconds(10_999)).toBe(0);
    expect(snapshot.ageSeconds(12_500)).toBe(2);
  });
});

describe('createHealthSource', () => {
  it('without a TTL, never serves an old result', async () => {
    const clock = { now: 0 };
    const e = evaluations(clock);
    const source = createHealthSource({ evaluate: e.evaluate, config, now: () => clock.now });
    await source.next();
    expect(source.fresh()).toBeUndefined();
  });

  it('serves a result for the TTL, then asks for a new one', async () => {
    const clock = { now: 0 };
    const e = evaluations(clock);
    const source = createHealthSource({ evaluate: e.evaluate, config: { ...config, cache: { ttl: 1_000 } }, now: () => clock.now });
    expect(source.fresh()).toBeUndefined();
    const first = await source.next();
    clock.now = 999;
    expect(source.fresh()).toBe(first);
    clock.now = 1_000;
    expect(source.fresh()).toBeUndefined();
    expect(e.count).toBe(1);
  });

  it('in background mode evaluates on its interval, and stops', async () => {
    const clock = { now: Date.now() };
    const e = evaluations(clock);
    const source = createHealthSource({ evaluate: e.evaluate, config: { ...config, deadline: 20, background: { interval: 40 } } });
    source.start();
    source.start(); // once
    await new Promise((resolve) => setTimeout(resolve, 150));
    source.stop();
    const counted = e.count;
    expect(counted).toBeGreaterThanOrEqual(2);
    expect(counted).toBeLessThanOrEqual(5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(e.count).toBe(counted);
  });

  it('in background mode stops trusting a result once the next run is clearly overdue', async () => {
    const clock = { now: 0 };
    const e = evaluations(clock);
    const source = createHealthSource({ evaluate: e.evaluate, config: { ...config, background: { interval: 5_000 } }, now: () => clock.now });
    const first = await source.next();
    clock.now = 10_999; // 2 × interval + deadline
    expect(source.fresh()).toBe(first);
    clock.now = 11_000;
    expect(source.fresh()).toBeUndefined();
  });
});
