import { parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { CheckConfig, runConfiguredCheck } from './registry.js';

const probe = (fields: Record<string, unknown>) => runConfiguredCheck(parseConfigValue(CheckConfig, { kind: 'process', ...fields }, 'test'));

describe('process check', () => {
  it('reports heap use as a percentage of the limit', async () => {
    const result = await probe({ measure: 'heapUsed' });
    expect(result).toMatchObject({ status: 'pass', observedUnit: '%' });
    expect(result.observedValue).toBeGreaterThan(0);
    expect(result.observedValue).toBeLessThan(100);
    expect(result.output).toMatch(/^heap \d+ MiB of \d+ MiB \([\d.]+%\)$/);
    expect((await probe({ measure: 'heapUsed', thresholds: { fail: 0 } })).status).toBe('fail');
  });

  it('reports the event-loop delay since its previous run, and fails when the loop was blocked', async () => {
    await probe({ measure: 'eventLoopDelay' }); // starts the measurement
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blockedUntil = performance.now() + 150;
    while (performance.now() < blockedUntil); // a blocked loop
    await new Promise((resolve) => setTimeout(resolve, 50));
    const blocked = await probe({ measure: 'eventLoopDelay', thresholds: { warn: 50, fail: 100 } });
    expect(blocked).toMatchObject({ status: 'fail', observedUnit: 'ms' });
    expect(blocked.observedValue).toBeGreaterThanOrEqual(100);
    expect(blocked.output).toMatch(/^event-loop delay p99 [\d.]+ms, max [\d.]+ms since the previous run; eventLoopDelay [\d.]+ms ≥ fail threshold 100ms$/);
  });
});
