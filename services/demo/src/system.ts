/**
 * Starts the whole failover loop: the sample primary, standby and alert sink in this process,
 * and the three Vigil services as real processes from their built output. Used by the demo,
 * the whole-system tests and the benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer } from 'node:http';
import { freeListenPort, generateSecret } from '@vigil/core';
import { SamplePrimary, startAlertSink, startStandby, type ReceivedAlert } from './apps.js';
import { activationConfig, healthCheckConfig, watchdogConfig, type DemoSettings } from './configs.js';
import { startService, type ServiceName, type ServiceProcess } from './processes.js';

/** A loopback port for a server about to start (core's freeListenPort, under the name the tests use). */
export const freePort = freeListenPort;

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((ok) => setTimeout(ok, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as T };
}

/** A TCP server that accepts connections and never answers: a hung region. */
export async function startHangingServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((ok) => server.close(ok));
    },
  };
}

export type Timing = Pick<DemoSettings, 'interval' | 'timeout' | 'failureThreshold' | 'successThreshold'>;

/** Short enough for tests to watch several incidents in seconds. */
export const FAST: Timing = { interval: '500ms', timeout: '300ms', failureThreshold: 3, successThreshold: 2 };

export interface SystemOptions {
  timing?: Timing;
  /** Fixed ports (the demo's); by default every component gets a free ephemeral port. */
  ports?: DemoSettings['ports'];
  /** Where configs and state go; by default a new temporary directory. */
  dataDir?: string;
  onLine?: (service: ServiceName, line: string) => void;
  onAlert?: (alert: ReceivedAlert) => void;
  onEnable?: () => void;
  /** Route the watchdog's activation requests through a recording proxy (default true). */
  recordActivationRequests?: boolean;
  /** Run `replicas` activation replicas on etcd (the first on `ports.activation`) instead of one process on files. */
  etcd?: { endpoints: string[]; prefix: string; replicas: number };
  /** The operator token configured in the watchdog and the activation service (default: a new random one). */
  operatorToken?: string;
  /** The target waits for an operator's approval before its plan runs. */
  approval?: boolean;
  onDisable?: () => void;
}

