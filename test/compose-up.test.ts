/**
 * docker-compose.yml run by a real engine: the Vigil services and the sample apps come up from the
 * images built in this run, turn healthy through their images' HEALTHCHECKs and run as the file
 * says (user node, read-only root, state on writable volumes); cutting the inter-region network
 * fails the primary region over once; `stop` ends every container with SIGTERM and exit 0 within
 * its grace period. Prometheus, Alertmanager and Grafana are in the `monitoring` profile and left
 * out: their images come from a registry, and nothing is pulled here.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { getContainerRuntimeClient } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateSecret, parseDuration } from '@vigil/core';
import { getJson, waitFor } from '@vigil/demo';
import { findBinary } from '../packages/core/src/test-support/components.js';
import { CONTAINER_SLACK_MS } from './scenario/containers.js';
import { BUILD_ALL_TIMEOUT_MS, buildImages, findEngine, healthcheckBoundMs, ROOT } from './support/engine.js';

const PROJECT = 'vigil-compose-test';
/** A test's own limit, above the bounded waits inside it (HEALTHCHECK timings, the RTO), which fail first with a reason. */
const OUTER_TIMEOUT_MS = 10 * 60_000;

/** Compose v2 (`docker compose`) where the Docker CLI has it, else v1 (`docker-compose`, Debian package docker-compose). */
function findCompose(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0) return ['docker', 'compose'];
  const v1 = findBinary('docker-compose', 'docker-compose');
  return v1 ? [v1] : undefined;
}

const engine = await findEngine();
const compose = engine ? findCompose() : undefined;

type Service = { ports?: (string | { published: string | number; host_ip?: string })[]; stop_grace_period?: string; profiles?: string[] };
// merge: the Vigil services take their settings from the file's `<<: *vigil`.
const file = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const started = Object.entries(file.services).filter(([, s]) => !s.profiles);
/** The host ports the started services publish (all on loopback). */
const published = started.flatMap(([, s]) => (s.ports ?? []).map((p) => Number(typeof p === 'string' ? p.split(':').at(-2) : p.published)));

const watchdogConfig = parse(readFileSync(join(ROOT, 'deploy/compose/watchdog.yaml'), 'utf8')) as { monitors: { name: string; rto: string }[] };
/** The primary monitor's RTO: the watchdog refuses a config whose worst-case detection and activation exceed it. */
const rtoMs = parseDuration(watchdogConfig.monitors.find((m) => m.name === 'primary')!.rto)!;

