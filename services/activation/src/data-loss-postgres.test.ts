import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinaries, startPostgres, type PostgresServer } from '../../../packages/checks/src/test-support/components.js';
import { measureLag } from './precondition.js';

// Absent binaries skip (a failure under VIGIL_REQUIRE_COMPONENTS), with a message saying what to install.
const binaries = postgresBinaries();

async function query(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const source = (url: string) => ({ kind: 'postgres' as const, url, timeout: 5_000, maxDataLoss: 1_000 });
const never = new AbortController().signal;

describe.skipIf(!binaries)('data-loss guard on a real PostgreSQL standby', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;
  beforeAll(async () => {
    primary = await startPostgres(binaries!);
    standby = await primary.startStandby();
    await query(primary.url, 'CREATE TABLE writes (at timestamptz DEFAULT now())');
  }, 90_000);
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('measures the standby’s lag, which grows while replay is paused; a primary’s lag is unknown', async () => {
    const caughtUp = await measureLag(source(standby.url), never);
    expect(caughtUp.lagMs).toBeGreaterThanOrEqual(0);

    await query(standby.url, 'SELECT pg_wal_replay_pause()');
    try {
      await query(primary.url, 'INSERT INTO writes DEFAULT VALUES');
      let lag = await measureLag(source(standby.url), never);
      const deadline = Date.now() + 20_000;
      while ((lag.lagMs ?? 0) < 1_500 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        lag = await measureLag(source(standby.url), never);
      }
      expect(lag.lagMs).toBeGreaterThanOrEqual(1_500);
    } finally {
      await query(standby.url, 'SELECT pg_wal_replay_resume()');
    }

    const onPrimary = await measureLag(source(primary.url), never);
    expect(onPrimary.lagMs).toBeUndefined();
    expect(onPrimary.output).toContain('not a standby');
    expect(onPrimary.output).not.toContain(decodeURIComponent(new URL(primary.url).password));
  }, 60_000);
});
