/**
 * The container engine for system tests: whether one answers (Docker, or Podman's Docker-compatible
 * API through DOCKER_HOST; see scripts/container-engine.sh), the four images built once per test
 * run and shared by every test file that needs them, and containers published on loopback only.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenericContainer, getContainerRuntimeClient, ImageName } from 'testcontainers';
import { inject } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The images, one target each of the repository's Dockerfile, tagged vigil/<image> as docker-compose.yml names them. */
export const IMAGES = ['health-check', 'watchdog', 'activation', 'demo'] as const;
export type Image = (typeof IMAGES)[number];
export const imageName = (image: Image) => `vigil/${image}`;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by test/support/engine-setup.ts, once per `vitest run`. */
    vigilTestRun: string;
  }
}

/**
 * The engine's description, or undefined when none answers: then the caller skips with a message
 * saying what to install, unless VIGIL_REQUIRE_COMPONENTS is set (CI), where this is a failure.
 */
export async function findEngine(): Promise<string | undefined> {
  try {
    const { info } = await getContainerRuntimeClient();
    return `${info.containerRuntime.host}, server ${info.containerRuntime.serverVersion}`;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const message = `no container engine answers (${why}): install Docker or Podman (on Debian 12: eval "$(scripts/container-engine.sh)") to run this test`;
    if (process.env.VIGIL_REQUIRE_COMPONENTS) throw new Error(`${message}; VIGIL_REQUIRE_COMPONENTS is set, so this is a failure`, { cause: err });
    console.warn(`skipped: ${message}`);
    return undefined;
  }
}

/** How one image build went. */
export interface Built {
  image: Image;
  id: string;
  seconds: number;
}

/** Runs a command to its end, its output kept; rejects with the output's tail when it fails. */
function run(argv: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} ${signal ? `was killed after ${timeoutMs / 1000} s` : `exited with ${code}`}:\n${out.split('\n').slice(-40).join('\n')}`));
    });
  });
}

const onPath = (name: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)));

/**
 * The command line that builds one target. Podman's own CLI where it is installed: it shares the
 * API service's storage, keeps HEALTHCHECK (docker format) and is niced so that the build does not
 * starve the tests running beside it. Docker's CLI otherwise (it talks to DOCKER_HOST itself).
 */
function buildCommand(image: Image): string[] {
  const target = ['--target', image, '-t', imageName(image), '-f', 'Dockerfile', '.'];
  if (onPath('podman')) return ['nice', '-n', '10', 'podman', 'build', '--format', 'docker', '--pull=never', '--layers', ...target];
  return ['docker', 'build', '--pull=false', ...target];
}

/** Longest a build of one image may take: a cold build here takes under 90 s (npm ci and tsc of every workspace). */
const BUILD_TIMEOUT_MS = 6 * 60_000;
/** Longest the four builds may take together, for the hook that waits on them. */
export const BUILD_ALL_TIMEOUT_MS = IMAGES.length * BUILD_TIMEOUT_MS;

/**
 * Builds the four images from the repository's Dockerfile, once per test run: the first test file
 * that calls this builds them one after the other (the shared `build` stage is then cached for
 * the next ones), later files read the outcome the first one recorded. The system project runs
 * its files one at a time, so no two callers build at once.
 */
export async function buildImages(): Promise<Built[]> {
  const record = join(tmpdir(), `vigil-images-${inject('vigilTestRun')}.json`);
  if (existsSync(record)) {
    const outcome = JSON.parse(readFileSync(record, 'utf8')) as { built: Built[] } | { error: string };
    if ('error' in outcome) throw new Error(`the images did not build earlier in this run: ${outcome.error}`);
    return outcome.built;
  }
  const built: Built[] = [];
  try {
    for (const image of IMAGES) {
      const started = performance.now();
      await run(buildCommand(image), BUILD_TIMEOUT_MS);
      const { Id } = await imageInspect(image);
      built.push({ image, id: Id, seconds: Math.round((performance.now() - started) / 100) / 10 });
    }
  } catch (err) {
    writeFileSync(record, JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    throw err;
  }
  writeFileSync(record, JSON.stringify({ built }));
  console.log(`built ${built.map((b) => `${imageName(b.image)} in ${b.seconds} s`).join(', ')}`);
  return built;
}

/** The engine's `image inspect` of vigil/<image>. */
export async function imageInspect(image: Image) {
  const client = await getContainerRuntimeClient();
  return client.image.inspect(ImageName.fromString(imageName(image)));
}

/** A HEALTHCHECK as a container's inspect shows it (durations in nanoseconds). */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/**
 * Longest a HEALTHCHECK may take to call a working container healthy: its start period, then an
 * interval and a timeout for each retry (the engine gives up after that many). Read from a
 * container's inspect: Podman's Docker-compatible image inspect leaves the HEALTHCHECK out.
 */
export function healthcheckBoundMs(healthcheck: HealthConfig | undefined, what: string): number {
  if (!healthcheck?.Test) throw new Error(`${what} has no HEALTHCHECK (an OCI-format build drops it: build with --format docker)`);
  const ms = (ns?: number) => (ns ?? 0) / 1e6;
  return ms(healthcheck.StartPeriod) + (ms(healthcheck.Interval) + ms(healthcheck.Timeout)) * (healthcheck.Retries ?? 3);
}

/** The ports an image EXPOSEs, as numbers. */
export async function exposedPorts(image: Image): Promise<number[]> {
  const { Config } = await imageInspect(image);
  return Object.keys(Config.ExposedPorts ?? {}).map((p) => Number.parseInt(p, 10));
}

/**
 * A container of one of the images, that publishes every port its image EXPOSEs on a random
 * loopback port. Every one: Podman lists each EXPOSEd port among the container's port bindings
 * (unpublished ones as null), and testcontainers waits until all of them are bound, so publishing
 * only some never starts on Podman. Loopback: nothing beyond this machine reaches a test.
 */
export class VigilContainer extends GenericContainer {
  constructor(image: Image) {
    super(imageName(image));
  }

  withLoopbackPorts(ports: number[]): this {
    this.withExposedPorts(...ports);
    this.hostConfig.PortBindings = Object.fromEntries(ports.map((port) => [`${port}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '0' }]]));
    return this;
  }

  /** As docker-compose.yml runs them: a read-only root file system (volumes stay writable). */
  withReadOnlyRoot(): this {
    this.hostConfig.ReadonlyRootfs = true;
    return this;
  }
}
