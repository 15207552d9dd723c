/**
 * The four images as a real engine builds them from the Dockerfile (once per test run,
 * test/support/engine.ts): each runs its entry point as the unprivileged node user with the
 * contract's ports, volumes, environment and HEALTHCHECK, holds its own service and only what that
 * service needs, and stays small. How they run (healthy, read-only, stopped by SIGTERM) is tested
 * on the Compose stack in test/compose-up.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getContainerRuntimeClient, ImageName } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_ALL_TIMEOUT_MS, buildImages, findEngine, imageInspect, imageName, ROOT, type Built, type Image } from './support/engine.js';

const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const NODE_VERSION = rootPackage.devDependencies.node!;
const BASE = `node:${NODE_VERSION}-bookworm-slim`;

interface ImageCase {
  image: Image;
  entry: string;
  ports: number[];
  volumes: string[];
  /** The workspaces whose compiled output the image holds: the service's and those it imports. */
  workspaces: string[];
}

const CASES: ImageCase[] = [
  { image: 'health-check', entry: 'main', ports: [8081], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['packages/core', 'packages/checks', 'services/health-check'] },
  { image: 'watchdog', entry: 'main', ports: [8082], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['packages/core', 'packages/checks', 'packages/alerting', 'services/watchdog'] },
  { image: 'activation', entry: 'main', ports: [8083], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['packages/core', 'packages/checks', 'packages/alerting', 'packages/coordination', 'services/activation'] },
  // The sample roles keep no state and read no config file. Ports: the primary's control port and app, the standby, the sink.
  { image: 'demo', entry: 'sample', ports: [8089, 8090, 8091, 8099], volumes: [], workspaces: ['packages/core', 'packages/client', 'services/demo'] },
];

/** What an image may add to its base: its service's compiled code and production dependencies (about 22 MB each, measured). */
const ADDED_AT_MOST_BYTES = 40e6;

/** A package's folder in node_modules, hoisted or nested (not a package.json deeper inside a package). */
const PACKAGE_DIR = /^node_modules\/(@[^/]+\/)?[^/@][^/]*(\/node_modules\/(@[^/]+\/)?[^/@][^/]*)*$/;

/**
 * The production dependencies of a workspace in this repository's install, as folders relative to
 * it: npm's own answer, less packages no manifest asks for (extraneous) and the links to the
 * workspaces themselves (their compiled output is checked on its own).
 */
function productionPackages(image: Image): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable', '--long', '-w', `@vigil/${image}`], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH } });
  const dirs = out.split('\n').filter((line) => line.startsWith(ROOT) && !line.endsWith(':EXTRANEOUS')).map((line) => line.slice(ROOT.length).split(':')[0]!);
  return [...new Set(dirs.filter((dir) => PACKAGE_DIR.test(dir) && !dir.startsWith('node_modules/@vigil/')))].sort();
}

it('the Dockerfile pins the Node version the tests run on', () => {
  expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(new RegExp(`^ARG NODE_VERSION=${NODE_VERSION.replaceAll('.', '\\.')}$`, 'm'));
});

