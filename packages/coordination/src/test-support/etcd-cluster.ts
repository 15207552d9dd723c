import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary } from '../../../core/src/test-support/components.js';
import { closedPort } from '../../../core/src/test-support/ports.js';

/**
 * A real etcd v3 cluster from the local `etcd` binary (Debian `etcd-server`), every member on
 * 127.0.0.1 at free ports with its own temporary data directory, for tests. Members can be
 * frozen (SIGSTOP), thawed (SIGCONT), killed (SIGKILL) and restarted on their data directory.
 */

/** The etcd binary, or undefined (skip; a failure under VIGIL_REQUIRE_COMPONENTS). */
export function findEtcd(): string | undefined {
  return findBinary('etcd', 'etcd-server');
}

export interface EtcdClusterOptions {
  size?: number;
  /** Raft heartbeat; short so that elections in tests take well under a second. */
  heartbeatMs?: number;
  /** Raft election timeout; a leader is replaced between 1× and 2× this after it stops. */
  electionTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  /** http://127.0.0.1:port */
  readonly clientUrl: string;
  readonly pid: number | undefined;
  /** True between start and exit (a SIGSTOPped member is running, just frozen). */
  readonly running: boolean;
  signal(signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL' | 'SIGTERM'): void;
  /** Kills the member (SIGKILL) and waits for its exit. */
  kill(): Promise<void>;
  /** Starts the member again on its data directory (after kill): it rejoins the cluster. */
  restart(): Promise<void>;
  /** The member's last log lines, for failure messages. */
  log(): string;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member: what a client is configured with. */
  readonly endpoints: string[];
  /** Index of the member that is Raft leader now, as the members report it. */
  leaderIndex(): Promise<number>;
  /** Waits until every running member reports healthy (a leader and a quorum). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every member and removes the data directories. */
  stop(): Promise<void>;
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
}

const logLimit = 16_000;

function memberArgs(spec: MemberSpec, all: MemberSpec[], token: string, options: Required<EtcdClusterOptions>): string[] {
  const peer = (m: MemberSpec) => `http://127.0.0.1:${m.peerPort}`;
  const client = `http://127.0.0.1:${spec.clientPort}`;
  return [
    '--name', spec.name,
    '--data-dir', spec.dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer(spec),
    '--initial-advertise-peer-urls', peer(spec),
    // Ignored by etcd once the data directory holds a WAL: a restart rejoins as the same member.
    '--initial-cluster', all.map((m) => `${m.name}=${peer(m)}`).join(','),
    '--initial-cluster-token', token,
    '--initial-cluster-state', 'new',
    '--heartbeat-interval', String(options.heartbeatMs),
    '--election-timeout', String(options.electionTimeoutMs),
    '--logger', 'zap',
    '--log-outputs', 'stderr',
    '--log-level', 'warn',
  ];
}

function startMember(binary: string, spec: MemberSpec, args: string[], running: Set<ChildProcess>): EtcdMember {
  let child: ChildProcess | undefined;
  let log = '';
  const launch = () => {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-logLimit);
    };
    proc.stdout.on('data', append);
    proc.stderr.on('data', append);
    proc.once('exit', () => running.delete(proc));
    proc.once('error', (error) => append(Buffer.from(`spawn failed: ${error.message}\n`)));
    running.add(proc);
    child = proc;
  };
  launch();
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    name: spec.name,
    clientUrl: `http://127.0.0.1:${spec.clientPort}`,
    get pid() {
      return child?.pid;
    },
    get running() {
      return alive();
    },
    signal(signal) {
      if (alive()) child!.kill(signal);
    },
    async kill() {
      if (!child) return;
      const proc = child;
      if (alive()) proc.kill('SIGKILL');
      await exited(proc);
    },
    async restart() {
      if (alive()) throw new Error(`${spec.name} is still running`);
      launch();
      await waitUntil(() => memberHealthy(`http://127.0.0.1:${spec.clientPort}`), 20_000, () => `${spec.name} did not come back:\n${log}`);
    },
    log: () => log,
  };
}

async function memberHealthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { health?: string };
    return response.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** Status through etcd's JSON gateway: which member answers and whom it follows. */
async function memberStatus(clientUrl: string): Promise<{ memberId: string; leaderId: string } | undefined> {
  try {
    const response = await fetch(`${clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
    return body.header?.member_id && body.leader ? { memberId: body.header.member_id, leaderId: body.leader } : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, failure: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(failure());
    await sleep(50);
  }
}

/** Starts a cluster and waits until every member is healthy. */
export async function startEtcdCluster(binary: string, options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const settings: Required<EtcdClusterOptions> = { size: 3, heartbeatMs: 50, electionTimeoutMs: 500, ...options };
  const home = mkdtempSync(join(tmpdir(), 'vigil-etcd-'));
  const specs: MemberSpec[] = [];
  for (let i = 0; i < settings.size; i++) {
    // A port nothing listens on yet is free for the member to bind.
    specs.push({ name: `member-${i}`, clientPort: await closedPort(), peerPort: await closedPort(), dataDir: join(home, `member-${i}`) });
  }
  const token = `vigil-test-${process.pid}-${Date.now()}`;
  const running = new Set<ChildProcess>();
  // A crashed test run must not leave etcd processes behind.
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const members = specs.map((spec) => startMember(binary, spec, memberArgs(spec, specs, token, settings), running));

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async leaderIndex() {
      for (const member of members) {
        if (!member.running) continue;
        const status = await memberStatus(member.clientUrl);
        if (!status) continue;
        for (let i = 0; i < members.length; i++) {
          const candidate = await memberStatus(members[i]!.clientUrl);
          if (candidate?.memberId === status.leaderId) return i;
        }
      }
      throw new Error('no member reports a reachable leader');
    },
    async waitHealthy(timeoutMs = 20_000) {
      await waitUntil(
        async () => (await Promise.all(members.filter((m) => m.running).map((m) => memberHealthy(m.clientUrl)))).every(Boolean),
        timeoutMs,
        () => `etcd cluster not healthy after ${timeoutMs}ms:\n${members.map((m) => `--- ${m.name}\n${m.log()}`).join('\n')}`,
      );
    },
    async stop() {
      await Promise.all(members.map((m) => m.kill()));
      process.removeListener('exit', killAll);
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitHealthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
