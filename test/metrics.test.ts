import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, getJson, startSystem, waitFor, type ServiceName, type System } from '@vigil/demo';
import { findBinary } from '../packages/core/src/test-support/components.js';

const promtool = findBinary('promtool', 'prometheus');

const keySeries: Record<ServiceName, string[]> = {
  'health-check': ['vigil_health_status', 'vigil_health_check_status', 'vigil_health_check_duration_seconds_bucket', 'vigil_build_info'],
  watchdog: ['probe_success{monitor="primary"} 1', 'probe_duration_seconds', 'vigil_monitor_consecutive_failures', 'vigil_monitor_state', 'vigil_watchdog_last_cycle_timestamp_seconds'],
  activation: ['vigil_activation_epoch{target="primary"} 0', 'vigil_active_side{target="primary",side="primary"} 1', 'vigil_build_info'],
};

let system: System;
beforeAll(async () => {
  system = await startSystem({ timing: FAST });
  await waitFor('a first probe', async () => (await getJson<{ monitors: { state: string }[] }>(system.url('watchdog', '/v1/monitors'))).body.monitors[0]?.state === 'up');
});
afterAll(() => system.stop());

describe('/metrics of every service', () => {
  for (const [service, series] of Object.entries(keySeries) as [ServiceName, string[]][]) {
    it(`${service}: key series present${promtool ? ', promtool check metrics clean' : ''}`, async () => {
      const res = await fetch(system.url(service, '/metrics'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const s of series) expect(text).toContain(s);
      if (promtool) {
        const check = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(check.stdout + check.stderr).toBe('');
        expect(check.status).toBe(0);
      }
    });
  }
});
