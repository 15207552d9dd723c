import { ConfigError, parseConfigValue, Type } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { CheckConfig, checkConfigProblems, checkConfigWith, checks, measurementOf } from './registry.js';

describe('check configuration', () => {
  it('decodes each kind with its defaults', () => {
    expect(parseConfigValue(CheckConfig, { kind: 'http', url: 'http://127.0.0.1:8090/health' }, 'test')).toEqual({
      kind: 'http',
      url: 'http://127.0.0.1:8090/health',
      method: 'GET',
      expectStatus: ['2xx'],
      timeout: 1_000,
    });
    expect(parseConfigValue(CheckConfig, { kind: 'tcp', host: 'db', port: 5432, timeout: '250ms' }, 'test')).toEqual({
      kind: 'tcp',
      host: 'db',
      port: 5432,
      timeout: 250,
    });
  });

  it('keeps the fields a service adds, and rejects unknown keys', () => {
    const Item = checkConfigWith({ name: Type.String() });
    expect(parseConfigValue(Item, { name: 'db', kind: 'tcp', host: 'db', port: 5432 }, 'test')).toMatchObject({ name: 'db', timeout: 1_000 });
    expect(() => parseConfigValue(Item, { name: 'db', kind: 'tcp', host: 'db', port: 5432, timout: '1s' }, 'test')).toThrow(/timout: unknown key/);
  });

  it('decodes the newer kinds and common thresholds', () => {
    const parse = (raw: Record<string, unknown>) => parseConfigValue(CheckConfig, raw, 'test');
    expect(parse({ kind: 'dns', host: 'db.internal' })).toEqual({ kind: 'dns', host: 'db.internal', type: 'A', timeout: 1_000 });
    expect(parse({ kind: 'postgres', url: 'postgres://u:p@db/app', thresholds: { warn: 5, fail: 30 } })).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@db/app',
      replicationLag: false,
      thresholds: { warn: 5, fail: 30 },
      timeout: 1_000,
    });
    expect(parse({ kind: 'redis', url: 'redis://cache:6379', role: 'replica' })).toMatchObject({ role: 'replica' });
    expect(parse({ kind: 'disk', path: '/var/lib/postgresql' })).toMatchObject({ kind: 'disk', timeout: 1_000 });
    expect(parse({ kind: 'process', measure: 'heapUsed' })).toMatchObject({ kind: 'process', measure: 'heapUsed' });
    expect(() => parse({ kind: 'redis', url: 'http://cache' })).toThrow(/url: expected a URL such as "redis:/);
  });

  it('measures what each kind observes, in the direction it gets worse', () => {
    const parse = (raw: Record<string, unknown>) => parseConfigValue(CheckConfig, raw, 'test');
    expect(measurementOf(parse({ kind: 'tcp', host: 'db', port: 1 }))).toEqual({ name: 'responseTime', unit: 'ms', worse: 'higher' });
    expect(measurementOf(parse({ kind: 'postgres', url: 'postgres://db/app', replicationLag: true }))).toEqual({ name: 'replicationLag', unit: 's', worse: 'higher' });
    expect(measurementOf(parse({ kind: 'disk', path: '/' }))).toEqual({ name: 'free', unit: '%', worse: 'lower' });
    expect(checkConfigProblems(parse({ kind: 'disk', path: '/', thresholds: { warn: 5, fail: 10 } }))).toEqual([
      'thresholds: warn 5 must be at least fail 10 (a free gets worse as it gets lower)',
    ]);
  });

  it('rejects an unknown kind', () => {
    expect(() => parseConfigValue(CheckConfig, { kind: 'smtp' }, 'test')).toThrow(ConfigError);
  });

  it('has a check for every kind', () => {
    for (const [kind, check] of Object.entries(checks)) expect(check.kind).toBe(kind);
  });
});
