/**
 * Detection quality: how often each probing policy fails on a lossy but working link (false
 * activations), and how fast it detects a primary that really failed, side by side in one run.
 *
 * Two network namespaces made here, `primary` (10.200.9.1) and `secondary` (10.200.9.2), joined by
 * a userspace link emulator (link.py: this kernel has no netem) that drops and delays packets as
 * told. The primary runs a health endpoint; the secondary runs, for every policy at once, 100
 * monitors of it with the watchdog's own probe, every 2 s at random phases. Conditions in turn:
 * random loss 0, 5, 10, 20 and 30% each way, bursty loss (Gilbert–Elliott per packet as netem's
 * gemodel, and in time: a good state with 2% loss for a mean 5 s, a bad one with 80% for a mean
 * 500 ms), 150 ± 100 ms of delay with 5% loss; then the primary refused, blackholed and hanging,
 * each from a known instant.
 *
 * False activations per year of continuous condition come from a first-order Markov model fitted
 * to the measured sequences (stats.ts says why and how); detection times are measured.
 *
 *   npm run bench:detection-quality [-- --sequences 100 --scale 1]
 *
 * Last line: `default-policy loss20-false-per-year=<x> loss30-false-per-year=<y> blackhole-detect-ms=<z>`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PROBE_DEFAULTS } from '@vigil/checks';
import { Link, type Condition } from './link.ts';
import { detectionTimes, lossFigures, median, type LossFigures, type Probe } from './stats.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SEQUENCES = arg('sequences', 100);
/** multiplies every measuring window (1: about 11 minutes in all) */
const SCALE = arg('scale', 1);
const INTERVAL_MS = 2_000;
const THRESHOLD = 3;

const root = fileURLToPath(new URL('../..', import.meta.url));
const node = join(root, 'node_modules/.bin/node');
const here = join(root, 'bench/detection-quality');

interface Policy {
  name: string;
  timeoutMs: number;
  attempts: number;
  hedgeDelayMs: number;
  fresh?: boolean;
}
const DEFAULT_POLICY: Policy = { name: `hedged ${PROBE_DEFAULTS.attempts}×${PROBE_DEFAULTS.hedgeDelayMs}ms, timeout ${PROBE_DEFAULTS.timeoutMs}ms (default)`, ...PROBE_DEFAULTS };
const POLICIES: Policy[] = [
  { name: 'single request, timeout 1000ms (before)', timeoutMs: 1000, attempts: 1, hedgeDelayMs: 1000 },
  // Not a candidate: shows what a probe that must open a connection risks (the one after a failure does).
  { name: 'single request on a new connection, timeout 1000ms', timeoutMs: 1000, attempts: 1, hedgeDelayMs: 1000, fresh: true },
  { name: 'single request, timeout 1900ms', timeoutMs: 1900, attempts: 1, hedgeDelayMs: 1900 },
  { name: 'hedged 4×250ms, timeout 1000ms', timeoutMs: 1000, attempts: 4, hedgeDelayMs: 250 },
  DEFAULT_POLICY,
];

interface LossCondition {
  name: string;
  seconds: number;
  apply: (link: Link, until: number) => Promise<void>;
}
const steady = (condition: Condition) => async (link: Link) => {
  await link.set(condition);
};
const LOSS_CONDITIONS: LossCondition[] = [
  { name: 'no loss', seconds: 30, apply: steady({}) },
  { name: '5% loss', seconds: 30, apply: steady({ loss: 0.05 }) },
  { name: '10% loss', seconds: 40, apply: steady({ loss: 0.1 }) },
  { name: '20% loss', seconds: 80, apply: steady({ loss: 0.2 }) },
  { name: '30% loss', seconds: 80, apply: steady({ loss: 0.3 }) },
  // netem's gemodel, per packet: bursts of a few packets (mean 1/r ≈ 3.3), 14% of packets lost.
  { name: 'bursty per packet: gemodel p 5%, r 30%', seconds: 60, apply: steady({ ge: { p: 0.05, r: 0.3, lossGood: 0, lossBad: 1 } }) },
  // Time-based: episodes of heavy loss that outlast a probe, as congestion or a flapping route makes them.
  { name: 'bursty in time: 2% (mean 5s) / 80% (mean 500ms)', seconds: 80, apply: bursts },
  { name: '150±100ms delay, 5% loss', seconds: 40, apply: steady({ delay: 150, jitter: 100, loss: 0.05 }) },
];

