import { describe, expect, it } from 'vitest';
import { maskSecrets, secretsOf } from './secrets.js';

describe('secrets of a check configuration', () => {
  it('finds URL passwords, whole connection strings and values under secret-looking keys', () => {
    const config = {
      kind: 'postgres',
      url: 'postgres://vigil:p%40ss-word@db:5432/app',
      headers: { Authorization: 'Bearer tok-123', accept: 'application/json' },
      timeout: 1_000,
    };
    const secrets = secretsOf(config);
    expect(secrets).toEqual(expect.arrayContaining(['postgres://vigil:p%40ss-word@db:5432/app', 'p%40ss-word', 'p@ss-word', 'Bearer tok-123']));
    expect(secrets).not.toContain('application/json');
    expect(secretsOf(config)).toBe(secrets); // computed once per configuration
  });

  it('masks each of them, the whole connection string first', () => {
    const secrets = secretsOf({ url: 'redis://:hunter2@cache:6379' });
    expect(maskSecrets('cannot reach redis://:hunter2@cache:6379 (password hunter2)', secrets)).toBe('cannot reach REDACTED (password REDACTED)');
    expect(maskSecrets('nothing secret', secrets)).toBe('nothing secret');
  });
});
