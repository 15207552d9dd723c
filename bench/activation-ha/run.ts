/**
 * The activation service replicated on etcd, in one run on a real 3-member etcd cluster
 * (loopback, Raft heartbeat 50ms, election timeout 500ms) with the built service as processes:
 *
 * 1. Takeover after a leader SIGKILL. Three replicas; each round an activation whose plan holds
 *    an idempotent step in flight (the stand-in standby does not answer its first call), the
 *    leader is killed at a random point of its keepalive cycle, and the round ends when another
 *    replica calls the held step again (the plan resumed). The killed replica is restarted as a
 *    follower and the plan finishes before the next round; every round has a target of its own.
 *    With the default lease (ttl 8s, margin 2s), then with ttl 2s, margin 500ms for comparison.
 * 2. Latency of `POST /v1/activations` (signed; each request a distinct incident whose vote does
 *    not complete the quorum of 2, so each is a full transaction: replay check, vote, request id)
 *    and of `GET /v1/active`, on one process with files and on a replica on etcd (the leader and
 *    one that does not lead). Sequential, then at a concurrency of 10 (one target per worker).
 *    Requests go in blocks of 50 taken in turn by the three servers, so that other work on the
 *    machine weighs on all three alike.
 *
 *   npm run bench:activation-ha [-- --rounds 10 --short-rounds 10 --requests 300 --concurrency 10]
 *
 * The last line is
 * `activation-ha takeover-median-ms=<x> takeover-worst-ms=<y> request-p50-extra-ms=<z>`: takeover
 * with the default lease, and the sequential POST p50 on etcd minus that on files (the larger of
 * leader and non-leader).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret, signedHeaders } from '@vigil/core';
import { freePort, startService, type ServiceProcess } from '@vigil/demo';
import { findEtcd, startCluster, type Cluster } from './etcd.ts';
import { startStandby, type Standby } from './standby.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 10);
const SHORT_ROUNDS = arg('short-rounds', 10);
const REQUESTS = arg('requests', 300);
const CONCURRENCY = arg('concurrency', 10);
const BLOCK = 50;
/** The short-lease rounds are left out when the run has already taken this long. */
const SHORT_BUDGET_MS = 240_000;
/** A run that somehow takes this long stops (and kills what it started). */
const HARD_LIMIT_MS = 540_000;
const GOAL_MS = 10_000;
/** etcd's lessor looks for expired leases every 500ms. */
const EXPIRY_CHECK_MS = 500;

const SECRET = generateSecret();
const started = performance.now();
const services = new Set<ServiceProcess>();
const etcdChildren = new Set<ChildProcess>();
const work = mkdtempSync(join(tmpdir(), 'vigil-bench-ha-'));

interface Lease {
  label: string;
  ttlMs: number;
  marginMs: number;
  requestTimeoutMs: number;
  /** Written into the configuration; empty: the defaults. */
  yaml: string;
}
const DEFAULT_LEASE: Lease = { label: 'ttl 8s, margin 2s (default)', ttlMs: 8_000, marginMs: 2_000, requestTimeoutMs: 2_000, yaml: '' };
const SHORT_LEASE: Lease = { label: 'ttl 2s, margin 500ms', ttlMs: 2_000, marginMs: 500, requestTimeoutMs: 1_000, yaml: '  ttl: 2s\n  margin: 500ms\n  requestTimeout: 1s\n' };

interface Replica {
  name: string;
  base: string;
  configPath: string;
  service: ServiceProcess;
}

interface Round {
  takeoverMs: number;
  /** Kill to the new leader's "this replica leads" line (wall clock, ms resolution). */
  electedMs: number | undefined;
}

interface TakeoverFigures {
  lease: Lease;
  rounds: Round[];
}