describe.skipIf(!compose)(`docker-compose.yml up (${compose?.join(' ') ?? 'needs Docker or Podman, and Compose'}, ${engine ?? ''})`, () => {
  // Secrets of this run, not the file's demo defaults.
  const env = { ...process.env, VIGIL_VOTER_SECRET: generateSecret(), VIGIL_ALERT_SECRET: generateSecret() };
  const run = (args: string[], timeoutMs: number) => {
    const out = spawnSync(compose![0]!, [...compose!.slice(1), '-p', PROJECT, '-f', join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: timeoutMs });
    if (out.status !== 0) throw new Error(`${compose!.join(' ')} ${args.join(' ')} failed (${out.status ?? out.signal}):\n${out.stdout}${out.stderr}`);
    return out.stdout;
  };
  const dockerode = async () => (await getContainerRuntimeClient()).container.dockerode;
  /** The project's container of a service, found by the labels Compose puts on it. */
  const containerOf = async (service: string) => {
    const filters = { label: [`com.docker.compose.project=${PROJECT}`, `com.docker.compose.service=${service}`] };
    const [found, ...more] = await (await dockerode()).listContainers({ all: true, filters });
    if (!found || more.length > 0) throw new Error(`expected one container of ${service}, found ${more.length + (found ? 1 : 0)}`);
    return (await dockerode()).getContainer(found.Id);
  };
  const inspect = async (service: string) => (await containerOf(service)).inspect();
  let healthBoundMs = 0;

  beforeAll(async () => {
    await buildImages();
    // What an interrupted earlier run may have left.
    run(['down', '-v', '--remove-orphans', '-t', '0'], 120_000);
    for (const port of published) {
      const free = await new Promise<boolean>((resolve) => {
        const server = createServer().once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
      });
      if (!free) throw new Error(`127.0.0.1:${port} is in use: docker-compose.yml publishes it (is the Compose demo running? docker compose down)`);
    }
    run(['up', '--no-start', '--no-build'], 120_000);
    const healthchecks = await Promise.all(started.map(async ([service]) => healthcheckBoundMs((await inspect(service)).Config.Healthcheck, service)));
    healthBoundMs = Math.max(...healthchecks);
    // `up` starts each service once the ones it waits for are healthy: three levels of them.
    run(['up', '-d', '--no-build'], 3 * healthBoundMs + 60_000);
  }, BUILD_ALL_TIMEOUT_MS + 5 * 60_000);

  afterAll(() => {
    if (compose) run(['down', '-v', '--remove-orphans', '-t', '0'], 120_000);
  }, 180_000);

  it('every container turns healthy through its image HEALTHCHECK, as user node on a read-only root, with writable state volumes', async () => {
    // The watchdog saves its monitors' state in its volume from its first probes on.
    await waitFor('the watchdog to save its state in /var/lib/vigil', () => run(['exec', '-T', 'watchdog', 'ls', '-A', '/var/lib/vigil'], 30_000).includes('monitors.json'), healthBoundMs, 500);
    const volumes = ['watchdog', 'activation'];
    for (const [service] of started) {
      const state = await waitFor(`${service} to be healthy`, async () => {
        const { State } = await inspect(service);
        return State.Health?.Status === 'healthy' ? State : undefined;
      }, healthBoundMs, 500);
      expect(state.Running, service).toBe(true);
      const { Config, HostConfig } = await inspect(service);
      expect(Config.User, service).toBe('node');
      expect(HostConfig.ReadonlyRootfs, service).toBe(true);
      // The root is read-only even where node may write (its home); /tmp is a tmpfs; the state volume is writable.
      const script = ['id -u', 'touch /home/node/x 2>&1 || true', 'touch /tmp/x && echo tmp: writable'];
      if (volumes.includes(service)) script.push('touch /var/lib/vigil/x && rm /var/lib/vigil/x && echo state: writable');
      const out = run(['exec', '-T', service, 'sh', '-c', script.join('; ')], 30_000).trim().split('\n');
      expect(out, service).toEqual(['1000', expect.stringContaining('Read-only file system'), 'tmp: writable', ...(volumes.includes(service) ? ['state: writable'] : [])]);
    }
  }, OUTER_TIMEOUT_MS);

  it('fails over once when the inter-region network is cut (docker network disconnect)', async () => {
    await waitFor('the watchdog to see the primary up', async () => {
      const { body } = await getJson<{ monitors: { name: string; state: string }[] }>('http://127.0.0.1:8082/v1/monitors');
      return body.monitors.find((m) => m.name === 'primary')?.state === 'up';
    }, healthBoundMs, 250);
    expect((await getJson('http://127.0.0.1:8083/v1/active?target=primary')).body).toMatchObject({ active: 'primary', epoch: 0 });

    await (await dockerode()).getNetwork('vigil-interregion').disconnect({ Container: (await containerOf('health-check')).id });

    // The primary region itself is fine: only the link is gone.
    expect((await getJson('http://127.0.0.1:8081/health')).status).toBe(200);
    const active = await waitFor('the secondary to be reported active', async () => {
      const { body } = await getJson<{ active: string; epoch: number }>('http://127.0.0.1:8083/v1/active?target=primary');
      return body.active === 'secondary' ? body : undefined;
    }, rtoMs + CONTAINER_SLACK_MS, 250);
    expect(active.epoch).toBe(1);
    const { body } = await getJson<{ activations: { status: string; epoch: number }[] }>('http://127.0.0.1:8083/v1/activations?target=primary');
    expect(body.activations).toEqual([expect.objectContaining({ status: 'succeeded', epoch: 1 })]);
    const firing = await waitFor('the firing alert at the sink', async () => {
      const { body } = await getJson<{ alerts: { status: string; monitor: string }[] }>('http://127.0.0.1:8099/received');
      const alerts = body.alerts.filter((a) => a.monitor === 'primary' && a.status === 'firing');
      return alerts.length > 0 ? alerts : undefined;
    }, rtoMs + CONTAINER_SLACK_MS, 250);
    expect(firing).toHaveLength(1);
  }, OUTER_TIMEOUT_MS);

  it('stops every container with SIGTERM: exit 0 within its stop_grace_period', async () => {
    // One at a time, as `docker compose stop` would with the file's grace period, timed each.
    for (const [service, s] of [...started].reverse()) {
      const grace = parseDuration(s.stop_grace_period ?? '10s')!;
      const container = await containerOf(service);
      const began = performance.now();
      await container.stop({ t: grace / 1000 });
      const took = performance.now() - began;
      const { State } = await container.inspect();
      expect(State.Running, service).toBe(false);
      expect(State.ExitCode, `${service} exited with ${State.ExitCode} (137: killed at the end of the grace period)`).toBe(0);
      expect(took, `${service}: took longer than its grace period to stop`).toBeLessThan(grace);
    }
  }, started.length * 60_000);
});