/** Time-based Gilbert–Elliott: exponential sojourns in a good and a bad state until `until`. */
async function bursts(link: Link, until: number): Promise<void> {
  const exponential = (meanMs: number) => -Math.log(1 - Math.random()) * meanMs;
  while (Date.now() < until) {
    await link.set({ loss: 0.02 });
    await sleep(Math.min(exponential(5_000), Math.max(0, until - Date.now())));
    if (Date.now() >= until) break;
    await link.set({ loss: 0.8 });
    await sleep(Math.min(exponential(500), Math.max(0, until - Date.now())));
  }
}

type Fault = 'refused' | 'blackholed' | 'hanging';
const FAULTS: Fault[] = ['refused', 'blackholed', 'hanging'];

const children: ChildProcess[] = [];
const namespaces: string[] = [];

function run(...args: string[]): void {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
}

function launch(args: string[]): { child: ChildProcess; lines: string[] } {
  const child = spawn(args[0]!, args.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  let rest = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts.filter((p) => p.length > 0));
  });
  return { child, lines };
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const id = randomBytes(3).toString('hex');
  const primary = `vigil-dq-${id}-p`;
  const secondary = `vigil-dq-${id}-s`;
  for (const ns of [primary, secondary]) {
    run('ip', 'netns', 'add', ns);
    namespaces.push(ns);
    run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  const link = await Link.start({ aNetns: primary, aAddr: '10.200.9.1', bNetns: secondary, bAddr: '10.200.9.2' });
  try {
    const target = launch(['ip', 'netns', 'exec', primary, node, join(here, 'target.ts'), '10.200.9.1', '8081']);
    await waitFor('the target to listen', () => target.lines.some((l) => l.includes('listening')));
    const setMode = async (mode: string) => {
      const before = target.lines.length;
      target.child.stdin!.write(`${mode}\n`);
      await waitFor(`target mode ${mode}`, () => target.lines.slice(before).some((l) => l.includes(`"mode":"${mode}"`)));
    };

    const options = { url: 'http://10.200.9.1:8081/health', intervalMs: INTERVAL_MS, sequences: SEQUENCES, policies: POLICIES };
    const prober = launch(['ip', 'netns', 'exec', secondary, node, join(here, 'prober.ts'), JSON.stringify(options)]);
    await waitFor('the prober to start', () => prober.lines.some((l) => l.includes('started')));
    const probesOf = (policy: number, from: number, to: number): Probe[] =>
      prober.lines.flatMap((line) => {
        const r = JSON.parse(line) as { p?: number; s: number; t0: number; t1: number; ok: number; a: number };
        if (r.p !== policy || r.t0 < from || r.t1 > to) return [];
        return [{ sequence: r.s, startedAt: r.t0, endedAt: r.t1, ok: r.ok === 1, attempts: r.a }];
      });
    // Long enough for every probe started under the previous condition to end, and for two more rounds.
    const settle = () => sleep(INTERVAL_MS * 2 + 2_000);
    await settle();

    const loss: { condition: string; figures: LossFigures[] }[] = [];
    for (const condition of LOSS_CONDITIONS) {
      const seconds = condition.seconds * SCALE;
      console.error(`measuring: ${condition.name} for ${seconds}s`);
      const applied = condition.apply(link, Date.now() + seconds * 1000 + INTERVAL_MS * 2 + 2_000);
      await settle();
      const from = Date.now();
      await sleep(seconds * 1000);
      const to = Date.now();
      await applied;
      loss.push({ condition: condition.name, figures: POLICIES.map((_, p) => lossFigures(probesOf(p, from, to), THRESHOLD, INTERVAL_MS)) });
      await link.set({});
    }

    const detection: { fault: Fault; byPolicy: { times: number[]; missed: number }[] }[] = [];
    for (const fault of FAULTS) {
      console.error(`measuring: detection of a ${fault} primary`);
      await settle();
      const failedAt = Date.now();
      if (fault === 'blackholed') await link.set({ blackhole: true });
      else await setMode(fault === 'refused' ? 'refuse' : 'hang');
      // The slowest policy's bound is under 10 s: wait well past it.
      await sleep(16_000);
      detection.push({ fault, byPolicy: POLICIES.map((_, p) => detectionTimes(probesOf(p, failedAt - INTERVAL_MS * 2, failedAt + 16_000), failedAt, THRESHOLD)) });
      await link.set({});
      await setMode('pass');
    }
    report(loss, detection);
  } finally {
    await link.close();
  }
}

