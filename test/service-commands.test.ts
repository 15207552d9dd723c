import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceMain, startSystem, type ServiceName, type System } from '@vigil/demo';

/** The operator commands every service's entry point understands (what container HEALTHCHECKs run). */
describe('service commands', () => {
  let system: System;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(() => system.stop());

  const run = (name: ServiceName, args: string[]) =>
    spawnSync(process.execPath, [serviceMain(name), ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...system.secrets } });

  for (const name of ['health-check', 'watchdog', 'activation'] as const) {
    it(`${name}: check-config accepts its config and healthcheck passes while it runs`, () => {
      const checked = run(name, ['check-config', '--config', system.configPath(name)]);
      expect(checked.stderr).toBe('');
      expect(checked.stdout).toBe(`vigil-${name}: ${system.configPath(name)}: valid\n`);
      expect(checked.status).toBe(0);
      const health = run(name, ['healthcheck', '--config', system.configPath(name)]);
      expect(health.stderr).toBe('');
      expect(health.status).toBe(0);
    });
  }

  it('healthcheck fails, naming the address, when the service is not running', async () => {
    await system.services.watchdog.stop('SIGTERM');
    const health = run('watchdog', ['healthcheck', '--config', system.configPath('watchdog')]);
    expect(health.status).toBe(1);
    expect(health.stderr).toContain(`vigil-watchdog: not ready: ${system.url('watchdog', '/readyz')}: fetch failed`);
    expect(health.stderr).toContain('ECONNREFUSED');
  });

  it('check-config exits 2 with the problems of a bad config, and an unknown command is named', () => {
    const path = join(system.settings.dataDir, 'bad-activation.yaml');
    writeFileSync(path, 'server: { port: high }\n');
    const checked = run('activation', ['check-config', '--config', path]);
    expect(checked.status).toBe(2);
    expect(checked.stderr).toMatch(/^ {2}server\.port: /m);
    const unknown = run('activation', ['chek-config']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('vigil-activation: unknown command "chek-config"; use one of: run, check-config, healthcheck, export, import, break-glass (then --config <file>)\n');
  });
});
