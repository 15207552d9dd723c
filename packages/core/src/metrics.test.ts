import { spawnSync } from 'node:child_process';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createRegistry } from './metrics.js';
import { findBinary } from './test-support/components.js';

describe('createRegistry', () => {
  it('exports runtime metrics and build info without the _total gauges promtool rejects', async () => {
    const registry = createRegistry('watchdog', '1.2.3');
    const text = await registry.metrics();
    expect(text).toContain('vigil_build_info{service="watchdog",version="1.2.3"} 1');
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_active_handles ');
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
  });

  const promtool = findBinary('promtool', 'prometheus');
  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const registry = createRegistry('activation', '0.1.0');
    new Counter({ name: 'vigil_example_total', help: 'An example counter.', registers: [registry] }).inc();
    const result = spawnSync(promtool!, ['check', 'metrics'], { input: await registry.metrics(), encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
