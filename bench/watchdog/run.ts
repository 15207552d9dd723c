/**
 * The watchdog's probe path under load, next to prometheus-blackbox-exporter, in one run:
 * 1,000 and then 10,000 HTTP monitors of the built watchdog against one local target, and the
 * blackbox exporter driven by /probe requests, all at the same probe rate. For each: CPU seconds
 * per 1,000 probes (from /proc/<pid>/stat, over a steady window after warm-up), RSS, and for the
 * watchdog the scheduling lag p50/p99 (from vigil_scheduler_lag_seconds over the same window).
 *
 *   npm run bench:watchdog [-- --rate 500 --window 20]
 *
 * The last line is `cpu-per-probe vigil/blackbox=<ratio> p99-lag-ms=<at 10,000 monitors>`, where
 * the ratio takes the watchdog's worse phase.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
/** probes per second, the same for every phase */
const RATE = arg('rate', 500);
/** seconds measured per phase, after warm-up */
const WINDOW_S = arg('window', 20);
const CLOCK_TICKS = 100; // USER_HZ on Linux
const root = fileURLToPath(new URL('../..', import.meta.url));
const node = join(root, 'node_modules/.bin/node');
const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';

interface Figures {
  name: string;
  probes: number;
  cpuSeconds: number;
  rssMb: number;
  lagP50Ms?: number;
  lagP99Ms?: number;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

async function main(): Promise<void> {
  const target = await startTarget();
  const rows: Figures[] = [];
  for (const monitors of [1_000, 10_000]) rows.push(await vigilPhase(monitors, target));
  rows.push(await blackboxPhase(target));

  console.log(`\nprobe rate ${RATE}/s, ${WINDOW_S}s measured per phase, one local target`);
  console.log('| run | probes | CPU s / 1,000 probes | lag p50 ms | lag p99 ms | RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const lag = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
    console.log(`| ${r.name} | ${r.probes} | ${perThousand(r).toFixed(3)} | ${lag(r.lagP50Ms)} | ${lag(r.lagP99Ms)} | ${r.rssMb.toFixed(0)} |`);
  }
  const blackbox = rows.at(-1)!;
  const worstVigil = Math.max(...rows.slice(0, -1).map(perThousand));
  const ratio = worstVigil / perThousand(blackbox);
  console.log(`cpu-per-probe vigil/blackbox=${ratio.toFixed(2)} p99-lag-ms=${rows[1]!.lagP99Ms!.toFixed(2)}`);
}

const perThousand = (r: Figures) => (r.cpuSeconds / r.probes) * 1000;

async function vigilPhase(monitors: number, target: Target): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-watchdog-'));
  dirs.push(dir);
  const intervalMs = Math.round((monitors / RATE) * 1000);
  const port = await freePort();
  const lines = [`server: { host: 127.0.0.1, port: ${port} }`, `dataDir: ${join(dir, 'data')}`, 'monitors:'];
  for (let i = 0; i < monitors; i++) {
    lines.push(`  - { name: m${i}, url: "${target.url}/health", interval: ${intervalMs}ms, timeout: 1s }`);
  }
  const config = join(dir, 'watchdog.yaml');
  await writeFile(config, `${lines.join('\n')}\n`);
  const child = launch(node, [join(root, 'services/watchdog/dist/main.js'), '--config', config], { VIGIL_LOG_LEVEL: 'warn' });
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/readyz`)).ok);
  // First probes are spread over the first 5s; then slots spread over the interval from half an interval on.
  await sleep(5_000 + intervalMs / 2 + 2_000);
  const before = { cpu: await cpuSeconds(child), hits: await target.hits(), lag: await lagBuckets(base) };
  await sleep(WINDOW_S * 1000);
  const after = { cpu: await cpuSeconds(child), hits: await target.hits(), lag: await lagBuckets(base) };
  const rssMb = await rss(child);
  await stop(child);
  const delta = after.lag.map(([le, n], i) => [le, n - before.lag[i]![1]] as const);
  const figures = {
    name: `vigil, ${monitors.toLocaleString('en')} monitors every ${intervalMs / 1000}s`,
    probes: after.hits - before.hits,
    cpuSeconds: after.cpu - before.cpu,
    rssMb,
    lagP50Ms: quantile(delta, 0.5) * 1000,
    lagP99Ms: quantile(delta, 0.99) * 1000,
  };
  console.log(JSON.stringify(figures));
  return figures;
}

async function blackboxPhase(target: Target): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-blackbox-'));
  dirs.push(dir);
  const config = join(dir, 'blackbox.yml');
  await writeFile(config, 'modules:\n  http_2xx:\n    prober: http\n    timeout: 1s\n    http:\n      preferred_ip_protocol: ip4\n');
  const port = await freePort();
  const child = launch(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/-/healthy`)).ok);
  // Prometheus' part: /probe requests at the same rate, over kept-alive connections.
  const pool = new Pool(base, { connections: 32 });
  const path = `/probe?module=http_2xx&target=${encodeURIComponent(`${target.url}/health`)}`;
  let inFlight = 0;
  let dropped = 0;
  let failed = 0;
  const tickMs = 10;
  let due = 0;
  const driver = setInterval(() => {
    due += (RATE * tickMs) / 1000;
    for (; due >= 1; due--) {
      if (inFlight >= 256) {
        dropped++;
        continue;
      }
      inFlight++;
      pool
        .request({ method: 'GET', path })
        .then(async (r) => {
          const text = await r.body.text();
          if (!text.includes('probe_success 1')) failed++;
        })
        .catch(() => failed++)
        .finally(() => inFlight--);
    }
  }, tickMs);
  await sleep(3_000);
  const before = { cpu: await cpuSeconds(child), hits: await target.hits() };
  await sleep(WINDOW_S * 1000);
  const after = { cpu: await cpuSeconds(child), hits: await target.hits() };
  clearInterval(driver);
  const rssMb = await rss(child);
  await pool.close();
  await stop(child);
  if (dropped > 0 || failed > 0) console.log(`blackbox: ${dropped} probes not sent (too many in flight), ${failed} failed`);
  const figures = { name: `blackbox_exporter, /probe at ${RATE}/s`, probes: after.hits - before.hits, cpuSeconds: after.cpu - before.cpu, rssMb };
  console.log(JSON.stringify(figures));
  return figures;
}

