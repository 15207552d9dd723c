/**
 * docker-compose.yml, checked offline (no container runtime needed): Compose accepts it, the
 * regions are the networks the design says, every mounted file exists, the mounted configs pass
 * each service's own validation, and every address (config URLs, published ports, Prometheus
 * and Alertmanager targets) names a service that listens there and can be reached from the caller.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isValidSecret, parseDuration } from '@vigil/core';
import { findBinary } from '../packages/core/src/test-support/components.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VIGIL = ['health-check', 'watchdog', 'activation'] as const;
type VigilService = (typeof VIGIL)[number];

/** The contract: which region (network) each service is in. */
const NETWORKS: Record<string, string[]> = {
  'primary-app': ['primary'],
  'health-check': ['interregion', 'primary'],
  watchdog: ['interregion', 'secondary'],
  activation: ['secondary'],
  'standby-app': ['secondary'],
  'alert-sink': ['secondary'],
  prometheus: ['interregion', 'secondary'],
  alertmanager: ['secondary'],
  grafana: ['secondary'],
};
const PUBLISHED = [3000, 8081, 8082, 8083, 8089, 8099, 9090, 9093];
/** The services' own shutdown grace (packages/core runService). */
const SHUTDOWN_GRACE_MS = 10_000;

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  environment?: Record<string, string | null>;
  networks?: Record<string, unknown> | string[];
  ports?: (string | { target: number; published: string | number; host_ip?: string })[];
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: unknown;
  restart?: string;
  stop_grace_period?: string;
}
interface Mount {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

const compose = findBinary('docker-compose', 'docker-compose');
// Secrets from the caller's environment would hide the file's own defaults.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VIGIL_|GRAFANA_)/.test(k)));
const runCompose = (...args: string[]) => spawnSync(compose!, ['-f', join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });

/** Both forms Compose prints: 1.29's "source:target:mode" strings and v2's objects. */
function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { type: v.type === 'bind' ? 'bind' : 'volume', source: v.source, target: v.target, readOnly: v.read_only === true };
    const [source = '', target = '', mode = 'rw'] = v.split(':');
    return { type: source.startsWith('/') || source.startsWith('.') ? 'bind' : 'volume', source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function published(s: Service): { hostIp: string; host: number; container: number }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip ?? '', host: Number(p.published), container: p.target };
    const parts = p.replace(/\/tcp$/, '').split(':');
    const container = Number(parts.pop());
    const host = Number(parts.pop());
    return { hostIp: parts.pop() ?? '', host, container };
  });
}

const networksOf = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {})).sort();
const dependencies = (s: Service): [string, { condition?: string }][] =>
  Array.isArray(s.depends_on) ? s.depends_on.map((name) => [name, {}]) : Object.entries(s.depends_on ?? {});

