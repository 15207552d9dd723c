import { parseConfigValue } from '@vigil/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckConfig, runConfiguredCheck } from './registry.js';
import { silentServer } from './test-support/servers.js';
import { postgresBinaries, startPostgres, type PostgresServer } from './test-support/components.js';

const binaries = postgresBinaries();
const configure = (fields: Record<string, unknown>) => parseConfigValue(CheckConfig, { kind: 'postgres', timeout: '5s', ...fields }, 'test');

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as unknown[];
  } finally {
    await client.end();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!binaries)('postgres check against a real PostgreSQL', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;
  beforeAll(async () => {
    primary = await startPostgres(binaries!);
    standby = await primary.startStandby();
    await query(primary.url, 'CREATE TABLE beats (at timestamptz DEFAULT now())');
  }, 90_000);
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('passes on SELECT 1, reporting its response time', async () => {
    const result = await runConfiguredCheck(configure({ url: primary.url }));
    expect(result).toMatchObject({ status: 'pass', output: 'SELECT 1 succeeded', observedUnit: 'ms' });
    expect(result.observedValue).toBeGreaterThan(0);
  });

  it('fails on a wrong password without showing any password', async () => {
    const result = await runConfiguredCheck(configure({ url: primary.url.replace(primary.password, 'not-the-password') }));
    expect(result.status).toBe('fail');
    expect(result.output).toContain('password authentication failed for user "vigil"');
    expect(result.output).not.toContain('not-the-password');
  });

  it('masks the password wherever an error quotes it', async () => {
    // The database name is the password, and PostgreSQL's error quotes the database name.
    const result = await runConfiguredCheck(configure({ url: `${primary.url.replace(/\/postgres$/, '')}/${primary.password}` }));
    expect(result).toMatchObject({ status: 'fail', output: 'database "REDACTED" does not exist' });
  });

  it('fails at its timeout against a server that never answers', async () => {
    const silent = await silentServer();
    try {
      const result = await runConfiguredCheck(configure({ url: `postgres://vigil:x@127.0.0.1:${silent.port}/postgres`, timeout: '300ms' }));
      expect(result).toMatchObject({ status: 'fail', timedOut: true });
      expect(result.durationMs).toBeLessThan(300 + 500);
    } finally {
      await silent.close();
    }
  });

  it('refuses to measure replication lag on a primary', async () => {
    const result = await runConfiguredCheck(configure({ url: primary.url, replicationLag: true }));
    expect(result).toMatchObject({ status: 'fail', output: 'not a standby (pg_is_in_recovery() is false): replication lag cannot be measured' });
  });

  it('measures a standby’s replication lag in seconds, which grows while replay is paused', async () => {
    const lagCheck = configure({ url: standby.url, replicationLag: true, thresholds: { warn: 0.5, fail: 1.5 } });
    // Caught up: no lag, however long ago the primary last wrote.
    await query(primary.url, 'INSERT INTO beats DEFAULT VALUES');
    const caughtUp = await until('the standby to catch up', async () => {
      const result = await runConfiguredCheck(lagCheck);
      return result.observedValue === 0 ? result : undefined;
    });
    expect(caughtUp).toMatchObject({ status: 'pass', observedUnit: 's', output: 'standby, replication lag 0.000s' });

    // Replay paused while the primary keeps writing: the standby falls behind by the age of its last replayed transaction.
    await query(standby.url, 'SELECT pg_wal_replay_pause()');
    try {
      await query(primary.url, 'INSERT INTO beats DEFAULT VALUES');
      const lagging = await until('the lag to reach the fail threshold', async () => {
        const result = await runConfiguredCheck(lagCheck);
        return result.status === 'fail' ? result : undefined;
      });
      expect(lagging.observedValue).toBeGreaterThanOrEqual(1.5);
      expect(lagging.output).toMatch(/^standby, replication lag \d+\.\d{3}s; replicationLag [\d.]+s ≥ fail threshold 1\.5s$/);
    } finally {
      await query(standby.url, 'SELECT pg_wal_replay_resume()');
    }
    const recovered = await until('the standby to catch up again', async () => {
      const result = await runConfiguredCheck(lagCheck);
      return result.status === 'pass' ? result : undefined;
    });
    expect(recovered.observedValue).toBeLessThan(0.5);
  });
});