const engine = await findEngine();
describe.skipIf(!engine)(`images built by the engine (${engine ?? 'needs Docker or Podman'})`, () => {
  let built: Built[] = [];
  const created: string[] = [];
  const dockerode = async () => (await getContainerRuntimeClient()).container.dockerode;

  /** Runs a shell script in a new container of the image, as its user; its output. */
  async function runIn(image: Image, script: string): Promise<string> {
    const docker = await dockerode();
    const container = await docker.createContainer({ Image: imageName(image), Entrypoint: ['sh', '-c'], Cmd: [script], Tty: true, HostConfig: { NetworkMode: 'none' } });
    created.push(container.id);
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const out = (await container.logs({ stdout: true, stderr: true })).toString('utf8').replaceAll('\r', ''); // a TTY ends lines with \r\n
    if (StatusCode !== 0) throw new Error(`${script} in ${imageName(image)} exited with ${StatusCode}:\n${out}`);
    return out;
  }

  beforeAll(async () => {
    built = await buildImages();
  }, BUILD_ALL_TIMEOUT_MS);
  afterAll(async () => {
    const docker = await dockerode();
    await Promise.all(created.map((id) => docker.getContainer(id).remove({ force: true })));
  });

  describe.each(CASES)('vigil/$image', (c) => {
    const entry = `services/${c.image}/dist/${c.entry}.js`;

    it('runs its entry point as node, with the contract\'s ports, volumes, environment, labels and HEALTHCHECK', async () => {
      const { Config } = await imageInspect(c.image);
      expect(Config.User).toBe('node');
      expect(Config.WorkingDir).toBe('/app');
      expect(Config.Entrypoint).toEqual(['node', entry]);
      expect(Config.Cmd).toEqual(['run']);
      expect(Object.keys(Config.ExposedPorts ?? {}).sort()).toEqual(c.ports.map((p) => `${p}/tcp`).sort());
      expect(Object.keys(Config.Volumes ?? {}).sort()).toEqual(c.volumes);
      expect(Config.Env).toContain('NODE_ENV=production');
      if (c.volumes.length > 0) expect(Config.Env).toContain('VIGIL_CONFIG=/etc/vigil/config.yaml');
      expect(Config.Labels).toMatchObject({ 'org.opencontainers.image.title': `vigil-${c.image}`, 'org.opencontainers.image.licenses': 'Apache-2.0', 'org.opencontainers.image.base.name': `docker.io/library/${BASE}` });
      // Kept only in the docker image format, and shown by a container's inspect (Podman's image inspect leaves it out).
      const container = await (await dockerode()).createContainer({ Image: imageName(c.image) });
      created.push(container.id);
      const { Healthcheck } = (await container.inspect()).Config;
      expect(Healthcheck?.Test).toEqual(['CMD', 'node', entry, 'healthcheck']);
      expect(Healthcheck!.Timeout!).toBeLessThan(Healthcheck!.Interval!);
    });

    it('holds its service and only what it needs: the Node pinned, its workspaces compiled, their production dependencies, no sources', async () => {
      const out = await runIn(c.image, [
        'node --version',
        'id -u',
        'echo ---',
        'cd /app',
        'find . -path ./node_modules -prune -o -type f -print | sort',
        'echo ---',
        'find node_modules -name package.json -not -path "*/node_modules/*/node_modules/*/*/*/*/*" | sed "s#/package.json\\$##" | sort',
        'echo ---',
        'find /var/lib/vigil -maxdepth 0 -user node 2>/dev/null || true',
      ].join('; '));
      const [head = '', files = '', packages = '', state = ''] = out.split('---\n');
      expect(out.split('---\n'), out).toHaveLength(4);
      const [version, uid] = head.split('\n');
      expect(version).toBe(`v${NODE_VERSION}`);
      expect(uid).toBe('1000');
      // Compiled output of its workspaces and their package.json files, nothing else (no src, no tests, no tsbuildinfo).
      const appFiles = files.trim().split('\n').map((f) => f.replace(/^\.\//, ''));
      const workspaceOf = (f: string) => c.workspaces.find((w) => f === `${w}/package.json` || f.startsWith(`${w}/dist/`));
      expect(appFiles.filter((f) => f !== 'package.json' && !workspaceOf(f))).toEqual([]);
      expect([...new Set(appFiles.map(workspaceOf).filter(Boolean))].sort()).toEqual([...c.workspaces].sort());
      expect(appFiles).toContain(entry);
      // The console's static files, copied by the build beside the compiled plugin that serves them.
      if (c.image === 'activation') expect(appFiles).toEqual(expect.arrayContaining(['services/activation/dist/console/app.js', 'services/activation/dist/console/app.css']));
      expect(appFiles.filter((f) => /\.tsbuildinfo$|\.test\.|\/src\//.test(f))).toEqual([]);
      // Exactly the production dependencies npm resolves for this workspace: no dev tools, nothing only another service uses.
      expect(packages.trim().split('\n').filter((dir) => PACKAGE_DIR.test(dir))).toEqual(productionPackages(c.image));
      // The state folder belongs to node, so that the volume mounted there is writable by the service.
      expect(state.trim()).toBe(c.volumes.includes('/var/lib/vigil') ? '/var/lib/vigil' : '');
    });

    it('is small: its base image and at most 40 MB of its own', async () => {
      const [image, base] = await Promise.all([imageInspect(c.image), (await getContainerRuntimeClient()).image.inspect(ImageName.fromString(BASE))]);
      const added = image.Size - base.Size;
      console.log(`${imageName(c.image)}: ${(image.Size / 1e6).toFixed(1)} MB, ${(added / 1e6).toFixed(1)} MB over ${BASE}; built in ${built.find((b) => b.image === c.image)?.seconds} s`);
      expect(added).toBeGreaterThan(0);
      expect(added).toBeLessThan(ADDED_AT_MOST_BYTES);
    });
  });
});
