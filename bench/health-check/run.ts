/**
 * /health throughput, side by side in one run on one machine: (a) Vigil's health-check with three
 * cached checks, (b) a bare Fastify route answering a constant health+json body (the stack's
 * ceiling), (c) @godaddy/terminus on Express running the same three checks. Each server runs in a
 * process of its own, started the same way; autocannon loads them from this process with the same
 * connections. The machine may be shared, so each server's duration is split into short rounds
 * taken in turn (a b c a b c …), and each figure is the median over its rounds: a burst of other
 * work then costs one round of each rather than the whole run of one. Each round starts with the
 * next server, so that none always runs right after another.
 *
 *   npm run build && node bench/health-check/run.ts [--duration 10] [--round 2] [--connections 50]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const duration = arg('duration', 10);
const round = Math.min(arg('round', 2), duration);
const rounds = Math.max(1, Math.round(duration / round));
const connections = arg('connections', 50);

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'vigil-bench-'));

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.push(child);
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve(out.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  // Awaited only for servers that print a line; an early exit is reported by healthy() for the others.
  firstLine.catch(() => undefined);
  return { child, firstLine };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function healthy(url: string, server: ChildProcess): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`the server for ${url} exited with ${server.exitCode}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} did not become healthy`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  await exited;
}

interface Round {
  rps: number;
  p99: number;
  failed: number;
}

async function load(url: string, seconds: number): Promise<Round> {
  const result = await autocannon({ url, connections, duration: seconds });
  return { rps: result.requests.average, p99: result.latency.p99, failed: result.non2xx + result.errors + result.timeouts };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

try {
  const deps = start([here('./deps.ts')]);
  const { app, tcp } = JSON.parse(await deps.firstLine) as { app: number; tcp: number };

  const vigilPort = await freePort();
  const config = join(work, 'health-check.yaml');
  writeFileSync(
    config,
    `server: { host: 127.0.0.1, port: ${vigilPort} }
serviceId: primary
deadline: 1s
cache: { ttl: 1s }
checks:
  - { name: app, kind: http, url: "http://127.0.0.1:${app}/health", timeout: 500ms }
  - { name: db, kind: tcp, host: 127.0.0.1, port: ${tcp}, timeout: 500ms }
  - { name: heap, kind: process, measure: heapUsed, timeout: 100ms, thresholds: { warn: 80, fail: 90 } }
`,
  );
  const fastifyPort = await freePort();
  const terminusPort = await freePort();
  const servers = [
    { name: 'vigil', port: vigilPort, process: start([join(root, 'services/health-check/dist/main.js'), '--config', config], { VIGIL_LOG_LEVEL: 'warn' }) },
    { name: 'fastify', port: fastifyPort, process: start([here('./fastify-server.ts'), String(fastifyPort)]) },
    { name: 'terminus', port: terminusPort, process: start([here('./terminus-server.ts'), String(terminusPort), String(app), String(tcp)]) },
  ].map((s) => ({ ...s, url: `http://127.0.0.1:${s.port}/health`, rounds: [] as Round[] }));
  for (const server of servers) await healthy(server.url, server.process.child);

  console.log(`autocannon: ${connections} connections; ${rounds} rounds of ${round}s per server, in turn, after a 1s warm-up each`);
  for (const server of servers) await load(server.url, 1);
  for (let i = 0; i < rounds; i++) {
    // Each round starts with the next server, so that none always follows the same one.
    for (let j = 0; j < servers.length; j++) {
      const server = servers[(i + j) % servers.length]!;
      server.rounds.push(await load(server.url, round));
    }
  }

  const figures = servers.map((server) => {
    const rps = median(server.rounds.map((r) => r.rps));
    const p99 = median(server.rounds.map((r) => r.p99));
    const failed = server.rounds.reduce((sum, r) => sum + r.failed, 0);
    const spread = server.rounds.map((r) => r.rps.toFixed(0)).join(' ');
    console.log(
      `${server.name.padEnd(9)} ${rps.toFixed(0).padStart(7)} req/s  p99 ${p99.toFixed(0).padStart(4)} ms   (rounds: ${spread} req/s)` +
        (failed > 0 ? `  ${failed} non-2xx or errors` : ''),
    );
    return rps;
  });
  const [a, b, c] = figures as [number, number, number];
  console.log(`ratio vigil/fastify=${(a / b).toFixed(2)} vigil/terminus=${(a / c).toFixed(2)}`);
} finally {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
}