interface Target {
  url: string;
  hits(): Promise<number>;
}

async function startTarget(): Promise<Target> {
  const child = launch(node, [join(root, 'bench/watchdog/target.ts')], {}, 'pipe');
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', () => reject(new Error('the target exited')));
  });
  const url = `http://127.0.0.1:${port}`;
  return { url, hits: async () => ((await (await fetch(`${url}/hits`)).json()) as { hits: number }).hits };
}

function launch(command: string, args: string[], env: Record<string, string> = {}, stdout: 'pipe' | 'inherit' = 'inherit'): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'inherit'] });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function cpuSeconds(child: ChildProcess): Promise<number> {
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function rss(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Cumulative [le, count] pairs of the lag histogram. */
async function lagBuckets(base: string): Promise<(readonly [number, number])[]> {
  const text = await (await fetch(`${base}/metrics?name=vigil_scheduler_lag_seconds`)).text();
  return [...text.matchAll(/vigil_scheduler_lag_seconds_bucket\{le="([^"]+)"\} (\d+)/g)].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])] as const);
}

/** histogram_quantile: linear within the bucket the rank falls in. */
function quantile(buckets: readonly (readonly [number, number])[], q: number): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(1, count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}

async function until(ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await ready()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('a benchmark process did not become ready');
    await sleep(100);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

try {
  await main();
} finally {
  for (const child of children) await stop(child);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}
