/**
 * Time from a primary failure to the watchdog's activation request, with the demo's settings,
 * next to the stated bound interval × (failureThreshold − 1) + timeout. Failures are injected at
 * random phases of the probe schedule, so the spread shows the schedule's granularity too.
 *
 *   npm run bench:detection [-- --trials 5]
 */
import { parseDuration } from '@vigil/core';
import { DEFAULT_SETTINGS, getJson, startHangingServer, startSystem, waitFor } from '@vigil/demo';

const trialsArg = process.argv.indexOf('--trials');
const trials = trialsArg > 0 ? Number(process.argv[trialsArg + 1]) : 4;
const timing = DEFAULT_SETTINGS;
const intervalMs = parseDuration(timing.interval)!;
const timeoutMs = parseDuration(timing.timeout)!;
const boundMs = intervalMs * (timing.failureThreshold - 1) + timeoutMs;

type Mode = 'refused' | 'hanging';

async function trial(mode: Mode): Promise<{ request: number; alert: number }> {
  const system = await startSystem({ timing });
  try {
    await waitFor('a healthy probe', async () => {
      const { body } = await getJson<{ monitors: { state: string }[] }>(system.url('watchdog', '/v1/monitors'));
      return body.monitors[0]?.state === 'up';
    });
    await new Promise((ok) => setTimeout(ok, Math.random() * intervalMs)); // random phase
    const failedAt = Date.now();
    await system.services['health-check'].stop('SIGKILL');
    const hanging = mode === 'hanging' ? await startHangingServer(system.settings.ports.healthCheck) : undefined;
    await system.primary.setMode('stopped');
    try {
      await waitFor('the activation request', () => system.activationRequests.length > 0, 30_000);
      await waitFor('the firing alert', () => system.sink.alerts.length > 0, 10_000);
    } finally {
      await hanging?.close();
    }
    // The sink records arrival order, not time: the alert is sent in the same cycle as the request.
    return { request: system.activationRequests[0]!.at - failedAt, alert: Date.now() - failedAt };
  } finally {
    await system.stop();
  }
}

const rows: string[] = [];
const all: number[] = [];
for (const mode of ['refused', 'hanging'] as const) {
  for (let i = 1; i <= trials; i++) {
    const { request } = await trial(mode);
    all.push(request);
    rows.push(`${mode.padEnd(8)} trial ${i}: failure → activation request ${String(request).padStart(5)} ms`);
    console.log(rows.at(-1));
  }
}
all.sort((a, b) => a - b);
console.log(
  `settings: interval ${timing.interval}, timeout ${timing.timeout}, failureThreshold ${timing.failureThreshold}; ` +
    `bound interval×(failureThreshold−1)+timeout = ${boundMs} ms, + one interval of schedule phase = ${boundMs + intervalMs} ms`,
);
console.log(`detection min=${all[0]}ms median=${all[Math.floor(all.length / 2)]}ms max=${all.at(-1)}ms bound=${boundMs}ms bound+phase=${boundMs + intervalMs}ms`);