async function main(): Promise<void> {
  const etcd = findEtcd();
  if (!etcd) throw new Error('etcd not found: install the Debian package etcd-server');
  const cluster = await startCluster(etcd, etcdChildren);
  const standby = await startStandby();
  try {
    const long = await takeoverPhase(cluster, standby, DEFAULT_LEASE, ROUNDS, 'long');
    const latency = await latencyPhase(cluster, standby);
    let short: TakeoverFigures | undefined;
    if (SHORT_ROUNDS > 0 && performance.now() - started < SHORT_BUDGET_MS) short = await takeoverPhase(cluster, standby, SHORT_LEASE, SHORT_ROUNDS, 'short');
    else console.log('short-lease rounds left out: the run has taken too long already');
    report([long, ...(short ? [short] : [])], latency);
  } finally {
    await stopAll();
    await standby.close();
    cluster.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Takeover

async function takeoverPhase(cluster: Cluster, standby: Standby, lease: Lease, rounds: number, tag: string): Promise<TakeoverFigures> {
  const targets = Array.from({ length: rounds }, (_, i) => {
    const path = `${standby.url}/${tag}/round-${i}`;
    return `  - name: round-${i}
    holdOff: { enabled: false }
    plan:
      - { name: enable, kind: http, url: "${path}/enable" }
      - { name: switch, kind: http, url: "${path}/hold-once", timeout: 60s, idempotent: true }
      - { name: announce, kind: http, url: "${path}/announce" }`;
  }).join('\n');
  const coordination = `coordination:\n  kind: etcd\n  endpoints: [${cluster.endpoints.join(', ')}]\n  prefix: /vigil-bench-${tag}\n${lease.yaml}`;
  const replicas: Replica[] = [];
  for (let i = 0; i < 3; i++) replicas.push(await configure(`${tag}-${i}`, coordination, targets));
  await Promise.all(replicas.map(launch));
  console.log(`takeover, ${lease.label}: ${rounds} rounds`);

  const results: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    const leader = await leaderAmong(replicas);
    const others = replicas.filter((r) => r !== leader);
    const hold = `/${tag}/round-${i}/hold-once`;
    const answer = await post(others[0]!, voteBody(`round-${i}`, `inc-${tag}-${i}`));
    if (answer.status !== 202 || answer.body.status !== 'running') throw new Error(`round ${i}: expected a running activation, got ${answer.status} ${JSON.stringify(answer.body)}`);
    const id = String(answer.body.id);
    await until(`round ${i}: the held step in flight`, () => standby.callsTo(hold).length === 1, 20_000);
    // A kill anywhere in the leader's keepalive cycle (one keepalive every TTL/3).
    await sleep(Math.random() * (lease.ttlMs / 3));
    const linesBefore = new Map(others.map((r) => [r, r.service.lines.length]));
    const killedAtWall = Date.now();
    const killedAt = performance.now();
    leader.service.child.kill('SIGKILL');
    await leader.service.exited;
    services.delete(leader.service);
    const resumedAt = await until(`round ${i}: the held step called again`, () => standby.callsTo(hold)[1], lease.ttlMs + 20_000, 5);
    const electedMs = others
      .map((r) => electedAt(r.service.lines.slice(linesBefore.get(r))))
      .find((at) => at !== undefined);
    const round: Round = { takeoverMs: resumedAt - killedAt, electedMs: electedMs === undefined ? undefined : electedMs - killedAtWall };
    results.push(round);
    console.log(JSON.stringify({ lease: lease.label, round: i, ...round, takeoverMs: Math.round(round.takeoverMs) }));
    // The plan finishes (the held step is answered now); the killed replica comes back as a follower.
    await until(`round ${i}: the resumed plan to succeed`, async () => (await getJson(others[0]!, `/v1/activations/${id}`)).status === 'succeeded', 20_000);
    await launch(leader);
  }
  await stopAll();
  return { lease, rounds: results };
}

/** The time of a "this replica leads" line among `lines`, as epoch ms. */
function electedAt(lines: string[]): number | undefined {
  for (const line of lines) {
    if (!line.includes('this replica leads')) continue;
    try {
      return Date.parse((JSON.parse(line) as { time: string }).time);
    } catch {
      continue;
    }
  }
  return undefined;
}

/** The one replica whose /metrics says it leads. */
function leaderAmong(replicas: readonly Replica[]): Promise<Replica> {
  return until(
    'one replica to lead',
    async () => {
      const leading: Replica[] = [];
      for (const replica of replicas) {
        const text = await fetch(`${replica.base}/metrics`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text(), () => '');
        if (/^vigil_activation_leader 1$/m.test(text)) leading.push(replica);
      }
      return leading.length === 1 ? leading[0] : undefined;
    },
    30_000,
    100,
  );
}

// ---------------------------------------------------------------------------------------------
// Request latency

interface Server {
  label: string;
  replica: Replica;
}

interface LatencyFigures {
  servers: string[];
  /** per kind of request, per server: latencies in ms */
  samples: Map<string, number[][]>;
  failures: number;
  /** Size of the file backend's state.json at the end: it is rewritten whole by every transaction. */
  snapshotKb: number;
  requestsSent: number;
}

async function latencyPhase(cluster: Cluster, standby: Standby): Promise<LatencyFigures> {
  // Quorum 2: a vote from watchdog-1 alone is recorded, and nothing is activated.
  const targets = Array.from(
    { length: CONCURRENCY },
    (_, k) => `  - name: lat-${k}
    quorum: { votes: 2 }
    holdOff: { enabled: false }
    plan:
      - { name: enable, kind: http, url: "${standby.url}/latency/lat-${k}/enable" }`,
  ).join('\n');
  const onEtcd = `coordination:\n  kind: etcd\n  endpoints: [${cluster.endpoints.join(', ')}]\n  prefix: /vigil-bench-latency\n`;
  const files = await configure('latency-files', '', targets);
  const etcdReplicas = [await configure('latency-0', onEtcd, targets), await configure('latency-1', onEtcd, targets)];
  await Promise.all([files, ...etcdReplicas].map(launch));
  const leader = await leaderAmong(etcdReplicas);
  const follower = etcdReplicas.find((r) => r !== leader)!;
  const servers: Server[] = [
    { label: 'files, one process', replica: files },
    { label: 'etcd, leader', replica: leader },
    { label: 'etcd, non-leader', replica: follower },
  ];
  console.log(`request latency: ${REQUESTS} requests per kind and server, in blocks of ${BLOCK} taken in turn`);

  let counter = 0;
  let failures = 0;
  const postOnce = async (server: Server, target: string): Promise<number> => {
    const body = voteBody(target, `inc-latency-${counter++}`);
    const payload = JSON.stringify(body);
    const headers = { ...signedHeaders(SECRET, payload), 'content-type': 'application/json' };
    const t0 = performance.now();
    const response = await fetch(`${server.replica.base}/v1/activations`, { method: 'POST', headers, body: payload });
    const answer = (await response.json()) as { status?: string };
    const ms = performance.now() - t0;
    if (response.status !== 202 || answer.status !== 'vote-recorded') {
      failures++;
      if (failures <= 5) console.log(`unexpected answer from ${server.label}: ${response.status} ${JSON.stringify(answer)}`);
    }
    return ms;
  };
  const getOnce = async (server: Server): Promise<number> => {
    const t0 = performance.now();
    const response = await fetch(`${server.replica.base}/v1/active?target=lat-0`);
    await response.arrayBuffer();
    const ms = performance.now() - t0;
    if (response.status !== 200) failures++;
    return ms;
  };

  const kinds: { name: string; block: (server: Server) => Promise<number[]> }[] = [
    {
      name: 'POST /v1/activations, sequential',
      block: async (server) => {
        const out: number[] = [];
        for (let n = 0; n < BLOCK; n++) out.push(await postOnce(server, 'lat-0'));
        return out;
      },
    },
    {
      name: `POST /v1/activations, ${CONCURRENCY} concurrent`,
      block: async (server) => {
        const out: number[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async (_, k) => {
            while (next < BLOCK) {
              next++;
              out.push(await postOnce(server, `lat-${k}`));
            }
          }),
        );
        return out;
      },
    },
    {
      name: 'GET /v1/active, sequential',
      block: async (server) => {
        const out: number[] = [];
        for (let n = 0; n < BLOCK; n++) out.push(await getOnce(server));
        return out;
      },
    },
  ];

  // Warm-up: connections, JIT, the first lease for idle request ids.
  for (const server of servers) {
    for (let n = 0; n < 20; n++) {
      await postOnce(server, 'lat-0');
      await getOnce(server);
    }
  }
  failures = 0;
  const samples = new Map<string, number[][]>();
  for (const kind of kinds) {
    const perServer = servers.map(() => [] as number[]);
    const blocks = Math.ceil(REQUESTS / BLOCK);
    for (let b = 0; b < blocks; b++) {
      for (let s = 0; s < servers.length; s++) {
        // Each block starts with the next server, so that none always follows another.
        const index = (b + s) % servers.length;
        perServer[index]!.push(...(await kind.block(servers[index]!)));
      }
    }
    samples.set(kind.name, perServer);
    console.log(JSON.stringify({ kind: kind.name, ...Object.fromEntries(servers.map((s, i) => [s.label, { p50: round1(quantile(perServer[i]!, 0.5)), p99: round1(quantile(perServer[i]!, 0.99)) }])) }));
  }
  await stopAll();
  const snapshotKb = statSync(join(work, files.name, 'state.json')).size / 1024;
  return { servers: servers.map((s) => s.label), samples, failures, snapshotKb, requestsSent: counter };
}

