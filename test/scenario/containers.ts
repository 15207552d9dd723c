/**
 * The scenario's deployment as containers: the four images built from the repository's
 * Dockerfile (once per test run, test/support/engine.ts), one network on which every container has
 * its compose service name as alias, the compose configs (deploy/compose) at
 * /etc/vigil/config.yaml. Needs Docker or Podman.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { parse } from 'yaml';
import { generateSecret } from '@vigil/core';
import { exposedPorts, ROOT, VigilContainer, type Image } from '../support/engine.js';
import type { Deployment, SinkAlert, Timing } from './scenario.js';

const COMPOSE_CONFIG = (name: string) => `${ROOT}deploy/compose/${name}.yaml`;

/** The compose watchdog's probe settings for `primary`, so the scenario waits as long as they need. */
export function composeTiming(): Timing {
  const config = parse(readFileSync(COMPOSE_CONFIG('watchdog'), 'utf8')) as { monitors?: (Timing & { name: string })[] };
  const monitor = config.monitors?.find((m) => m.name === 'primary');
  if (!monitor) throw new Error(`${COMPOSE_CONFIG('watchdog')}: no monitor named "primary"`);
  const { interval, timeout, failureThreshold, successThreshold } = monitor;
  return { interval, timeout, failureThreshold, successThreshold };
}

/** Longest a container may take to turn healthy: the images' HEALTHCHECK start period (20 s) and more. */
export const STARTUP_TIMEOUT_MS = 60_000;

/** Container networking and the engine's port forwarding add latency to every hop. */
export const CONTAINER_SLACK_MS = 15_000;

/** Expects the images built (buildImages). */
export async function startContainers(): Promise<Deployment> {
  const secrets = { VIGIL_VOTER_SECRET: generateSecret(), VIGIL_ALERT_SECRET: generateSecret() };
  const network: StartedNetwork = await new Network().start();
  const started: StartedTestContainer[] = [];
  const logs = new Map<string, string[]>();

  /**
   * One container per compose service, named by its alias, waited on until `ready` (a path on
   * `port`) answers 200: what its HEALTHCHECK asks, polled more often than the image's 10 s
   * interval (the HEALTHCHECK itself is tested in test/images.test.ts).
   */
  const run = async (alias: string, image: Image, port: number, ready: string, env: Record<string, string>, config?: Exclude<Image, 'demo'>) => {
    const lines: string[] = [];
    logs.set(alias, lines);
    let container = new VigilContainer(image)
      .withLoopbackPorts(await exposedPorts(image))
      .withNetwork(network)
      .withNetworkAliases(alias)
      .withEnvironment(env)
      .withLogConsumer((stream) => createInterface({ input: stream }).on('line', (line) => lines.push(line)))
      .withWaitStrategy(Wait.forHttp(ready, port).withReadTimeout(500))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
    if (config) container = container.withCopyFilesToContainer([{ source: COMPOSE_CONFIG(config), target: '/etc/vigil/config.yaml', mode: 0o444 }]);
    const running = await container.start();
    started.push(running);
    return { url: `http://${running.getHost()}:${running.getMappedPort(port)}`, running };
  };
  const stop = async () => {
    // Killed at once, like the processes deployment: graceful shutdown is not what this run tests.
    await Promise.all(started.map((container) => container.stop()));
    await network.stop();
  };

  try {
    // The watchdog last, so that its first probes see a running primary and its first request
    // finds the activation service; everything else at once.
    const [primary, standby, sink, activation, healthCheck] = await Promise.all([
      run('primary-app', 'demo', 8089, '/primary', { VIGIL_SAMPLE_ROLE: 'primary', PORT: '8090', CONTROL_PORT: '8089' }),
      run('standby-app', 'demo', 8091, '/', { VIGIL_SAMPLE_ROLE: 'standby', PORT: '8091' }),
      run('alert-sink', 'demo', 8099, '/received', { VIGIL_SAMPLE_ROLE: 'sink', PORT: '8099', VIGIL_ALERT_SECRET: secrets.VIGIL_ALERT_SECRET }),
      run('activation', 'activation', 8083, '/readyz', { VIGIL_VOTER_SECRET: secrets.VIGIL_VOTER_SECRET }, 'activation'),
      run('health-check', 'health-check', 8081, '/readyz', {}, 'health-check'),
    ]);
    // No Alertmanager here: the watchdog's deliveries to its `alertmanager` receiver are retried
    // on their own and never hold back the sink's (see "Alerting" in the README).
    const watchdog = await run('watchdog', 'watchdog', 8082, '/readyz', secrets, 'watchdog');

    const control = async (mode: string) => {
      const res = await fetch(`${primary.url}/primary/${mode}`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`primary control: POST /primary/${mode} answered ${res.status}: ${await res.text()}`);
    };
    return {
      kind: 'containers',
      urls: { healthCheck: healthCheck.url, watchdog: watchdog.url, activation: activation.url, standby: standby.url },
      timing: composeTiming(),
      slackMs: CONTAINER_SLACK_MS,
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