export interface System {
  settings: DemoSettings;
  secrets: { VIGIL_VOTER_SECRET: string; VIGIL_ALERT_SECRET: string; VIGIL_OPERATOR_TOKEN: string };
  primary: SamplePrimary;
  standby: Awaited<ReturnType<typeof startStandby>>;
  sink: Awaited<ReturnType<typeof startAlertSink>>;
  services: Record<ServiceName, ServiceProcess>;
  /** Activation replicas besides `services.activation` (with `etcd`), and their base URLs. */
  replicas: { service: ServiceProcess; url: string }[];
  /** Every request the watchdog sent to the activation service. */
  activationRequests: RecordedRequest[];
  configPath(name: ServiceName): string;
  url(name: ServiceName, path: string): string;
  /** Stops and starts one service on the same config and data directory. */
  restart(name: ServiceName): Promise<void>;
  /** Stops everything; SIGKILL by default (tests), SIGTERM for a graceful stop (the demo). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const PORT_OF = { 'health-check': 'healthCheck', watchdog: 'watchdog', activation: 'activation' } as const;

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'vigil-system-'));
  const settings: DemoSettings = {
    ...(options.timing ?? FAST),
    dataDir,
    ports: options.ports ?? {
      primary: await freePort(),
      standby: await freePort(),
      sink: await freePort(),
      healthCheck: await freePort(),
      watchdog: await freePort(),
      activation: await freePort(),
    },
    ...(options.etcd && { coordination: { endpoints: options.etcd.endpoints, prefix: options.etcd.prefix } }),
    ...(options.approval && { approval: true }),
  };
  // The watchdog reaches activation through a recording proxy: an independent count of requests.
  const proxy = options.recordActivationRequests === false ? undefined : await startRecordingProxy(0, () => settings.ports.activation);
  if (proxy) settings.activationUrl = `http://127.0.0.1:${proxy.port}`;
  const secrets = {
    VIGIL_VOTER_SECRET: generateSecret(),
    VIGIL_ALERT_SECRET: generateSecret(),
    VIGIL_OPERATOR_TOKEN: options.operatorToken ?? randomBytes(24).toString('base64url'),
  };
  const primary = new SamplePrimary(settings.ports.primary);
  await primary.setMode('up');
  const standby = await startStandby(settings.ports.standby, '127.0.0.1', options.onEnable, options.onDisable);
  const sink = await startAlertSink(secrets.VIGIL_ALERT_SECRET, settings.ports.sink, '127.0.0.1', options.onAlert);

  // Replicas besides the first (etcd): the watchdog sends each vote to every one.
  const replicaPorts: number[] = [];
  for (let index = 1; index < (options.etcd?.replicas ?? 1); index++) replicaPorts.push(await freePort());
  settings.replicaUrls = replicaPorts.map((port) => `http://127.0.0.1:${port}`);
  const configs = { 'health-check': healthCheckConfig(settings), activation: activationConfig(settings), watchdog: watchdogConfig(settings) };
  replicaPorts.forEach((port, i) => writeFileSync(join(dataDir, `activation-${i + 1}.yaml`), activationConfig(settings, { index: i + 1, port })));
  const configPath = (name: ServiceName) => join(dataDir, `${name}.yaml`);
  const url = (name: ServiceName, path: string) => `http://127.0.0.1:${settings.ports[PORT_OF[name]]}${path}`;
  const launch = async (name: ServiceName) => {
    const service = startService(name, configPath(name), { env: secrets, onLine: (line) => options.onLine?.(name, line) });
    await waitFor(`${name} to be ready`, async () => {
      if (service.child.exitCode !== null) throw new Error(`${name} exited: ${service.lines.join('\n')}`);
      return (await fetch(url(name, '/readyz'))).ok;
    });
    return service;
  };
  for (const [name, text] of Object.entries(configs)) writeFileSync(configPath(name as ServiceName), text);
  const services = {} as Record<ServiceName, ServiceProcess>;
  // Activation first, so the watchdog's first activation request finds it listening.
  services.activation = await launch('activation');
  const replicas: System['replicas'] = [];
  for (const [i, port] of replicaPorts.entries()) {
    const index = i + 1;
    const path = join(dataDir, `activation-${index}.yaml`);
    const service = startService('activation', path, { env: secrets, onLine: (line) => options.onLine?.('activation', line) });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`activation replica ${index} to be ready`, async () => {
      if (service.child.exitCode !== null) throw new Error(`activation replica ${index} exited: ${service.lines.join('\n')}`);
      return (await fetch(`${base}/readyz`)).ok;
    });
    replicas.push({ service, url: base });
  }
  for (const name of ['health-check', 'watchdog'] as const) services[name] = await launch(name);

  return {
    settings,
    secrets,
    primary,
    standby,
    sink,
    services,
    replicas,
    activationRequests: proxy?.requests ?? [],
    configPath,
    url,
    async restart(name) {
      await services[name].stop('SIGTERM');
      services[name] = await launch(name);
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      await Promise.all([...Object.values(services), ...replicas.map((r) => r.service)].map((s) => s.stop(signal)));
      await Promise.all([primary.close(), standby.close(), sink.close(), proxy?.close()]);
    },
  };
}

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  webhookId: string | undefined;
  body: string;
  status: number;
}

/** Forwards HTTP requests to a port and records each one: an independent count of what was sent. */
export async function startRecordingProxy(port: number, targetPort: () => number): Promise<{ port: number; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const at = Date.now();
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length' && k !== 'connection')) as Record<string, string>;
      fetch(`http://127.0.0.1:${targetPort()}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body }).then(
        async (upstream) => {
          const text = await upstream.text();
          requests.push({ at, method: req.method ?? '', path: req.url ?? '', webhookId: req.headers['webhook-id'] as string | undefined, body, status: upstream.status });
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
        },
        () => {
          requests.push({ at, method: req.method ?? '', path: req.url ?? '', webhookId: req.headers['webhook-id'] as string | undefined, body, status: 502 });
          res.writeHead(502).end();
        },
      );
    });
  });
  const bound = await new Promise<number>((ok) =>
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      ok(typeof address === 'object' && address ? address.port : port);
    }),
  );
  return { port: bound, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
