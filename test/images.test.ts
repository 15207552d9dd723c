import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecret, parseConfigValue, signedHeaders } from '@vigil/core';
import { freePort, waitFor } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationConfig } from '../services/activation/src/config.js';
import { HealthCheckConfig } from '../services/health-check/src/config.js';
import { WatchdogConfig } from '../services/watchdog/src/config.js';
import { findBinary } from '../packages/core/src/test-support/components.js';
import {
  copyOf,
  durationMs,
  envOf,
  globToRegExp,
  healthcheckOf,
  instructionsOf,
  isIgnored,
  labelsOf,
  lastOf,
  parseDockerfile,
  parseDockerignore,
  shellWords,
  stageByName,
  stageChain,
  type Copy,
  type Dockerfile,
  type Healthcheck,
  type Stage,
} from './support/dockerfile.js';

/**
 * The container images, checked without a Docker engine: each Dockerfile is read and held to the
 * image contract, then its runtime stage is laid out on the local disk (production node_modules
 * installed from npm's cache exactly as the deps stage does, the build's outputs taken from this
 * repository's built tree) and the service is started from that layout alone, with the image's
 * ENTRYPOINT, ENV and HEALTHCHECK. It proves the image holds everything the service imports.
 */

const REPO = fileURLToPath(new URL('..', import.meta.url));
const rootPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const ignoreRules = parseDockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));

const defaultPort = (schema: Parameters<typeof parseConfigValue>[0]) => (parseConfigValue(schema, {}, 'the built-in defaults', {}) as { server: { port: number } }).server.port;

interface ImageCase {
  service: string;
  entry: string;
  ports: number[];
  volumes: string[];
  /** The workspaces the service imports, besides itself. */
  workspaces: string[];
}

const IMAGES: ImageCase[] = [
  { service: 'health-check', entry: 'main', ports: [defaultPort(HealthCheckConfig)], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['core', 'checks'] },
  { service: 'watchdog', entry: 'main', ports: [defaultPort(WatchdogConfig)], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['core', 'checks', 'alerting'] },
  { service: 'activation', entry: 'main', ports: [defaultPort(ActivationConfig)], volumes: ['/etc/vigil', '/var/lib/vigil'], workspaces: ['core', 'checks', 'alerting', 'coordination'] },
  // The sample roles keep no state: no volume. Ports: the primary's control port and app, the standby, the sink.
  { service: 'demo', entry: 'sample', ports: [8089, 8090, 8091, 8099], volumes: [], workspaces: ['core'] },
];

const dockerfiles = new Map(IMAGES.map((c) => [c.service, parseDockerfile(readFileSync(join(REPO, 'services', c.service, 'Dockerfile'), 'utf8'), `services/${c.service}/Dockerfile`)]));
const fileOf = (c: ImageCase) => dockerfiles.get(c.service)!;
const finalStage = (file: Dockerfile) => file.stages.at(-1)!;

// --- processes ---

interface Proc {
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function startProcess(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(...c.toString('utf8').split('\n').filter(Boolean)));
  child.stderr.on('data', (c: Buffer) => stderr.push(...c.toString('utf8').split('\n').filter(Boolean)));
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return { stdout, stderr, exited, kill: (signal) => child.kill(signal) };
}

/** Runs a command to its end; a command still running after `timeoutMs` is killed and reported. */
async function runToEnd(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> }, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  const proc = startProcess(argv, options);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited.finally(() => clearTimeout(timer));
  return { code, out: [...proc.stdout, ...proc.stderr].join('\n') };
}

/** npm's own environment variables would point a nested npm at this repository. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
}

// --- what the stages do, on the local disk ---

/** A stage that compiles the sources: its outputs are taken from this repository's built tree. */
const compiles = (stage: Stage) => stageChain(stage).some((s) => instructionsOf(s, 'RUN').some((i) => /\btsc\b/.test(i.args)));

/** Where a COPY source lands: a folder's contents go into the destination, a file into it when it ends with `/`. */
function copyTarget(copy: Copy, source: string, sourceIsDir: boolean): string {
  return copy.dest.endsWith('/') && !sourceIsDir ? posix.join(copy.dest, basename(source)) : copy.dest.replace(/\/$/, '') || '/';
}

