import { ConfigError, parseConfigValue, Type } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { CheckConfig, checkConfigWith, checks } from './registry.js';

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

  it('rejects an unknown kind', () => {
    expect(() => parseConfigValue(CheckConfig, { kind: 'smtp' }, 'test')).toThrow(ConfigError);
  });

  it('has a check for every kind', () => {
    for (const [kind, check] of Object.entries(checks)) expect(check.kind).toBe(kind);
  });
});
