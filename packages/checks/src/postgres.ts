import { Duration } from '@vigil/core';
import pg from 'pg';
import Type, { type StaticDecode } from 'typebox';
import { RESPONSE_TIME, type Check, type Measurement } from './check.js';
import { abortText, errorText, fail, pass } from './outcome.js';

export const PostgresCheckConfig = Type.Object(
  {
    kind: Type.Literal('postgres'),
    url: Type.String({
      pattern: '^postgres(ql)?://',
      'x-expected': 'a connection URL such as "postgres://vigil:${PGPASSWORD}@db:5432/app"',
      description: 'libpq connection URL; its password never appears in outputs',
    }),
    replicationLag: Type.Boolean({
      default: false,
      description: 'on a standby, measure the seconds since the last replayed transaction (0 while caught up)',
    }),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);
export type PostgresCheckConfig = StaticDecode<typeof PostgresCheckConfig>;

const REPLICATION_LAG: Measurement = { name: 'replicationLag', unit: 's', worse: 'higher' };

// Caught up (everything received is replayed): no lag, however long ago the primary last wrote.
// Otherwise: how old the last replayed transaction is, which grows while replay falls behind.
const LAG_QUERY = `SELECT pg_is_in_recovery() AS standby,
  CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
       ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8 AS lag`;

/** A PostgreSQL check: connects and runs `SELECT 1`, or measures a standby's replication lag. */
export const postgres: Check<PostgresCheckConfig> = {
  kind: 'postgres',
  componentType: 'datastore',
  measurement: (config) => (config.replicationLag ? REPLICATION_LAG : RESPONSE_TIME),
  async run(config, signal) {
    const client = new pg.Client({
      connectionString: config.url,
      connectionTimeoutMillis: config.timeout,
      statement_timeout: config.timeout,
      application_name: 'vigil-health-check',
    });
    // pg reports a lost connection as an 'error' event; the query's rejection says it already.
    client.on('error', () => undefined);
    const close = () => void client.end().catch(() => undefined);
    signal.addEventListener('abort', close, { once: true });
    try {
      await client.connect();
      if (!config.replicationLag) {
        await client.query('SELECT 1');
        return pass('SELECT 1 succeeded');
      }
      const { rows } = await client.query<{ standby: boolean; lag: number }>(LAG_QUERY);
      const row = rows[0]!;
      if (!row.standby) return fail('not a standby (pg_is_in_recovery() is false): replication lag cannot be measured');
      return pass(`standby, replication lag ${row.lag.toFixed(3)}s`, { observedValue: row.lag, observedUnit: REPLICATION_LAG.unit });
    } catch (err) {
      return fail(signal.aborted ? abortText(signal) : errorText(err));
    } finally {
      signal.removeEventListener('abort', close);
      close();
    }
  },
};