/** Runs one RUN of the deps stage: only `npm ci`, offline (the repository's own install filled npm's cache). */
async function runNpm(file: Dockerfile, instruction: Stage['instructions'][number], cwd: string): Promise<void> {
  const words = shellWords(instruction.args);
  if (words[0] !== 'npm' || words[1] !== 'ci' || words.some((w) => /^(&&|\|\||;|\|)$/.test(w) || w.includes('$'))) {
    throw new Error(`${file.source}:${instruction.line}: only a plain "npm ci ..." can be reproduced here, got: ${instruction.args}`);
  }
  const { code, out } = await runToEnd(['npm', ...words.slice(1), '--offline'], { cwd, env: cleanEnv() }, 45_000);
  if (code !== 0) throw new Error(`${file.source}:${instruction.line}: npm ci --offline failed (${code}):\n${out}`);
}

/** Lays out a stage that does not compile (the production dependencies) in a new temporary root. */
async function layOutStage(file: Dockerfile, stage: Stage): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), `vigil-image-${stage.name ?? stage.index}-`));
  for (const s of stageChain(stage)) {
    for (const i of s.instructions) {
      if (i.keyword === 'WORKDIR') mkdirSync(join(root, i.workdir), { recursive: true });
      else if (i.keyword === 'RUN') await runNpm(file, i, join(root, i.workdir));
      else if (i.keyword === 'COPY') {
        const copy = copyOf(i);
        if (copy.from) throw new Error(`${file.source}:${i.line}: COPY --from in the dependency stage is not reproduced here`);
        for (const source of copy.sources) {
          const from = join(REPO, source);
          const target = join(root, copyTarget(copy, source, statSync(from).isDirectory()));
          mkdirSync(dirname(target), { recursive: true });
          cpSync(from, target, { recursive: true, verbatimSymlinks: true });
        }
      } else if (!['ARG', 'ENV', 'LABEL'].includes(i.keyword)) throw new Error(`${file.source}:${i.line}: ${i.keyword} in the dependency stage is not reproduced here`);
    }
  }
  return root;
}

/** The tsconfig projects `tsc -b <dirs>` builds: those named and every project they reference. */
function builtProjects(dirs: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    const normal = posix.normalize(dir).replace(/\/$/, '');
    if (seen.has(normal)) return;
    seen.add(normal);
    const tsconfig = JSON.parse(readFileSync(join(REPO, normal, 'tsconfig.json'), 'utf8')) as { references?: { path: string }[] };
    for (const ref of tsconfig.references ?? []) visit(posix.join(normal, ref.path));
  };
  dirs.forEach(visit);
  return seen;
}

/** Image paths the build stage holds: what it copies from the context, and each built project's dist. */
function buildOutputs(file: Dockerfile, build: Stage): { copied: string[]; dists: string[] } {
  const copied: string[] = [];
  const dists: string[] = [];
  for (const s of stageChain(build)) {
    for (const i of s.instructions) {
      if (i.keyword === 'COPY') {
        const copy = copyOf(i);
        for (const source of copy.sources) copied.push(copyTarget(copy, source, statSync(join(REPO, source)).isDirectory()));
      }
      if (i.keyword === 'RUN' && /\btsc\b/.test(i.args)) {
        const words = shellWords(i.args);
        const dirs = words.slice(words.findIndex((w) => w === '-b' || w === '--build') + 1).filter((w) => !w.startsWith('-'));
        if (dirs.length === 0) throw new Error(`${file.source}:${i.line}: expected "tsc -b <project>"`);
        for (const project of builtProjects(dirs)) dists.push(posix.join(i.workdir, project, 'dist'));
      }
    }
  }
  return { copied, dists };
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

interface Layout {
  root: string;
  workdir: string;
  /** Each COPY of the runtime stage and what it created. */
  copies: { copy: Copy; targets: string[] }[];
}

/** Lays out the runtime stage in a new temporary root, as the image's filesystem would be. */
async function layOutRuntime(file: Dockerfile, stageRoot: (stage: Stage) => Promise<string>): Promise<Layout> {
  const stage = finalStage(file);
  const root = mkdtempSync(join(tmpdir(), `vigil-image-runtime-`));
  const copies: Layout['copies'] = [];
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') mkdirSync(join(root, i.workdir), { recursive: true });
    if (i.keyword === 'RUN') {
      for (const command of i.args.split('&&').map((c) => shellWords(c))) {
        if (command[0] === 'mkdir') command.slice(1).filter((w) => !w.startsWith('-')).forEach((dir) => mkdirSync(join(root, posix.resolve(i.workdir, dir)), { recursive: true }));
        else if (command[0] !== 'chown') throw new Error(`${file.source}:${i.line}: "${command.join(' ')}" is not reproduced here`); // ownership: checked statically
      }
    }
    if (i.keyword !== 'COPY') continue;
    const copy = copyOf(i);
    const from = copy.from ? stageByName(file, copy.from) : undefined;
    const targets: string[] = [];
    for (const source of copy.sources) {
      let local: string;
      if (!from) local = join(REPO, source);
      else if (compiles(from)) local = join(REPO, posix.relative(lastOf(from, 'WORKDIR')?.workdir ?? '/', source));
      else local = join(await stageRoot(from), source);
      const target = join(root, copyTarget(copy, source, statSync(local).isDirectory()));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(local, target, { recursive: true, verbatimSymlinks: true });
      targets.push(target);
    }
    copies.push({ copy, targets });
  }
  return { root, workdir: join(root, lastOf(stage, 'WORKDIR')?.workdir ?? '/'), copies };
}

