/**
 * A 3-member etcd cluster for the benchmark: the local `etcd` binary (Debian `etcd-server`),
 * every member on 127.0.0.1 with its own data directory, Raft heartbeat 50ms and election
 * timeout 500ms (as in the system tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@vigil/demo';

export interface Cluster {
  endpoints: string[];
  stop(): void;
}

/** The etcd binary on PATH (or /usr/bin), or undefined. */
export function findEtcd(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
  return found || undefined;
}

export async function startCluster(binary: string, children: Set<ChildProcess>, size = 3): Promise<Cluster> {
  const home = mkdtempSync(join(tmpdir(), 'vigil-bench-etcd-'));
  const members: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < size; i++) {
    members.push({ name: `member-${i}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const own: ChildProcess[] = [];
  for (const m of members) {
    const child = spawn(
      binary,
      [
        '--name', m.name,
        '--data-dir', join(home, m.name),
        '--listen-client-urls', m.client,
        '--advertise-client-urls', m.client,
        '--listen-peer-urls', m.peer,
        '--initial-advertise-peer-urls', m.peer,
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', `vigil-bench-${process.pid}`,
        '--initial-cluster-state', 'new',
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4_000)));
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (code !== 0 && signal !== 'SIGKILL') console.error(`etcd ${m.name} exited (${code ?? signal}):\n${log}`);
    });
    children.add(child);
    own.push(child);
  }
  const stop = () => {
    for (const child of own) child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  };
  const deadline = performance.now() + 30_000;
  for (;;) {
    const healthy = await Promise.all(members.map((m) => memberHealthy(m.client)));
    if (healthy.every(Boolean)) break;
    if (performance.now() > deadline) {
      stop();
      throw new Error('etcd cluster not healthy within 30s');
    }
    await sleep(100);
  }
  return { endpoints: members.map((m) => m.client), stop };
}

async function memberHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}
