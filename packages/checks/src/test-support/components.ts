import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeListenPort } from '../../../core/src/ports.js';
import { findBinary } from '../../../core/src/test-support/components.js';

/**
 * Real PostgreSQL and Redis servers from local binaries, on 127.0.0.1 at ephemeral ports, for
 * tests. Absent binaries skip the test with a message (a failure under VIGIL_REQUIRE_COMPONENTS).
 */

/** A PostgreSQL binary: on the PATH, or in Debian's versioned directory (not on the PATH there). */
export function findPostgresBinary(name: string): string | undefined {
  try {
    const onPath = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    if (onPath) return onPath;
  } catch {
    // not on the PATH: look in /usr/lib/postgresql/<version>/bin
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const candidate = join(root, version, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  return findBinary(name, 'postgresql');
}

/** The PostgreSQL binaries the tests need, or undefined (skip) when one is missing. */
export function postgresBinaries(): { initdb: string; pgCtl: string; pgBasebackup: string } | undefined {
  const initdb = findPostgresBinary('initdb');
  const pgCtl = findPostgresBinary('pg_ctl');
  const pgBasebackup = findPostgresBinary('pg_basebackup');
  return initdb && pgCtl && pgBasebackup ? { initdb, pgCtl, pgBasebackup } : undefined;
}

export const freePort = freeListenPort;

// PostgreSQL refuses to run as root: when the tests do, its processes run as the postgres user.
const asRoot = process.getuid?.() === 0;
function postgresUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function runAsPostgres(command: string, args: string[]): string {
  const [file, argv]: [string, string[]] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface PostgresServer {
  port: number;
  user: string;
  password: string;
  /** postgres://user:password@127.0.0.1:port/postgres */
  url: string;
  /** Starts a streaming-replication standby of this server (pg_basebackup -R). */
  startStandby(): Promise<PostgresServer>;
  stop(): Promise<void>;
}

interface PostgresHome {
  dir: string;
  socketDir: string;
}

/** Starts a PostgreSQL primary in a fresh temporary directory: superuser `vigil` with a password over TCP. */
export async function startPostgres(binaries: NonNullable<ReturnType<typeof postgresBinaries>>): Promise<PostgresServer> {
  const home = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const owner = postgresUser();
  if (owner) chownSync(home, owner.uid, owner.gid);
  const password = 'pg-s3cret-Pass';
  const pwfile = join(home, 'pwfile');
  writeFileSync(pwfile, `${password}\n`);
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const dataDir = join(home, 'primary');
  runAsPostgres(binaries.initdb, ['-D', dataDir, '-U', 'vigil', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync']);
  return launch(binaries, { dir: home, socketDir: home }, dataDir, password);
}

async function launch(binaries: NonNullable<ReturnType<typeof postgresBinaries>>, home: PostgresHome, dataDir: string, password: string): Promise<PostgresServer> {
  const port = await freePort();
  const options = `-p ${port} -k ${home.socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=replica -c max_wal_senders=5`;
  runAsPostgres(binaries.pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', join(dataDir, 'server.log'), '-o', options]);
  const standbys: PostgresServer[] = [];
  let stopped = false;
  return {
    port,
    user: 'vigil',
    password,
    url: `postgres://vigil:${password}@127.0.0.1:${port}/postgres`,
    async startStandby() {
      const standbyDir = join(home.dir, `standby-${standbys.length + 1}`);
      runAsPostgres(binaries.pgBasebackup, ['-h', home.socketDir, '-p', String(port), '-U', 'vigil', '-D', standbyDir, '-R', '-X', 'stream', '--no-sync']);
      const standby = await launch(binaries, home, standbyDir, password);
      standbys.push(standby);
      return standby;
    },
    stop() {
      if (stopped) return Promise.resolve();
      stopped = true;
      for (const standby of standbys.splice(0)) void standby.stop();
      try {
        runAsPostgres(binaries.pgCtl, ['stop', '-m', 'immediate', '-w', '-D', dataDir]);
      } catch {
        // already gone
      }
      if (dataDir.endsWith('primary')) rmSync(home.dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

export interface RedisServer {
  port: number;
  password: string;
  url: string;
  stop(): Promise<void>;
}

/** Starts redis-server on 127.0.0.1 with a password; `replicaOf` makes it a replica of another. */
export async function startRedis(redisServer: string, replicaOf?: RedisServer): Promise<RedisServer> {
  const port = await freePort();
  const password = 'redis-s3cret-Pass';
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', password];
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf.port), '--masterauth', replicaOf.password);
  const child: ChildProcess = spawn(redisServer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${log}`));
    });
  });
  return {
    port,
    password,
    url: `redis://:${password}@127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
