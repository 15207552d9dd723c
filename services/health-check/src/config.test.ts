import { collectConfigProblems, parseConfigText, parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { HealthCheckConfig } from './config.js';

const parse = (raw: unknown) => parseConfigValue(HealthCheckConfig, raw, 'health-check.yaml');

const problemsOf = (raw: unknown) => collectConfigProblems(() => parse(raw));

describe('health-check configuration', () => {
  it('works empty, with every default', () => {
    expect(parse({})).toEqual({
      server: { host: '127.0.0.1', port: 8081 },
      serviceId: 'primary',
      version: '0.1.0',
      deadline: 2_000,
      cache: { ttl: 0 },
      details: { anonymous: 'full' },
      checks: [
        { name: 'app', kind: 'http', critical: true, url: 'http://127.0.0.1:8090/health', method: 'GET', expectStatus: ['2xx'], timeout: 1_000 },
      ],
    });
  });

  it('reads checks of each kind from YAML', () => {
    const config = parseConfigText(
      HealthCheckConfig,
      [
        'serviceId: primary-eu',
        'deadline: 3s',
        'checks:',
        '  - { name: app, kind: http, url: "http://127.0.0.1:8090/health", timeout: 1500ms }',
        '  - { name: db, kind: tcp, host: 127.0.0.1, port: 5432, critical: false }',
      ].join('\n'),
      'health-check.yaml',
    );
    expect(config.deadline).toBe(3_000);
    expect(config.checks).toMatchObject([
      { name: 'app', kind: 'http', timeout: 1_500, critical: true },
      { name: 'db', kind: 'tcp', port: 5432, timeout: 1_000, critical: false },
    ]);
  });

  it('rejects a duplicate check name, naming its path', () => {
    const app = { name: 'app', kind: 'http', url: 'http://127.0.0.1:8090/health' };
    expect(problemsOf({ checks: [app, { ...app }] })).toEqual(['checks[1].name: duplicate check name "app" (already used by checks[0])']);
  });

  it('rejects a check timeout that does not end before the deadline', () => {
    expect(problemsOf({ deadline: '2s', checks: [{ name: 'db', kind: 'tcp', host: 'db', port: 5432, timeout: '2s' }] })).toEqual([
      'checks[0].timeout: 2s must be shorter than the 2s deadline',
    ]);
  });

  it('names the path of a misspelt key or a bad value', () => {
    expect(problemsOf({ checks: [{ name: 'db', kind: 'tcp', host: 'db', port: 5432, timout: '1s' }] })).toContain(
      'checks[0].timout: unknown key (check its spelling and indentation)',
    );
    expect(problemsOf({ deadline: 'soon' })).toEqual(['deadline: expected a duration such as "10s", got "soon"']);
    expect(problemsOf({ checks: [{ name: 'app:db', kind: 'tcp', host: 'db', port: 5432 }] }).join('\n')).toContain('checks[0].name: expected a name of letters');
  });

  it('reads the serving options; with a token, anonymous callers get the status only by default', () => {
    const config = parse({ cache: { ttl: '1s' }, background: { interval: '5s' }, details: { token: 'x'.repeat(16) } });
    expect(config).toMatchObject({ cache: { ttl: 1_000 }, background: { interval: 5_000 }, details: { token: 'x'.repeat(16), anonymous: 'status' } });
    expect(parse({ details: { token: 'x'.repeat(16), anonymous: 'names' } }).details.anonymous).toBe('names');
  });

  it('rejects a short token without echoing it, a background interval shorter than the deadline, and disordered thresholds', () => {
    expect(problemsOf({ details: { token: 'short-secret' } })).toEqual(['details.token: must not have fewer than 16 characters, got a string (hidden: it looks like a secret)']);
    expect(problemsOf({ deadline: '2s', background: { interval: '1s' } })).toEqual(['background.interval: 1s must not be shorter than the 2s deadline']);
    expect(problemsOf({ checks: [{ name: 'db', kind: 'postgres', url: 'postgres://db/app', replicationLag: true, thresholds: { warn: 30, fail: 5 } }] })).toEqual([
      'checks[0].thresholds: warn 30 must be at most fail 5 (a replicationLag gets worse as it gets higher)',
    ]);
  });
});
