/**
 * The scenario's deployment as containers: the four images built from the repository's
 * Dockerfiles, one network on which every container has its compose service name as alias, the
 * compose configs (deploy/compose) at /etc/vigil/config.yaml, and the images' own HEALTHCHECKs
 * to wait on. Needs Docker or Podman (testcontainers finds it).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GenericContainer, getContainerRuntimeClient, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { parse } from 'yaml';
import { generateSecret } from '@vigil/core';
import type { Deployment, SinkAlert, Timing } from './scenario.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_CONFIG = (name: string) => `${ROOT}deploy/compose/${name}.yaml`;

export type ContainerRuntime = { found: true; description: string } | { found: false; reason: string };

/** Whether a container runtime answers; the reason when none does. */
export async function findContainerRuntime(): Promise<ContainerRuntime> {
  try {
    const { info } = await getContainerRuntimeClient();
    return { found: true, description: `${info.containerRuntime.host} (server version ${info.containerRuntime.serverVersion})` };
  } catch (err) {
    return { found: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** The compose watchdog's probe settings for `primary`, so the scenario waits as long as they need. */
export function composeTiming(): Timing {
  const config = parse(readFileSync(COMPOSE_CONFIG('watchdog'), 'utf8')) as { monitors?: (Timing & { name: string })[] };
  const monitor = config.monitors?.find((m) => m.name === 'primary');
  if (!monitor) throw new Error(`${COMPOSE_CONFIG('watchdog')}: no monitor named "primary"`);
  const { interval, timeout, failureThreshold, successThreshold } = monitor;
  return { interval, timeout, failureThreshold, successThreshold };
}

const IMAGES = ['health-check', 'watchdog', 'activation', 'demo'] as const;
type Image = (typeof IMAGES)[number];

/**
 * Builds vigil/<image> from services/<image>/Dockerfile, kept after the run under the name
 * docker-compose.yml uses. BuildKit builds the independent stages (deps, build) side by side.
 */
const build = (image: Image) =>
  GenericContainer.fromDockerfile(ROOT, `services/${image}/Dockerfile`).withBuildkit().build(`vigil/${image}`, { deleteOnExit: false });

export async function startContainers(): Promise<Deployment> {
  await Promise.all(IMAGES.map(build));
  const secrets = { VIGIL_VOTER_SECRET: generateSecret(), VIGIL_ALERT_SECRET: generateSecret() };
  const network: StartedNetwork = await new Network().start();
  const started: StartedTestContainer[] = [];
  const logs = new Map<string, string[]>();

  /** One container per compose service, named by its alias, waited on until its image's HEALTHCHECK passes. */
  const run = async (alias: string, image: Image, port: number, env: Record<string, string>, config?: Exclude<Image, 'demo'>) => {
    const lines: string[] = [];
    logs.set(alias, lines);
    let container = new GenericContainer(`vigil/${image}`)
      .withNetwork(network)
      .withNetworkAliases(alias)
      .withEnvironment(env)
      .withExposedPorts(port)
      .withLogConsumer((stream) => createInterface({ input: stream }).on('line', (line) => lines.push(line)))
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(60_000);
    if (config) container = container.withCopyFilesToContainer([{ source: COMPOSE_CONFIG(config), target: '/etc/vigil/config.yaml', mode: 0o444 }]);
    const running = await container.start();
    started.push(running);
    return { url: `http://${running.getHost()}:${running.getMappedPort(port)}`, running };
  };
  const stop = async () => {
    // Killed at once, like the processes deployment: graceful shutdown is not what this run tests.
    for (const container of started.reverse()) await container.stop();
    await network.stop();
  };

  try {
    // The compose order, each stage started together: the watchdog last, so that its first
    // probes see a running primary and its first request finds the activation service.
    const [primary, standby, sink] = await Promise.all([
      run('primary-app', 'demo', 8089, { VIGIL_SAMPLE_ROLE: 'primary', PORT: '8090', CONTROL_PORT: '8089' }),
      run('standby-app', 'demo', 8091, { VIGIL_SAMPLE_ROLE: 'standby', PORT: '8091' }),
      run('alert-sink', 'demo', 8099, { VIGIL_SAMPLE_ROLE: 'sink', PORT: '8099', VIGIL_ALERT_SECRET: secrets.VIGIL_ALERT_SECRET }),
    ]);
    const [activation, healthCheck] = await Promise.all([
      run('activation', 'activation', 8083, { VIGIL_VOTER_SECRET: secrets.VIGIL_VOTER_SECRET }, 'activation'),
      run('health-check', 'health-check', 8081, {}, 'health-check'),
    ]);
    // No Alertmanager here: the watchdog's deliveries to its `alertmanager` receiver are retried
    // on their own and never hold back the sink's (see "Alerting" in the README).
    const watchdog = await run('watchdog', 'watchdog', 8082, secrets, 'watchdog');

    const control = async (mode: string) => {
      const res = await fetch(`${primary.url}/primary/${mode}`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`primary control: POST /primary/${mode} answered ${res.status}: ${await res.text()}`);
    };
    return {
      kind: 'containers',
      urls: { healthCheck: healthCheck.url, watchdog: watchdog.url, activation: activation.url, standby: standby.url },
      timing: composeTiming(),
      // Container networking and Docker's port proxy add latency to every hop.
      slackMs: 15_000,
      async receivedAlerts() {
        const res = await fetch(`${sink.url}/received`, { signal: AbortSignal.timeout(5_000) });
        return ((await res.json()) as { alerts: SinkAlert[] }).alerts;
      },
      // The sample standby's own count, independent of activation's records.
      async enableCalls() {
        const res = await fetch(standby.url, { signal: AbortSignal.timeout(5_000) });
        return ((await res.json()) as { enableCalls: number }).enableCalls;
      },
      failPrimary: (mode) => control(mode),
      recoverPrimary: () => control('up'),
      stop,
    };
  } catch (err) {
    const output = [...logs].map(([alias, lines]) => `--- ${alias}\n${lines.slice(-20).join('\n')}`).join('\n');
    await stop().catch(() => undefined);
    throw new Error(`containers did not start: ${err instanceof Error ? err.message : String(err)}\n${output}`, { cause: err });
  }
}
