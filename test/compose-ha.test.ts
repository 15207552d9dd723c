/**
 * deploy/compose/ha.yml on top of docker-compose.yml, checked offline: Compose accepts the pair,
 * the three etcd members form one cluster, both activation replicas run on it with their own
 * names, and the watchdog sends each vote to both. Bringing this topology up needs an etcd image.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findBinary } from '../packages/core/src/test-support/components.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const compose = findBinary('docker-compose', 'docker-compose');
// Secrets from the caller's environment would hide the file's own defaults.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VIGIL_|GRAFANA_)/.test(k)));

interface Service {
  image?: string;
  environment?: Record<string, string>;
  volumes?: (string | { type: string; source: string; target: string })[];
  networks?: string[] | Record<string, unknown>;
}

describe.skipIf(!compose)('docker-compose.yml with deploy/compose/ha.yml (activation replicas on etcd)', () => {
  const run = (...args: string[]) =>
    spawnSync(compose!, ['-f', join(ROOT, 'docker-compose.yml'), '-f', join(ROOT, 'deploy/compose/ha.yml'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  let parsed: Record<string, Service> | undefined;
  const services = () => {
    if (parsed) return parsed;
    const out = run('config');
    if (out.status !== 0) throw new Error(`docker-compose config failed: ${out.stderr}`);
    return (parsed = (parse(out.stdout) as { services: Record<string, Service> }).services);
  };
  const networksOf = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
  const configOf = (name: string): string => {
    for (const v of services()[name]?.volumes ?? []) {
      const [source = '', target = ''] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
      if (target === '/etc/vigil/config.yaml') return source;
    }
    throw new Error(`${name} mounts nothing at /etc/vigil/config.yaml`);
  };
  const checkConfig = (name: string, service: 'activation' | 'watchdog') => {
    const file = configOf(name);
    const checked = spawnSync(process.execPath, [join(ROOT, `services/${service}/dist/main.js`), 'check-config', '--config', file], {
      env: { ...env, ...services()[name]!.environment },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(checked.stderr, `${name}: ${file}`).toBe('');
    expect(checked.status).toBe(0);
    return parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  };
  /** `host:port` of a URL is a compose service sharing a network with `from`. */
  const expectNeighbour = (from: string, url: string) => {
    const host = new URL(url).hostname;
    expect(Object.keys(services()), `${from} → ${url}`).toContain(host);
    expect(networksOf(services()[from]!).filter((n) => networksOf(services()[host]!).includes(n)), `${from} and ${host} share no network`).not.toEqual([]);
  };

  it('is accepted by docker-compose config -q', () => {
    const out = run('config', '-q');
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
  });

  it('forms one 3-member etcd cluster in the secondary region, each member with its own data volume', () => {
    const members = ['etcd-1', 'etcd-2', 'etcd-3'];
    for (const name of members) {
      const s = services()[name]!;
      expect(s.image, name).toMatch(/etcd:v?\d+\.\d+\.\d+$/);
      expect(networksOf(s), name).toEqual(['secondary']);
      expect(s.environment?.ETCD_NAME).toBe(name);
      const cluster: Record<string, string> = Object.fromEntries((s.environment?.ETCD_INITIAL_CLUSTER ?? '').split(',').map((m) => m.split('=') as [string, string]));
      expect(Object.keys(cluster).sort(), `${name}: initial cluster`).toEqual(members);
      expect(cluster[name], `${name}: advertised peer URL`).toBe(s.environment?.ETCD_INITIAL_ADVERTISE_PEER_URLS);
      expect(s.volumes?.map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source)), name).toContain(name);
    }
  });

  it('runs two activation replicas on that cluster, with their own names; their configs pass check-config', () => {
    const replicas = ['activation', 'activation-b'];
    const names = replicas.map((name) => services()[name]!.environment?.VIGIL_REPLICA);
    expect(new Set(names).size).toBe(2);
    for (const name of replicas) {
      const config = checkConfig(name, 'activation') as { coordination: { kind: string; endpoints: string[] } };
      expect(config.coordination.kind, name).toBe('etcd');
      expect(config.coordination.endpoints.map((e) => new URL(e).hostname).sort()).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
      for (const endpoint of config.coordination.endpoints) expectNeighbour(name, endpoint);
    }
  });

  it('has the watchdog send each vote to both replicas', () => {
    const config = checkConfig('watchdog', 'watchdog') as { activation: { urls: string[] } };
    expect(config.activation.urls.map((u) => new URL(u).hostname).sort()).toEqual(['activation', 'activation-b']);
    for (const url of config.activation.urls) expectNeighbour('watchdog', url);
  });
});