describe.skipIf(!compose)('docker-compose.yml', () => {
  // Compose's own view of the file (merges and ${VAR:-default} applied), read once.
  let parsed: { services: Record<string, Service>; networks: Record<string, { name?: string }> } | undefined;
  const config = () => {
    if (parsed) return parsed;
    const out = runCompose('config');
    if (out.status !== 0) throw new Error(`docker-compose config failed: ${out.stderr}`);
    return (parsed = parse(out.stdout) as typeof parsed & object);
  };
  const services = () => config().services;
  const service = (name: string) => {
    const s = services()[name];
    if (!s) throw new Error(`docker-compose.yml: no service "${name}"`);
    return s;
  };
  const configFile = (name: VigilService) => {
    const mount = mounts(service(name)).find((m) => m.target === '/etc/vigil/config.yaml');
    if (!mount) throw new Error(`docker-compose.yml: ${name} mounts nothing at /etc/vigil/config.yaml`);
    return mount.source;
  };
  const vigilConfig = (name: VigilService) => parse(readFileSync(configFile(name), 'utf8')) as Record<string, unknown>;

  /** The ports a service listens on inside its container, from its own configuration. */
  const listens = (name: string): number[] => {
    if ((VIGIL as readonly string[]).includes(name)) return [(vigilConfig(name as VigilService).server as { port: number }).port];
    const s = service(name);
    const role = s.environment?.VIGIL_SAMPLE_ROLE;
    if (role === 'primary') return [Number(s.environment?.PORT ?? 8090), Number(s.environment?.CONTROL_PORT ?? 8089)];
    if (role === 'standby') return [Number(s.environment?.PORT ?? 8091)];
    if (role === 'sink') return [Number(s.environment?.PORT ?? 8099)];
    const images: Record<string, number> = { prometheus: 9090, alertmanager: 9093, grafana: 3000 };
    if (images[name] === undefined) throw new Error(`no known listening port for service "${name}"`);
    return [images[name]];
  };

  /** `from` reaches `host:port`: host is a service sharing a network with it (or itself) and listening on port. */
  const expectReachable = (from: string, address: string, where: string) => {
    const url = new URL(address.includes('://') ? address : `http://${address}`);
    const host = url.hostname === 'localhost' ? from : url.hostname;
    const port = Number(url.port || 80);
    const all = services();
    expect(Object.keys(all), `${where}: ${address}: no compose service named "${host}"`).toContain(host);
    if (host !== from) {
      const shared = networksOf(all[from]!).filter((n) => networksOf(all[host]!).includes(n));
      expect(shared, `${where}: ${address}: ${from} and ${host} share no network`).not.toEqual([]);
    }
    expect(listens(host), `${where}: ${address}: ${host} does not listen on ${port}`).toContain(port);
  };

  it('is accepted by docker-compose config -q', () => {
    const out = runCompose('config', '-q');
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
  });

  it('puts each service in its region: the primary app shares no network with the secondary region', () => {
    const all = services();
    expect(Object.keys(all).sort()).toEqual(Object.keys(NETWORKS).sort());
    for (const [name, s] of Object.entries(all)) expect(networksOf(s), name).toEqual(NETWORKS[name]);
    const shared = (a: string, b: string) => networksOf(all[a]!).filter((n) => networksOf(all[b]!).includes(n));
    for (const secondary of ['watchdog', 'activation', 'standby-app', 'alert-sink', 'prometheus', 'alertmanager', 'grafana']) {
      expect(shared('primary-app', secondary), `primary-app and ${secondary}`).toEqual([]);
    }
    expect(shared('health-check', 'watchdog')).toEqual(['interregion']);
    // Fixed names: the README's `docker network disconnect vigil-interregion …` relies on them.
    expect(config().networks).toMatchObject({ primary: { name: 'vigil-primary' }, secondary: { name: 'vigil-secondary' }, interregion: { name: 'vigil-interregion' } });
  });

  it('mounts only files and directories that exist, read-only', () => {
    const binds = Object.entries(services()).flatMap(([name, s]) => mounts(s).filter((m) => m.type === 'bind').map((m) => ({ name, ...m })));
    expect(binds.length).toBeGreaterThanOrEqual(8);
    for (const m of binds) {
      expect(existsSync(m.source), `${m.name}: ${m.source} (mounted at ${m.target}) does not exist`).toBe(true);
      expect(m.readOnly, `${m.name}: ${m.target} should be mounted read-only`).toBe(true);
    }
  });

  it('builds the vigil/* images from their Dockerfile targets; every awaited healthcheck exists', () => {
    const all = services();
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    for (const [name, s] of Object.entries(all)) {
      if (!s.build) {
        expect(s.image, `${name}: an image pinned to a version`).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
        continue;
      }
      expect(s.build.context.replace(/\/$/, ''), `${name}: build context`).toBe(ROOT.replace(/\/$/, ''));
      expect(s.build.dockerfile ?? 'Dockerfile', `${name}: the repository's Dockerfile`).toBe('Dockerfile');
      expect(dockerfile, `${name}: no stage named ${s.build.target}`).toMatch(new RegExp(`^FROM \\S+ AS ${s.build.target}$`, 'm'));
      expect(s.image, `${name}: image name`).toBe(`vigil/${s.build.target}`);
    }
    // `condition: service_healthy` waits forever on a service without a healthcheck.
    for (const [name, s] of Object.entries(all)) {
      for (const [dependency, { condition }] of dependencies(s)) {
        if (condition !== 'service_healthy') continue;
        const target = all[dependency];
        expect(target, `${name} depends on unknown service ${dependency}`).toBeDefined();
        // Every image target has its HEALTHCHECK (test/images.test.ts).
        const healthcheck = target!.healthcheck !== undefined || target!.build?.target !== undefined;
        expect(healthcheck, `${name} waits for ${dependency} to be healthy, which has no healthcheck`).toBe(true);
      }
    }
  });

  it('gives the Vigil services time to close gracefully, and restarts every service', () => {
    for (const [name, s] of Object.entries(services())) {
      expect(s.restart, `${name}: restart policy`).toBe('unless-stopped');
      if (!s.build) continue;
      expect(parseDuration(s.stop_grace_period ?? '10s'), `${name}: stop_grace_period`).toBeGreaterThan(SHUTDOWN_GRACE_MS);
    }
  });

  it('hands the same valid demo secrets to both ends: 24 to 64 random bytes as whsec_<base64>', () => {
    const all = services();
    const voter = all.watchdog!.environment?.VIGIL_VOTER_SECRET;
    const alert = all.watchdog!.environment?.VIGIL_ALERT_SECRET;
    for (const [name, secret] of [['VIGIL_VOTER_SECRET', voter], ['VIGIL_ALERT_SECRET', alert]] as const) {
      expect(isValidSecret(secret ?? ''), `watchdog: ${name} is not a whsec_<base64> secret`).toBe(true);
      const bytes = Buffer.from((secret ?? '').slice('whsec_'.length), 'base64').length;
      expect(bytes, `watchdog: ${name} bytes`).toBeGreaterThanOrEqual(24);
      expect(bytes, `watchdog: ${name} bytes`).toBeLessThanOrEqual(64);
    }
    expect(voter).not.toBe(alert);
    expect(all.activation!.environment?.VIGIL_VOTER_SECRET, 'activation: VIGIL_VOTER_SECRET').toBe(voter);
    expect(all['alert-sink']!.environment?.VIGIL_ALERT_SECRET, 'alert-sink: VIGIL_ALERT_SECRET').toBe(alert);
  });

  for (const name of VIGIL) {
    it(`${name}: the mounted config passes the service's own check-config with the compose environment`, () => {
      const main = join(ROOT, `services/${name}/dist/main.js`);
      expect(existsSync(main), `${main} is missing: build first (npx tsc -b)`).toBe(true);
      const s = service(name);
      const file = configFile(name);
      const checked = spawnSync(process.execPath, [main, 'check-config', '--config', file], {
        env: { ...env, ...(s.environment as Record<string, string>) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(checked.stderr).toBe('');
      expect(checked.stdout).toBe(`vigil-${name}: ${file}: valid\n`);
      expect(checked.status).toBe(0);
      // Reachable from the other containers, not only from inside its own.
      expect(vigilConfig(name).server).toMatchObject({ host: '0.0.0.0' });
    });
  }

  it('keeps the watchdog and activation state on named volumes at their dataDir', () => {
    for (const name of ['watchdog', 'activation'] as const) {
      expect(vigilConfig(name).dataDir, name).toBe('/var/lib/vigil');
      expect(mounts(service(name)), name).toContainEqual(expect.objectContaining({ type: 'volume', target: '/var/lib/vigil', readOnly: false }));
    }
  });

  it('publishes the contract ports on loopback, each where its service listens', () => {
    const all = Object.entries(services()).flatMap(([name, s]) => published(s).map((p) => ({ name, ...p })));
    expect(all.map((p) => p.host).sort((a, b) => a - b)).toEqual(PUBLISHED);
    for (const p of all) {
      expect(p.container, `${p.name}: published ${p.host}`).toBe(p.host);
      expect(p.hostIp, `${p.name}: ${p.host} published beyond loopback`).toBe('127.0.0.1');
      expect(listens(p.name), `${p.name}: publishes ${p.container}, where nothing listens`).toContain(p.container);
    }
  });

  it('points every URL in the Vigil configs at a service that listens there and shares a network with the caller', () => {
    const healthCheck = vigilConfig('health-check') as { checks: { url?: string }[] };
    const watchdog = vigilConfig('watchdog') as {
      activation: { url: string };
      monitors: { url: string }[];
      alerts: { webhooks?: { url: string }[]; receivers?: { url?: string; urls?: string[] }[] };
    };
    const activation = vigilConfig('activation') as { targets: { plan: { url?: string }[] }[] };
    const urls: [string, string][] = [
      ...healthCheck.checks.flatMap((c) => (c.url ? [['health-check', c.url] as [string, string]] : [])),
      ['watchdog', watchdog.activation.url],
      ...watchdog.monitors.map((m): [string, string] => ['watchdog', m.url]),
      ...(watchdog.alerts.webhooks ?? []).map((w): [string, string] => ['watchdog', w.url]),
      ...(watchdog.alerts.receivers ?? []).flatMap((r) => [...(r.urls ?? []), ...(r.url ? [r.url] : [])].map((u): [string, string] => ['watchdog', u])),
      ...activation.targets.flatMap((t) => t.plan.flatMap((step) => (step.url ? [['activation', step.url] as [string, string]] : []))),
    ];
    for (const [from, url] of urls) expectReachable(from, url, `deploy/compose/${from}.yaml`);
    // The loop itself: every hop of it is among them.
    expect(urls.map(([from, u]) => `${from} → ${new URL(u).host}`)).toEqual(
      expect.arrayContaining([
        'health-check → primary-app:8090',
        'watchdog → health-check:8081',
        'watchdog → activation:8083',
        'watchdog → alert-sink:8099',
        'watchdog → alertmanager:9093',
        'activation → standby-app:8091',
      ]),
    );
  });

  it('the health-check answers within the watchdog probe timeout', () => {
    const deadline = parseDuration((vigilConfig('health-check') as { deadline: string }).deadline)!;
    const monitor = (vigilConfig('watchdog') as { monitors: { name: string; timeout: string }[] }).monitors.find((m) => m.name === 'primary')!;
    expect(deadline).toBeLessThan(parseDuration(monitor.timeout)!);
  });

  it('Prometheus scrapes the Vigil services and alerts through Alertmanager at addresses that exist', (ctx) => {
    const file = join(ROOT, 'deploy/prometheus/prometheus.yml');
    if (!existsSync(file)) {
      console.warn(`skipped: ${file} does not exist yet`);
      return ctx.skip();
    }
    type StaticConfigs = { static_configs?: { targets: string[] }[] };
    const prometheus = parse(readFileSync(file, 'utf8')) as { scrape_configs: (StaticConfigs & { job_name: string })[]; alerting?: { alertmanagers: StaticConfigs[] } };
    const targets = (c: StaticConfigs) => (c.static_configs ?? []).flatMap((s) => s.targets);
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((job) => [job.job_name, targets(job)]));
    expect(jobs).toMatchObject({ 'vigil-health-check': ['health-check:8081'], 'vigil-watchdog': ['watchdog:8082'], 'vigil-activation': ['activation:8083'] });
    for (const [job, list] of Object.entries(jobs)) for (const target of list) expectReachable('prometheus', target, `prometheus.yml job ${job}`);
    const alertmanagers = (prometheus.alerting?.alertmanagers ?? []).flatMap(targets);
    expect(alertmanagers).toEqual(['alertmanager:9093']);
    for (const target of alertmanagers) expectReachable('prometheus', target, 'prometheus.yml alerting');
  });

  it("Alertmanager's webhooks reach the alert sink", (ctx) => {
    const file = join(ROOT, 'deploy/alertmanager/alertmanager.yml');
    if (!existsSync(file)) {
      console.warn(`skipped: ${file} does not exist yet`);
      return ctx.skip();
    }
    const alertmanager = parse(readFileSync(file, 'utf8')) as { receivers: { webhook_configs?: { url: string }[] }[] };
    const urls = alertmanager.receivers.flatMap((r) => (r.webhook_configs ?? []).map((w) => w.url));
    expect(urls).toContain('http://alert-sink:8099/alertmanager');
    for (const url of urls) expectReachable('alertmanager', url, 'alertmanager.yml');
  });
});
