import { createLogger } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { ControlTargets } from './control.js';
import type { Probe, ProbeConfig, ProbeResult } from './probe.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const answered: ProbeResult = { status: 'fail', durationMs: 1, httpStatus: 503 };
const silent: ProbeResult = { status: 'fail', durationMs: 1000, output: 'timed out after 1000ms' };
const targets = ['a', 'b', 'c'].map((name) => ({ name, url: `http://${name}.example/`, timeout: 1000 }));

function probeBy(results: Record<string, ProbeResult>): Probe & { calls: number } {
  const probe = Object.assign((t: ProbeConfig) => {
    probe.calls++;
    return Promise.resolve(t.kind === 'http' ? results[new URL(t.url).hostname.split('.')[0]!]! : answered);
  }, { calls: 0 });
  return probe;
}

describe('control targets', () => {
  it.each([
    [{ a: answered, b: answered, c: silent }, true],
    [{ a: answered, b: silent, c: silent }, false],
    [{ a: silent, b: silent, c: silent }, false],
  ])('reachable when a majority answers (any status): %#', async (results, reachable) => {
    expect(await new ControlTargets(targets, probeBy(results), logger).reachable()).toBe(reachable);
  });

  it('is a tie, not a majority, with half of them', async () => {
    const two = targets.slice(0, 2);
    expect(await new ControlTargets(two, probeBy({ a: answered, b: silent }), logger).reachable()).toBe(false);
  });

  it('trusts the probes without control targets', async () => {
    expect(await new ControlTargets([], probeBy({}), logger).reachable()).toBe(true);
  });

  it('shares one check between monitors failing at the same moment', async () => {
    let clock = 0;
    const probe = probeBy({ a: answered, b: answered, c: answered });
    const control = new ControlTargets(targets, probe, logger, () => clock);
    await Promise.all([control.reachable(), control.reachable(), control.reachable()]);
    await control.reachable();
    expect(probe.calls).toBe(3);
    clock += 5000;
    await control.reachable();
    expect(probe.calls).toBe(6);
  });
});
