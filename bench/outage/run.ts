/**
 * The outage an application sees, with the demo's settings (DEFAULT_SETTINGS: interval 2s, timeout
 * 1900ms, failureThreshold 3): the whole loop of `startSystem` on free ports with a fresh data
 * directory per trial, and the demo's sample client (@vigil/client) sending a request to the
 * primary's origin every 100 ms. Each trial waits for a healthy probe, waits a random phase of the
 * probe schedule, stops the sample primary (connections refused, as `npm run demo:fail`), and
 * ends at the client's first successful answer from the standby.
 *
 *   npm run bench:outage [-- --trials 10 --every 100]
 *
 * Printed next to the detection bound computed from the settings (the watchdog's own worst case)
 * and to DNS failover and Patroni. The last line is
 * `outage median-ms=<x> worst-ms=<y> detection-bound-ms=<z>`.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '@vigil/core';
import { DEFAULT_SETTINGS, getJson, startSampleClient, startSystem, waitFor, type SampleClient, type System } from '@vigil/demo';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRIALS = arg('trials', 10);
/** The client's request cadence (ms). */
const EVERY_MS = arg('every', 100);
const timing = DEFAULT_SETTINGS;
const intervalMs = parseDuration(timing.interval)!;
const timeoutMs = parseDuration(timing.timeout)!;
const threshold = timing.failureThreshold;
/**
 * The watchdog's worst case (services/watchdog/src/config.ts, detectionBudget, which it logs at
 * start as `worstCaseDetection`): the failure lands just after a passing probe (one interval of
 * schedule granularity), then failureThreshold failed probes an interval apart, the last taking
 * its whole timeout, then the activation service's confirmation probe of the same target (same
 * timeout). = failureThreshold × interval + 2 × timeout.
 */
const boundMs = intervalMs * (threshold - 1) + timeoutMs + intervalMs + timeoutMs;
/** For comparison: Route 53 DNS failover (3 failed health checks 30 s apart, then the record's TTL) and Patroni (leader key TTL). */
const ROUTE53 = { checks: 3, intervalS: 30, ttlS: 60 };
const PATRONI_TTL_S = 30;

interface Trial {
  phaseMs: number;
  /** Each from the primary's stop, in ms. */
  activationRequest: number;
  standbyEnabled: number;
  switched: number;
  firstStandbyAnswer: number;
  failed: number;
}

async function trial(): Promise<Trial> {
  let enabledAt: number | undefined;
  const system: System = await startSystem({ timing, onEnable: () => (enabledAt ??= performance.now()) });
  let client: SampleClient | undefined;
  try {
    let standbyAt: number | undefined;
    let primaryAnswers = 0;
    let failed = 0;
    let switchedAt: number | undefined;
    client = startSampleClient({
      activation: system.url('activation', ''),
      target: 'primary',
      primary: `http://127.0.0.1:${system.settings.ports.primary}`,
      secondary: `http://127.0.0.1:${system.settings.ports.standby}`,
      everyMs: EVERY_MS,
      say: (line) => {
        const m = /failed: (.*)$/.exec(line);
        if (m) for (const [, n] of m[1]!.matchAll(/×(\d+)/g)) failed += Number(n);
      },
      onAnswer: (a) => {
        if (a.side === 'primary') primaryAnswers += 1;
        else if (a.side === 'secondary') standbyAt ??= a.at;
      },
    });
    client.vigil.on('switched', () => (switchedAt ??= performance.now()));
    await waitFor('a healthy probe', async () => {
      const { body } = await getJson<{ monitors: { state: string }[] }>(system.url('watchdog', '/v1/monitors'));
      return body.monitors[0]?.state === 'up';
    });
    await waitFor('the client to be answered by the primary', () => primaryAnswers > 0, 10_000);
    const phaseMs = Math.random() * intervalMs;
    await sleep(phaseMs);
    failed = 0;
    const failedAt = performance.now();
    const failedAtWall = Date.now();
    await system.primary.setMode('stopped');
    await waitFor('the first answer from the standby', () => standbyAt !== undefined, 30_000, 10);
    const request = system.activationRequests[0];
    await client.close(); // the last summary line counts the failures
    return {
      phaseMs,
      activationRequest: request ? request.at - failedAtWall : NaN,
      standbyEnabled: (enabledAt ?? NaN) - failedAt,
      switched: (switchedAt ?? NaN) - failedAt,
      firstStandbyAnswer: standbyAt! - failedAt,
      failed,
    };
  } finally {
    await client?.close();
    await system.stop();
    rmSync(system.settings.dataDir, { recursive: true, force: true });
  }
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '–' : Math.round(ms).toString());
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const started = performance.now();
const trials: Trial[] = [];
console.log(`settings: interval ${timing.interval}, timeout ${timing.timeout}, failureThreshold ${threshold}; client request every ${EVERY_MS} ms; primary stopped (connections refused)`);
console.log('| trial | phase ms | → activation request ms | → standby enabled ms | → client switched ms | → first standby answer ms (outage) | failed requests |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (let i = 1; i <= TRIALS; i++) {
  const t = await trial();
  trials.push(t);
  console.log(`| ${i} | ${fmt(t.phaseMs)} | ${fmt(t.activationRequest)} | ${fmt(t.standbyEnabled)} | ${fmt(t.switched)} | ${fmt(t.firstStandbyAnswer)} | ${t.failed} |`);
}
const outages = trials.map((t) => t.firstStandbyAnswer);
const med = median(outages);
const worst = Math.max(...outages);
const afterRequest = median(trials.map((t) => t.firstStandbyAnswer - t.activationRequest));
const route53S = ROUTE53.checks * ROUTE53.intervalS + ROUTE53.ttlS;
console.log(`\n${TRIALS} trials in ${((performance.now() - started) / 1000).toFixed(0)} s`);
console.log(`client-observed outage: median ${fmt(med)} ms, worst ${fmt(worst)} ms (activation request → first standby answer: median ${fmt(afterRequest)} ms: confirmation probe, plan, event-stream push, switch, next request)`);
console.log(
  `detection bound = failureThreshold × interval + 2 × timeout = ${threshold} × ${intervalMs} + 2 × ${timeoutMs} = ${boundMs} ms ` +
    `(the watchdog's worst case: the failure just after a passing probe, ${threshold} failed probes an interval apart, the last taking its timeout, then the activation service's confirmation probe); ` +
    'the activation plan (one loopback POST) and the push to the client come on top and are in the measured figures',
);
console.log(
  `for comparison: DNS failover (Route 53: ${ROUTE53.checks} failed health checks × ${ROUTE53.intervalS} s + record TTL ${ROUTE53.ttlS} s) ≈ ${route53S} s = ${(route53S * 1000 / med).toFixed(0)}× the median here; ` +
    `Patroni (leader key TTL ${PATRONI_TTL_S} s) ≈ ${PATRONI_TTL_S} s before a replica is promoted = ${(PATRONI_TTL_S * 1000 / med).toFixed(1)}× (clients must then find the new leader)`,
);
console.log(`outage median-ms=${fmt(med)} worst-ms=${fmt(worst)} detection-bound-ms=${boundMs}`);