function report(loss: { condition: string; figures: LossFigures[] }[], detection: { fault: Fault; byPolicy: { times: number[]; missed: number }[] }[]): void {
  const pct = (v: number) => `${(v * 100).toFixed(v < 0.001 ? 3 : 2)}%`;
  const rate = (v: number, bound: boolean) => `${bound ? '<' : ''}${v >= 100 ? v.toFixed(0) : v >= 0.01 ? v.toFixed(2) : v.toExponential(1)}`;
  console.log(`\ninterval ${INTERVAL_MS}ms, failureThreshold ${THRESHOLD}, ${SEQUENCES} monitors per policy; loss applies to each direction`);
  console.log('\n| condition | policy | probes | failed | p (95% CI) | P(fail after fail) | longest run | attempts/probe | false activation requests / year | with confirmation / year |');
  console.log('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { condition, figures } of loss) {
    figures.forEach((f, i) => {
      const r = f.failAny > 0 ? `${f.r.toFixed(3)} (${f.failFail}/${f.failAny})` : '–';
      const p = f.bound ? `0 (≤ ${pct(f.pHigh)})` : `${pct(f.p)} (${pct(f.pLow)}–${pct(f.pHigh)})`;
      console.log(
        `| ${condition} | ${POLICIES[i]!.name} | ${f.probes} | ${f.failures} | ${p} | ${r} | ${f.longestRun} | ${f.meanAttempts.toFixed(2)} | ${rate(f.falsePerYear, f.bound)} | ${rate(f.falsePerYearConfirmed, f.bound)} |`,
      );
    });
  }
  console.log('\n| policy | worst-case bound | refused median / worst | blackholed median / worst | hanging median / worst | missed |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  POLICIES.forEach((policy, i) => {
    const bound = INTERVAL_MS * THRESHOLD + policy.timeoutMs;
    const cells = detection.map(({ byPolicy }) => `${median(byPolicy[i]!.times)} / ${byPolicy[i]!.times.at(-1)} ms`);
    const missed = detection.reduce((sum, { byPolicy }) => sum + byPolicy[i]!.missed, 0);
    console.log(`| ${policy.name} | ${bound} ms | ${cells.join(' | ')} | ${missed} |`);
  });
  const d = POLICIES.indexOf(DEFAULT_POLICY);
  const at = (name: string) => loss.find((l) => l.condition === name)!.figures[d]!;
  const blackhole = detection.find((x) => x.fault === 'blackholed')!.byPolicy[d]!;
  const worstBlackhole = blackhole.missed > 0 ? Infinity : blackhole.times.at(-1)!;
  console.log(
    `\ndefault-policy loss20-false-per-year=${rate(at('20% loss').falsePerYear, at('20% loss').bound)} loss30-false-per-year=${rate(at('30% loss').falsePerYear, at('30% loss').bound)} blackhole-detect-ms=${worstBlackhole}`,
  );
}

async function cleanup(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await sleep(300);
  for (const ns of namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
}

try {
  await main();
} finally {
  await cleanup();
}
