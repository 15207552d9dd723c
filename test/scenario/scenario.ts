/**
 * The whole-system failover scenario, written once against a `Deployment` so that the same
 * steps and expectations run on local processes and on containers built from the Dockerfiles.
 */
import { expect } from 'vitest';
import { parseDuration } from '@vigil/core';
import { getJson, waitFor, type PrimaryMode, type ReceivedAlert } from '@vigil/demo';

/** One alert as the sample sink recorded it (its `GET /received` shape). */
export type SinkAlert = Omit<ReceivedAlert, 'body'>;

/** The watchdog's probe settings for the `primary` monitor: every wait is derived from them. */
export interface Timing {
  interval: string;
  timeout: string;
  failureThreshold: number;
  successThreshold: number;
}

/** A running Vigil loop, wherever it runs. URLs are base URLs reachable from this process. */
export interface Deployment {
  /** Names the deployment in messages ("processes", "containers"). */
  readonly kind: string;
  readonly urls: { healthCheck: string; watchdog: string; activation: string; standby: string };
  readonly timing: Timing;
  /** Extra time the deployment needs beyond the probe arithmetic (process start, container networking). */
  readonly slackMs: number;
  /** The signed alerts the sink accepted, in arrival order. */
  receivedAlerts(): Promise<SinkAlert[]>;
  /** How many times the standby's `POST /admin/enable` was called. */
  enableCalls(): Promise<number>;
  failPrimary(mode: Exclude<PrimaryMode, 'up'>): Promise<void>;
  recoverPrimary(): Promise<void>;
  stop(): Promise<void>;
}

type Active = { active: string; epoch: number };
type Monitors = { monitors: { name: string; state: string }[] };
type Activations = { activations: { status: string; epoch: number; steps: { name: string; status: string; attempts: number }[] }[] };

const ms = (duration: string) => {
  const value = parseDuration(duration);
  if (value === undefined) throw new Error(`timing: "${duration}" is not a duration`);
  return value;
};

/** How long detection and resolution may take for a deployment's timing, with its slack. */
export function scenarioTimeouts(d: Pick<Deployment, 'timing' | 'slackMs'>): { upMs: number; detectMs: number; resolveMs: number; settleMs: number } {
  const interval = ms(d.timing.interval);
  const timeout = ms(d.timing.timeout);
  // Up to one interval until the first failing probe, then failureThreshold probes (the last
  // one waiting its whole timeout), then the activation plan and the alert delivery.
  const detectMs = interval * d.timing.failureThreshold + timeout + d.slackMs;
  return {
    upMs: interval * (d.timing.successThreshold + 1) + timeout + d.slackMs,
    detectMs,
    resolveMs: interval * (d.timing.successThreshold + 1) + timeout + d.slackMs,
    // Long enough for several more probe cycles: a duplicate would have been sent by then.
    settleMs: interval * 4,
  };
}

/** Longest the whole scenario may take once the deployment runs: every wait it makes, in sequence. */
export function scenarioDurationMs(timing: Timing, slackMs: number): number {
  const t = scenarioTimeouts({ timing, slackMs });
  return t.upMs + 2 * t.detectMs + t.resolveMs + 2 * t.settleMs;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

async function activations(d: Deployment): Promise<Activations['activations']> {
  return (await getJson<Activations>(`${d.urls.activation}/v1/activations?target=primary`)).body.activations;
}

async function active(d: Deployment): Promise<Active> {
  return (await getJson<Active>(`${d.urls.activation}/v1/active?target=primary`)).body;
}

/**
 * The primary fails in `mode`: exactly one activation (the secondary is active, epoch 1, the
 * standby enabled once) and one firing alert; the primary recovers: one resolved alert for the
 * same incident, and no automatic failback.
 */
export async function failoverScenario(d: Deployment, mode: Exclude<PrimaryMode, 'up'>): Promise<void> {
  const t = scenarioTimeouts(d);
  const firing = async () => (await d.receivedAlerts()).filter((a) => a.status === 'firing' && a.monitor === 'primary');
  const resolved = async () => (await d.receivedAlerts()).filter((a) => a.status === 'resolved' && a.monitor === 'primary');

  // A healthy start: the watchdog sees the primary up, nothing has been activated or alerted.
  await waitFor(`${d.kind}: the watchdog to see the primary up`, async () => {
    const { body } = await getJson<Monitors>(`${d.urls.watchdog}/v1/monitors`);
    return body.monitors.find((m) => m.name === 'primary')?.state === 'up';
  }, t.upMs);
  expect((await getJson(`${d.urls.healthCheck}/health`)).status).toBe(200);
  expect(await active(d)).toMatchObject({ active: 'primary', epoch: 0 });
  expect(await d.enableCalls()).toBe(0);
  expect((await getJson(d.urls.standby)).body).toMatchObject({ side: 'secondary', enabled: false });
  expect(await d.receivedAlerts()).toEqual([]);

  await d.failPrimary(mode);

  await waitFor(`${d.kind}: the secondary to be reported active after the primary went ${mode}`, async () => {
    const now = await active(d);
    return now.active === 'secondary' ? now : undefined;
  }, t.detectMs);
  await waitFor(`${d.kind}: the firing alert at the sink`, async () => (await firing()).length > 0, t.detectMs);
  // Several more failed probe cycles: nothing more may be sent for this incident.
  await sleep(t.settleMs);
  expect(await active(d)).toMatchObject({ active: 'secondary', epoch: 1 });
  const records = await activations(d);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ status: 'succeeded', epoch: 1 });
  expect(records[0]!.steps).toEqual([expect.objectContaining({ name: 'enable-standby', status: 'succeeded', attempts: 1 })]);
  expect(await d.enableCalls()).toBe(1);
  expect((await getJson(d.urls.standby)).body).toMatchObject({ side: 'secondary', enabled: true });
  const fired = await firing();
  expect(fired).toHaveLength(1);
  expect(fired[0]).toMatchObject({ severity: 'critical', monitor: 'primary' });

  await d.recoverPrimary();

  await waitFor(`${d.kind}: the resolved alert at the sink`, async () => (await resolved()).length > 0, t.resolveMs);
  await sleep(t.settleMs);
  const closed = await resolved();
  expect(closed).toHaveLength(1);
  expect(closed[0]!.dedupKey).toBe(fired[0]!.dedupKey);
  expect(closed[0]!.id).not.toBe(fired[0]!.id);
  // No automatic failback: the secondary stays active and nothing is activated again.
  expect(await active(d)).toMatchObject({ active: 'secondary', epoch: 1 });
  expect(await activations(d)).toHaveLength(1);
  expect(await d.enableCalls()).toBe(1);
}