/** The image's command line, run by this Node (the image's `node` is the same version). */
const commandLine = (argv: string[]) => (argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv);

/** The image's ENV with absolute paths moved under the layout's root. */
function imageEnv(file: Dockerfile, root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(envOf(finalStage(file))).map(([k, v]) => [k, v.startsWith('/') ? join(root, v) : v]));
}

// --- static checks ---

describe.each(IMAGES)('services/$service/Dockerfile', (image) => {
  const file = fileOf(image);
  const stage = finalStage(file);
  const entry = `services/${image.service}/dist/${image.entry}.js`;

  it('builds on the official Node image of the version the tests run on, in several stages', () => {
    expect(file.globalArgs.NODE_VERSION).toBe(rootPackage.devDependencies.node);
    const stageNames = new Set<string>();
    for (const s of file.stages) {
      if (!s.parent) expect(s.base, `${file.source}:${s.from.line}`).toBe(`node:${rootPackage.devDependencies.node}-bookworm-slim`);
      expect(s.from.args, `${file.source}:${s.from.line}`).toMatch(s.parent ? new RegExp(`^${s.parent.name} AS \\w+$`) : /^node:\$\{NODE_VERSION\}-bookworm-slim\b/);
      if (s.name) stageNames.add(s.name);
    }
    expect(file.stages.length).toBeGreaterThanOrEqual(3);
    expect(stage.parent, 'the runtime stage starts from the clean Node image').toBeUndefined();
    expect(stageNames).toEqual(new Set(['manifests', 'deps', 'build']));
    expect(labelsOf(stage)).toMatchObject({
      'org.opencontainers.image.title': `vigil-${image.service}`,
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.base.name': `docker.io/library/node:${rootPackage.devDependencies.node}-bookworm-slim`,
    });
    expect(labelsOf(stage)['org.opencontainers.image.description']).toMatch(/^Vigil /);
  });

  it('runs its entry point as the unprivileged node user, with the contract\'s ENV, ports, volumes and stop signal', () => {
    expect(lastOf(stage, 'USER')?.args).toBe('node');
    expect(lastOf(stage, 'WORKDIR')?.workdir).toBe('/app');
    expect(lastOf(stage, 'ENTRYPOINT')?.exec).toEqual(['node', entry]);
    expect(lastOf(stage, 'CMD')?.exec).toEqual(['run']);
    expect(lastOf(stage, 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(instructionsOf(stage, 'EXPOSE').flatMap((i) => shellWords(i.args))).toEqual(image.ports.map(String));
    expect(instructionsOf(stage, 'VOLUME').flatMap((i) => i.exec ?? shellWords(i.args))).toEqual(image.volumes);
    const env = envOf(stage);
    expect(env.NODE_ENV).toBe('production');
    if (image.volumes.length > 0) {
      expect(env.VIGIL_CONFIG).toBe('/etc/vigil/config.yaml');
      // The state folder must exist and belong to node before VOLUME, or the service cannot write its state.
      const prepare = instructionsOf(stage, 'RUN').find((i) => /\bchown node:node \/var\/lib\/vigil\b/.test(i.args));
      expect(prepare?.args).toMatch(/\bmkdir -p [^&]*\/var\/lib\/vigil\b/);
      expect(prepare!.line).toBeLessThan(instructionsOf(stage, 'VOLUME')[0]!.line);
    } else {
      expect(env.VIGIL_CONFIG).toBeUndefined();
    }
  });

  it('has a HEALTHCHECK that runs the entry point\'s healthcheck command, with sane timings', () => {
    const healthcheck = healthcheckOf(lastOf(stage, 'HEALTHCHECK')!) as Healthcheck;
    expect(healthcheck.command).toEqual(['node', entry, 'healthcheck']);
    const { interval, timeout, retries } = healthcheck.options;
    const startPeriod = healthcheck.options['start-period'];
    expect(Object.keys(healthcheck.options).sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
    expect(durationMs(timeout!)).toBeLessThan(durationMs(interval!));
    // The healthcheck's own request gives up after 3 s; Node's start comes on top of that.
    expect(durationMs(timeout!)).toBeGreaterThan(3_000);
    expect(durationMs(startPeriod!)).toBeGreaterThanOrEqual(durationMs(interval!));
    expect(Number(retries)).toBeGreaterThanOrEqual(2);
  });

  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    const contextCopies = file.stages.flatMap((s) => instructionsOf(s, 'COPY').map(copyOf)).filter((c) => !c.from);
    expect(contextCopies.length).toBeGreaterThan(0);
    for (const copy of contextCopies) {
      for (const source of copy.sources) {
        const where = `${file.source}:${copy.instruction.line}: ${source}`;
        expect(existsSync(join(REPO, source)), where).toBe(true);
        expect(isIgnored(ignoreRules, source), `${where} is excluded by .dockerignore`).toBe(false);
        if (statSync(join(REPO, source)).isDirectory()) {
          // Every file the workspace's tsconfig compiles must reach the build.
          const workspace = dirname(source);
          const tsconfig = JSON.parse(readFileSync(join(REPO, workspace, 'tsconfig.json'), 'utf8')) as { exclude?: string[] };
          const excluded = (tsconfig.exclude ?? []).map(globToRegExp);
          const compiled = filesUnder(join(REPO, source)).map((f) => relative(join(REPO, workspace), f)).filter((f) => f.endsWith('.ts') && !excluded.some((re) => re.test(f)));
          expect(compiled.length, where).toBeGreaterThan(0);
          expect(compiled.filter((f) => isIgnored(ignoreRules, posix.join(workspace, f))), `${where}: compiled sources excluded by .dockerignore`).toEqual([]);
        }
      }
    }
  });

  it('builds the workspaces the service imports, and the runtime takes from the build only what it produced', () => {
    const build = stageByName(file, 'build');
    const { copied, dists } = buildOutputs(file, build);
    // The build lays the context out as in the repository, so its outputs can be found in this repository's tree.
    for (const s of stageChain(build)) {
      for (const copy of instructionsOf(s, 'COPY').map(copyOf)) {
        for (const source of copy.sources) expect(copyTarget(copy, source, statSync(join(REPO, source)).isDirectory()), `${file.source}:${copy.instruction.line}`).toBe(posix.join(copy.instruction.workdir, source));
      }
    }
    // The entry point is compiled from a source of the service, and reaches the runtime stage.
    expect(existsSync(join(REPO, 'services', image.service, 'src', `${image.entry}.ts`))).toBe(true);
    const fromBuild = instructionsOf(stage, 'COPY').map(copyOf).filter((c) => c.from === 'build');
    expect(fromBuild.some((c) => c.sources.some((source) => under(`/app/${entry}`, source)))).toBe(true);
    const workspaces = [...image.workspaces.map((w) => `packages/${w}`), `services/${image.service}`];
    expect(dists.sort()).toEqual(workspaces.map((w) => `/app/${w}/dist`).sort());
    for (const copy of fromBuild) {
      for (const source of copy.sources) {
        expect([...copied, ...dists].some((out) => under(source, out)), `${file.source}:${copy.instruction.line}: ${source} is not made by the build stage`).toBe(true);
      }
    }
    // Production dependencies come from the deps stage, installed without dev dependencies.
    const deps = stageByName(file, 'deps');
    expect(instructionsOf(deps, 'RUN').map((i) => i.args)).toEqual([expect.stringMatching(new RegExp(`\\bnpm ci --omit=dev --ignore-scripts\\b.* -w @vigil/${image.service}$`))]);
    expect(instructionsOf(stage, 'COPY').map(copyOf).filter((c) => c.from === 'deps').map((c) => c.sources)).toEqual([['/app/node_modules']]);
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('Dockerfile reader', () => {
  const text = [
    '# syntax=docker/dockerfile:1',
    'ARG BASE=debian',
    'ARG TAG',
    'from ${BASE}:${TAG:-12} as first',
    'WORKDIR /src',
    'RUN --mount=type=cache,target=/root/.cache apt-get update \\',
    '  # a comment inside a continuation is dropped',
    '',
    '  && echo "a b"',
    'COPY --chown=1000 a.txt "b c.txt" out/',
    'FROM first AS second',
    'ARG BASE',
    'ENV A=1 B="two words"',
    'ENV C ${B} and ${BASE}',
    'WORKDIR sub',
    'LABEL x.y="${BASE}-${A}"',
    'CMD ["run", "--fast"]',
    'ENTRYPOINT node main.js',
    'HEALTHCHECK --interval=1m30s --retries=2 CMD ["probe"]',
  ].join('\n');
  const file = parseDockerfile(text, 'test/Dockerfile');

  it('reads stages, flags, continuations, both forms, ARG defaults and ENV', () => {
    expect(file.globalArgs).toEqual({ BASE: 'debian', TAG: undefined });
    expect(file.stages.map((s) => [s.name, s.base, s.parent?.name])).toEqual([
      ['first', 'debian:12', undefined],
      ['second', 'first', 'first'],
    ]);
    const [first, second] = file.stages as [Stage, Stage];
    const run = instructionsOf(first, 'RUN')[0]!;
    expect([run.line, run.flags, run.args]).toEqual([6, [{ name: 'mount', value: 'type=cache,target=/root/.cache' }], 'apt-get update && echo "a b"']);
    expect(copyOf(instructionsOf(first, 'COPY')[0]!)).toMatchObject({ sources: ['a.txt', 'b c.txt'], dest: '/src/out/' });
    expect(second.args).toEqual({ BASE: 'debian' });
    expect(envOf(second)).toEqual({ A: '1', B: 'two words', C: 'two words and debian' });
    expect(lastOf(second, 'WORKDIR')?.workdir).toBe('/src/sub');
    expect(labelsOf(second)).toEqual({ 'x.y': 'debian-1' });
    expect(lastOf(second, 'CMD')?.exec).toEqual(['run', '--fast']);
    expect(lastOf(second, 'ENTRYPOINT')?.exec).toBeUndefined();
    expect(healthcheckOf(lastOf(second, 'HEALTHCHECK')!)).toEqual({ options: { interval: '1m30s', retries: '2' }, command: ['probe'] });
    expect(durationMs('1m30s')).toBe(90_000);
  });

  it('names the line of what it cannot read', () => {
    expect(() => parseDockerfile('FROM a\nCOPY \\\n', 'x/Dockerfile')).toThrow('x/Dockerfile:2: the file ends inside a line continuation');
    expect(() => parseDockerfile('RUN true\n', 'x/Dockerfile')).toThrow('x/Dockerfile:1: RUN before the first FROM');
    expect(() => parseDockerfile('FROM a b c d\n', 'x/Dockerfile')).toThrow('x/Dockerfile:1: expected FROM <image> [AS <name>]');
    expect(() => durationMs('10 seconds')).toThrow('not a duration: "10 seconds"');
  });

  it('matches .dockerignore patterns as the engine does', () => {
    const rules = parseDockerignore('# comment\n*\n!src\n**/*.test.ts\n!src/keep.test.ts\n/build/\n');
    expect(isIgnored(rules, 'README.md')).toBe(true);
    expect(isIgnored(rules, 'src/a/b.ts')).toBe(false);
    expect(isIgnored(rules, 'src/a/b.test.ts')).toBe(true);
    expect(isIgnored(rules, 'src/keep.test.ts')).toBe(false);
    expect(isIgnored(rules, 'build/out.js')).toBe(true); // a match on a parent folder counts
    expect(isIgnored(parseDockerignore('**/dist\n'), 'a/b/dist/x.js')).toBe(true);
    expect(isIgnored(parseDockerignore('dist\n'), 'a/dist/x.js')).toBe(false); // without ** only the top folder
  });
});

describe('.dockerignore', () => {
  it('keeps installed, built and local files out of the build context, and lets the sources in', () => {
    for (const path of ['node_modules/pino/package.json', 'services/watchdog/dist/main.js', 'packages/core/dist/index.js', '.vigil-data/demo/watchdog/state.json', '.git/HEAD', 'test/failover.test.ts', 'bench/detection.ts', 'deploy/compose/watchdog.yaml', 'packages/core/src/config.test.ts', 'packages/core/src/test-support/components.ts', 'services/demo/.env', 'README.md']) {
      expect(isIgnored(ignoreRules, path), path).toBe(true);
    }
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'packages/core/package.json', 'packages/core/tsconfig.json', 'packages/core/src/index.ts', 'services/demo/src/sample.ts']) {
      expect(isIgnored(ignoreRules, path), path).toBe(false);
    }
  });
});

// --- the runtime stage, laid out and started ---

describe('image runtime layout', () => {
  const stageRoots = new Map<Stage, Promise<string>>();
  const stageRoot = (file: Dockerfile) => (stage: Stage) => {
    if (!stageRoots.has(stage)) stageRoots.set(stage, layOutStage(file, stage));
    return stageRoots.get(stage)!;
  };
  const layouts = new Map<string, Layout>();

  beforeAll(async () => {
    // Each image installs its own production dependencies: all four at once.
    await Promise.all(IMAGES.map(async (image) => layouts.set(image.service, await layOutRuntime(fileOf(image), stageRoot(fileOf(image))))));
  }, 60_000);
  afterAll(async () => {
    const roots = [...(await Promise.all(stageRoots.values())), ...[...layouts.values()].map((l) => l.root)];
    roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
  });

  it('has no node_modules above the layout that Node could fall back on', () => {
    for (const layout of layouts.values()) {
      for (let dir = dirname(layout.root); ; dir = dirname(dir)) {
        expect(existsSync(join(dir, 'node_modules')), join(dir, 'node_modules')).toBe(false);
        if (dir === dirname(dir)) break;
      }
    }
  });

  /**
   * How each image is started: its final stage, laid-out files, the command line of its
   * ENTRYPOINT + CMD, and a config (the services) or the sample role's env (demo).
   */
  async function launchOf(image: ImageCase): Promise<{ stage: ReturnType<typeof finalStage>; layout: Layout; env: Record<string, string | undefined>; argv: string[] }> {
    const file = fileOf(image);
    const stage = finalStage(file);
    const layout = layouts.get(image.service)!;
    const argv = commandLine([...lastOf(stage, 'ENTRYPOINT')!.exec!, ...lastOf(stage, 'CMD')!.exec!]);
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, ...imageEnv(file, layout.root) };
    const port = await freePort();
    if (image.service === 'demo') return { stage, layout, argv, env: { ...env, VIGIL_SAMPLE_ROLE: 'primary', CONTROL_PORT: String(port), PORT: String(await freePort()) } };
    const dataDir = join(layout.root, 'var/lib/vigil');
    // As in a container: listen on every interface, state in the volume.
    writeFileSync(env.VIGIL_CONFIG!, `server: { host: 0.0.0.0, port: ${port} }\n${image.service === 'health-check' ? '' : `dataDir: ${dataDir}\n`}`);
    return { stage, layout, argv, env };
  }

  describe.each(IMAGES)('vigil/$service', (image) => {
    it('starts from the image\'s files alone, turns healthy within the start period, and stops on SIGTERM with exit 0', async () => {
      const { stage, layout, env, argv } = await launchOf(image);
      const service = startProcess(argv, { cwd: layout.workdir, env });
      try {
        const healthcheck = healthcheckOf(lastOf(stage, 'HEALTHCHECK')!) as Healthcheck;
        const probe = commandLine(healthcheck.command as string[]);
        let last = '';
        const healthy = waitFor(
          'the image HEALTHCHECK to pass',
          async () => {
            const result = await runToEnd(probe, { cwd: layout.workdir, env }, durationMs(healthcheck.options.timeout!));
            last = result.out;
            return result.code === 0;
          },
          durationMs(healthcheck.options['start-period']!),
          200,
        );
        const died = service.exited.then((code) => Promise.reject(new Error(`the service exited with ${code}`)));
        await Promise.race([healthy, died]).catch((err: unknown) => {
          throw new Error(`${String(err)}\nhealthcheck said: ${last}\nservice said:\n${[...service.stdout, ...service.stderr].join('\n')}`);
        });
        service.kill('SIGTERM');
        expect(await service.exited).toBe(0);
        expect(service.stderr).toEqual([]);
        // One JSON log line per event, the last one saying why it stopped.
        const lines = service.stdout.map((l) => JSON.parse(l) as { msg: string; signal?: string });
        expect(lines.some((l) => l.signal === 'SIGTERM')).toBe(true);
      } finally {
        service.kill('SIGKILL');
      }
    });

    it('does not start when any COPY of code or dependencies is left out (so the check above can fail)', async () => {
      const { layout, env, argv } = await launchOf(image);
      const code = layout.copies.filter(({ targets }) => targets.some((t) => /\/(dist|node_modules)$/.test(t)));
      expect(code.length, 'COPYs of code: each workspace\'s dist, the service\'s, node_modules').toBe(image.workspaces.length + 2);
      for (const { copy, targets } of code) {
        targets.forEach((t) => renameSync(t, `${t}.left-out`));
        try {
          const result = await runToEnd(argv, { cwd: layout.workdir, env }, 10_000);
          expect(result.code, `without line ${copy.instruction.line} (${copy.instruction.args}) it still ran:\n${result.out}`).not.toBe(0);
          expect(result.code).not.toBeNull(); // it failed by itself, rather than being killed after running
          expect(result.out).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
        } finally {
          targets.forEach((t) => renameSync(`${t}.left-out`, t));
        }
      }
    });
  });
});

// --- the demo image's sample roles ---

describe('vigil/demo sample roles (services/demo/dist/sample.js)', () => {
  const sample = join(REPO, 'services/demo/dist/sample.js');
  const running: Proc[] = [];
  afterAll(() => running.forEach((p) => p.kill('SIGKILL')));

  async function startRole(env: Record<string, string>): Promise<Proc & { env: Record<string, string | undefined> }> {
    const fullEnv = { PATH: process.env.PATH, ...env };
    const proc = startProcess([process.execPath, sample], { env: fullEnv });
    running.push(proc);
    await waitFor(`the sample ${env.VIGIL_SAMPLE_ROLE} to listen`, () => {
      if (proc.stderr.length > 0) throw new Error(proc.stderr.join('\n'));
      return proc.stdout.some((l) => l.includes('listening'));
    });
    return { ...proc, env: fullEnv };
  }
  const healthcheck = (env: Record<string, string | undefined>) => runToEnd([process.execPath, sample, 'healthcheck'], { env }, 10_000);
  const post = (url: string, body = '', headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  async function stop(proc: Proc): Promise<{ event: string; msg: string }[]> {
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.stderr).toEqual([]);
    return proc.stdout.map((l) => JSON.parse(l) as { event: string; msg: string });
  }

  it('primary: the app follows the mode set on the control port, and the healthcheck asks the control port', async () => {
    const [port, controlPort] = [await freePort(), await freePort()];
    const primary = await startRole({ VIGIL_SAMPLE_ROLE: 'primary', PORT: String(port), CONTROL_PORT: String(controlPort) });
    const app = `http://127.0.0.1:${port}/health`;
    const control = `http://127.0.0.1:${controlPort}/primary`;
    expect((await fetch(app)).status).toBe(200);
    expect((await post(`${control}/erroring`)).status).toBe(200);
    const erroring = await fetch(app);
    expect([erroring.status, await erroring.json()]).toEqual([503, { status: 'fail', serviceId: 'sample-primary' }]);
    expect((await post(`${control}/stopped`)).status).toBe(200);
    await expect(fetch(app)).rejects.toThrow(); // refused: nothing listens
    expect(await (await fetch(control)).json()).toEqual({ primary: 'stopped' });
    // A primary stopped on purpose is still a healthy container.
    expect((await healthcheck(primary.env)).code).toBe(0);
    expect((await post(`${control}/sideways`)).status).toBe(404);
    expect((await post(`${control}/up`)).status).toBe(200);
    expect((await fetch(app)).status).toBe(200);
    const log = await stop(primary);
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['sample primary is now erroring', 'sample primary is now stopped', 'sample primary is now up', 'stopped']));
    expect((await healthcheck(primary.env)).code).toBe(1);
  });

  it('standby: POST /admin/enable makes it the serving side', async () => {
    const port = await freePort();
    const standby = await startRole({ VIGIL_SAMPLE_ROLE: 'standby', PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/`)).json()).toEqual({ side: 'secondary', enabled: false, enableCalls: 0 });
    expect((await healthcheck(standby.env)).code).toBe(0);
    expect((await post(`${base}/admin/enable`, '{"reason":"primary region failed"}')).status).toBe(200);
    expect(await (await fetch(`${base}/`)).json()).toEqual({ side: 'secondary', enabled: true, enableCalls: 1 });
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: 'pass', serviceId: 'sample-standby' });
    const log = await stop(standby);
    expect(log.map((l) => l.msg)).toContain('standby enabled: the secondary region now serves');
  });

  it('sink: records signed alerts and Alertmanager notifications, refuses bad signatures and bad payloads', async () => {
    const port = await freePort();
    const secret = generateSecret();
    const sink = await startRole({ VIGIL_SAMPLE_ROLE: 'sink', PORT: String(port), VIGIL_ALERT_SECRET: secret });
    const base = `http://127.0.0.1:${port}`;
    expect((await healthcheck(sink.env)).code).toBe(0);

    const alert = { id: 'a-1', dedupKey: 'primary', monitor: 'primary', severity: 'critical', status: 'firing', summary: 'primary is down', startsAt: new Date().toISOString(), labels: {}, annotations: {} };
    const body = JSON.stringify(alert);
    const headers = signedHeaders(secret, body);
    expect((await post(`${base}/alerts`, body, headers)).status).toBe(200);
    const forged = await post(`${base}/alerts`, body, signedHeaders(generateSecret(), body));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: 'bad-signature' });

    const notification = amNotification('firing');
    expect((await post(`${base}/alertmanager`, JSON.stringify(notification))).status).toBe(200);
    const wrongVersion = await post(`${base}/alertmanager`, JSON.stringify({ ...notification, version: '3' }));
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.json()).toMatchObject({ message: expect.stringContaining('version "4"') as string });
    expect((await post(`${base}/alertmanager`, 'not json')).status).toBe(400);

    expect(await (await fetch(`${base}/received`)).json()).toEqual({
      alerts: [{ id: headers['webhook-id'], status: 'firing', severity: 'critical', monitor: 'primary', summary: 'primary is down', dedupKey: 'primary' }],
      alertmanager: [notification],
    });
    const log = await stop(sink);
    expect(log.filter((l) => l.msg.startsWith('delivery refused')).length).toBe(3);
  });

  it('sink: receives what a real Alertmanager sends to /alertmanager', async (ctx) => {
    const binary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');
    if (!binary) return ctx.skip();
    const [port, amPort] = [await freePort(), await freePort()];
    const sink = await startRole({ VIGIL_SAMPLE_ROLE: 'sink', PORT: String(port), VIGIL_ALERT_SECRET: generateSecret() });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sample-am-'));
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route: { receiver: sink, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: sink
    webhook_configs: [{ url: "http://127.0.0.1:${port}/alertmanager", send_resolved: true }]
`,
    );
    const am = startProcess([binary, `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn']);
    running.push(am);
    try {
      const alerts = JSON.stringify([{ labels: { alertname: 'VigilMonitorDown', monitor: 'primary' }, annotations: { summary: 'primary is down' } }]);
      await waitFor('Alertmanager to take the alert', async () => (await post(`http://127.0.0.1:${amPort}/api/v2/alerts`, alerts)).ok);
      const received = await waitFor('the sink to receive the notification', async () => {
        const { alertmanager } = (await (await fetch(`http://127.0.0.1:${port}/received`)).json()) as { alertmanager: { version: string; status: string; receiver: string; alerts: { labels: Record<string, string> }[] }[] };
        return alertmanager[0];
      });
      expect(received).toMatchObject({ version: '4', status: 'firing', receiver: 'sink', alerts: [{ labels: { alertname: 'VigilMonitorDown', monitor: 'primary' } }] });
      await stop(sink);
    } finally {
      am.kill('SIGTERM');
      await am.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a bad environment, naming each variable', async () => {
    const run = (env: Record<string, string>) => runToEnd([process.execPath, sample], { env: { PATH: process.env.PATH, ...env } }, 10_000);
    const noRole = await run({});
    expect(noRole.code).toBe(2);
    expect(noRole.out).toContain('VIGIL_SAMPLE_ROLE="": must be one of primary, standby, sink');
    const bad = await run({ VIGIL_SAMPLE_ROLE: 'sink', PORT: 'eighty', VIGIL_ALERT_SECRET: 'hunter2' });
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('PORT="eighty": must be a port number from 1 to 65535');
    expect(bad.out).toContain('VIGIL_ALERT_SECRET: the sink needs the secret alerts are signed with (whsec_<base64>)');
    const unknown = await runToEnd([process.execPath, sample, 'helthcheck'], { env: { PATH: process.env.PATH, VIGIL_SAMPLE_ROLE: 'standby' } }, 10_000);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('unknown command "helthcheck"');
  });
});

/** An Alertmanager webhook notification (version 4), as Alertmanager 0.25 sends it. */
function amNotification(status: 'firing' | 'resolved') {
  const labels = { alertname: 'VigilMonitorDown', monitor: 'primary', severity: 'critical' };
  return {
    version: '4',
    groupKey: '{}:{alertname="VigilMonitorDown"}',
    truncatedAlerts: 0,
    status,
    receiver: 'vigil-sink',
    groupLabels: { alertname: 'VigilMonitorDown' },
    commonLabels: labels,
    commonAnnotations: { summary: 'primary is down' },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels,
        annotations: { summary: 'primary is down' },
        startsAt: '2026-11-22T10:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: 'c1a7b2e3d4f50617',
      },
    ],
  };
}