// ---------------------------------------------------------------------------------------------
// Report

function report(takeovers: TakeoverFigures[], latency: LatencyFigures): void {
  console.log('\ntakeover after a leader SIGKILL: kill → the held idempotent step called again by the new leader (3 replicas, 3-member etcd)');
  console.log('| lease | rounds | median ms | worst ms | best ms | kill → new leader, median ms | new leader → step again, median ms | lease gone after kill (TTL − TTL/3 … TTL + 0.5 s) | bound: TTL + 0.5 s + resume (watch / poll TTL/4) | goal |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |');
  for (const t of takeovers) {
    const ms = t.rounds.map((r) => r.takeoverMs);
    const elected = t.rounds.flatMap((r) => (r.electedMs === undefined ? [] : [r.electedMs]));
    const resume = t.rounds.flatMap((r) => (r.electedMs === undefined ? [] : [r.takeoverMs - r.electedMs]));
    const { ttlMs } = t.lease;
    const low = ttlMs - ttlMs / 3;
    const high = ttlMs + EXPIRY_CHECK_MS;
    const goal = t.lease === DEFAULT_LEASE ? `≤ ${GOAL_MS / 1000} s: ${Math.max(...ms) <= GOAL_MS ? 'met' : 'missed'}` : '–';
    const median = (v: number[]) => (v.length ? fmt0(quantile(v, 0.5)) : '–');
    console.log(
      `| ${t.lease.label} | ${ms.length} | ${fmt0(quantile(ms, 0.5))} | ${fmt0(Math.max(...ms))} | ${fmt0(Math.min(...ms))} | ${median(elected)} | ${median(resume)} | ${fmt0(low)}–${fmt0(high)} | ${fmt0(high)} / ${fmt0(high + ttlMs / 4)} + resume | ${goal} |`,
    );
  }

  console.log(`\nrequest latency, ms (${REQUESTS} requests per row and server; each POST a distinct incident, its vote recorded, quorum not reached)`);
  const [files, leader, follower] = latency.servers;
  console.log(`| request | ${files} p50 / p99 | ${leader} p50 / p99 | ${follower} p50 / p99 | extra p50 leader / non-leader | extra p99 leader / non-leader |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  let postExtra = 0;
  for (const [kind, perServer] of latency.samples) {
    const p = perServer.map((s) => ({ p50: quantile(s, 0.5), p99: quantile(s, 0.99) }));
    const [f, l, n] = [p[0]!, p[1]!, p[2]!];
    const extra = (a: number, b: number) => `${sign(a - b)}`;
    console.log(
      `| ${kind} | ${fmt1(f.p50)} / ${fmt1(f.p99)} | ${fmt1(l.p50)} / ${fmt1(l.p99)} | ${fmt1(n.p50)} / ${fmt1(n.p99)} | ${extra(l.p50, f.p50)} / ${extra(n.p50, f.p50)} | ${extra(l.p99, f.p99)} / ${extra(n.p99, f.p99)} |`,
    );
    if (kind === 'POST /v1/activations, sequential') postExtra = Math.max(l.p50, n.p50) - f.p50;
  }
  console.log(`files: state.json is ${Math.round(latency.snapshotKb)} KB after ${Math.round(latency.requestsSent / 3)} votes (request ids are kept 24 h), rewritten and fsynced whole by each transaction`);
  if (latency.failures > 0) console.log(`${latency.failures} requests were not answered as expected`);
  console.log(`\nwhole run ${Math.round((performance.now() - started) / 1000)}s`);

  const long = takeovers[0]!.rounds.map((r) => r.takeoverMs);
  console.log(`activation-ha takeover-median-ms=${Math.round(quantile(long, 0.5))} takeover-worst-ms=${Math.round(Math.max(...long))} request-p50-extra-ms=${postExtra.toFixed(1)}`);
}

// ---------------------------------------------------------------------------------------------
// Processes and helpers

async function configure(name: string, coordination: string, targets: string): Promise<Replica> {
  const port = await freePort();
  const configPath = join(work, `${name}.yaml`);
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: ${port} }
replica: ${name}
dataDir: ${join(work, name)}
${coordination}voters: [{ id: watchdog-1, secret: "\${VOTER_1}" }, { id: watchdog-2, secret: "\${VOTER_2}" }]
targets:
${targets}
`,
  );
  // The process is started by launch().
  return { name, base: `http://127.0.0.1:${port}`, configPath, service: undefined as unknown as ServiceProcess };
}

async function launch(replica: Replica): Promise<void> {
  const service = startService('activation', replica.configPath, { env: { VOTER_1: SECRET, VOTER_2: generateSecret(), VIGIL_LOG_LEVEL: 'warn' } });
  replica.service = service;
  services.add(service);
  const deadline = performance.now() + 30_000;
  while (!(await fetch(`${replica.base}/readyz`).then((r) => r.ok, () => false))) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) throw new Error(`${replica.name} exited:\n${service.lines.slice(-20).join('\n')}`);
    if (performance.now() > deadline) throw new Error(`${replica.name} not ready within 30s`);
    await sleep(50);
  }
}

async function stopAll(): Promise<void> {
  const running = [...services];
  services.clear();
  await Promise.all(running.map((s) => s.stop('SIGKILL')));
}

function voteBody(target: string, incident: string) {
  return {
    target,
    voter: 'watchdog-1',
    incident: {
      id: incident,
      monitor: 'primary-health',
      startedAt: new Date().toISOString(),
      consecutiveFailures: 3,
      evidence: [{ time: new Date().toISOString(), status: 'fail', durationMs: 1900, output: 'timed out' }],
    },
  };
}

async function post(replica: Replica, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  const headers = { ...signedHeaders(SECRET, payload), 'content-type': 'application/json' };
  const response = await fetch(`${replica.base}/v1/activations`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function getJson(replica: Replica, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${replica.base}${path}`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as Record<string, unknown>;
}

/** Polls `probe` until it gives a value other than undefined/false; the error names `what`. */
async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(everyMs);
  }
}

/** Quantile interpolated between the two nearest samples (the median of 10 is the mean of the 5th and 6th). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const low = Math.floor(at);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const fmt0 = (v: number) => Math.round(v).toLocaleString('en');
const fmt1 = (v: number) => v.toFixed(1);
const sign = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;

// Whatever happens, nothing this run started outlives it.
process.on('exit', () => {
  for (const s of services) s.child.kill('SIGKILL');
  for (const child of etcdChildren) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
setTimeout(() => {
  console.error(`activation-ha: stopped after ${HARD_LIMIT_MS / 1000}s`);
  process.exit(1);
}, HARD_LIMIT_MS).unref();

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
