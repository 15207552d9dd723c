/**
 * Sample stand-ins for what surrounds Vigil in production: a primary app, a standby whose
 * "enable" endpoint the activation plan calls, and a receiver for signed alert webhooks.
 * Used by the demo and by the whole-system tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HEALTH_CONTENT_TYPE, verify } from '@vigil/core';

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** How the sample primary misbehaves: `stopped` refuses connections, `hanging` accepts and never answers. */
export type PrimaryMode = 'up' | 'erroring' | 'hanging' | 'stopped';

/** A sample primary application whose failure mode can be switched at run time. */
export class SamplePrimary {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private currentMode: PrimaryMode = 'stopped';
  port: number;

  constructor(
    port = 8090,
    private readonly host = '127.0.0.1',
  ) {
    this.port = port;
  }

  get mode(): PrimaryMode {
    return this.currentMode;
  }

  async setMode(mode: PrimaryMode): Promise<void> {
    if (mode === 'stopped') {
      await this.stop();
      return;
    }
    if (this.currentMode === 'hanging' && mode !== 'hanging') this.dropConnections();
    if (!this.server) await this.start();
    this.currentMode = mode;
  }

  private async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (this.currentMode === 'hanging') return; // accept, read, never answer
      if (req.url === '/health') {
        const status = this.currentMode === 'up' ? 'pass' : 'fail';
        json(res, status === 'pass' ? 200 : 503, { status, serviceId: 'sample-primary' }, HEALTH_CONTENT_TYPE);
        return;
      }
      json(res, this.currentMode === 'up' ? 200 : 500, { side: 'primary', mode: this.currentMode });
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.port = await listen(server, this.port, this.host);
    this.server = server;
  }

  private dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.currentMode = 'stopped';
    if (!server) return;
    this.dropConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.stop();
  }
}

/** A sample standby: `POST /admin/enable` makes it the serving side, `POST /admin/disable` (a failback) stands it by again. Counts enable calls (`GET /` tells them). */
export async function startStandby(
  port = 8091,
  host = '127.0.0.1',
  onEnable?: (body: string) => void,
  onDisable?: () => void,
): Promise<RunningServer & { enableCalls(): number; enabled(): boolean }> {
  let calls = 0;
  let enabled = false;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/admin/enable') {
      readBody(req).then(
        (body) => {
          calls += 1;
          enabled = true;
          onEnable?.(body);
          json(res, 200, { enabled: true, calls });
        },
        () => json(res, 413, { error: 'body too large' }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/admin/disable') {
      // A failback's plan: the standby stands by again (a later failover enables it anew).
      req.resume();
      enabled = false;
      onDisable?.();
      json(res, 200, { enabled: false });
      return;
    }
    if (req.url === '/health') {
      json(res, 200, { status: enabled ? 'pass' : 'warn', serviceId: 'sample-standby', output: enabled ? 'serving' : 'standing by' }, HEALTH_CONTENT_TYPE);
      return;
    }
    json(res, 200, { side: 'secondary', enabled, enableCalls: calls });
  });
  const bound = await listen(server, port, host);
  return {
    port: bound,
    enableCalls: () => calls,
    enabled: () => enabled,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedAlert {
  id: string;
  status: string;
  severity: string;
  monitor: string;
  summary: string;
  dedupKey: string;
  body: Record<string, unknown>;
}

/** An Alertmanager webhook notification (Alertmanager's webhook format, version 4), kept as sent. */
export interface AlertmanagerNotification extends Record<string, unknown> {
  version: '4';
  status: string;
  alerts: unknown[];
}

export interface AlertSinkEvents {
  onAlertmanager?: (notification: AlertmanagerNotification) => void;
  /** A delivery refused: a bad signature (401) or a body that is not what the path expects (400). */
  onRejected?: (path: string, status: number, reason: string) => void;
}

export interface AlertSink extends RunningServer {
  /** Signed Vigil alerts, in the order they arrived (the latest 1,000). */
  alerts: ReceivedAlert[];
  /** Alertmanager notifications (`POST /alertmanager`), in the order they arrived (the latest 1,000). */
  alertmanager: AlertmanagerNotification[];
  rejected(): number;
}

/** What `GET /received` answers: every delivery so far, alerts without their raw body. */
export function receivedSummary(sink: Pick<AlertSink, 'alerts' | 'alertmanager'>): { alerts: Omit<ReceivedAlert, 'body'>[]; alertmanager: AlertmanagerNotification[] } {
  return { alerts: sink.alerts.map(({ body: _body, ...alert }) => alert), alertmanager: sink.alertmanager };
}

/** The sink runs for days in the Compose demo (a heartbeat arrives every minute): keep the latest only. */
const KEEP_RECEIVED = 1_000;

function remember<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP_RECEIVED) list.splice(0, list.length - KEEP_RECEIVED);
}

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Receives alerts and records each delivery: signed Vigil webhooks on any POST path (`/alerts`
 * in the configs; a bad signature is refused with 401), unsigned Alertmanager notifications on
 * `POST /alertmanager`, and `GET /received` lists what arrived.
 */
export async function startAlertSink(
  secret: string,
  port = 8099,
  host = '127.0.0.1',
  onAlert?: (alert: ReceivedAlert) => void,
  events: AlertSinkEvents = {},
): Promise<AlertSink> {
  const alerts: ReceivedAlert[] = [];
  const alertmanager: AlertmanagerNotification[] = [];
  let rejected = 0;
  const refuse = (res: ServerResponse, path: string, status: number, error: string, message: string) => {
    rejected += 1;
    events.onRejected?.(path, status, message);
    json(res, status, { error, message });
  };

  const receiveSigned = (req: IncomingMessage, res: ServerResponse, path: string, body: string) => {
    const check = verify({ secrets: [secret], headers: req.headers, body });
    if (!check.ok) return refuse(res, path, 401, check.reason, check.message);
    const parsed = parseObject(body);
    if (!parsed) return refuse(res, path, 400, 'bad-body', `${path}: the body is not a JSON object`);
    const alert: ReceivedAlert = {
      id: check.id,
      status: String(parsed.status),
      severity: String(parsed.severity),
      monitor: String(parsed.monitor),
      summary: String(parsed.summary),
      dedupKey: String(parsed.dedupKey),
      body: parsed,
    };
    remember(alerts, alert);
    onAlert?.(alert);
    json(res, 200, { received: true });
  };

  const receiveAlertmanager = (res: ServerResponse, path: string, body: string) => {
    const parsed = parseObject(body);
    if (!parsed) return refuse(res, path, 400, 'bad-body', `${path}: the body is not a JSON object`);
    if (parsed.version !== '4' || !Array.isArray(parsed.alerts) || typeof parsed.status !== 'string') {
      return refuse(res, path, 400, 'bad-body', `${path}: expected an Alertmanager webhook notification (version "4", status, alerts[]), got version ${JSON.stringify(parsed.version)}`);
    }
    const notification = parsed as AlertmanagerNotification;
    remember(alertmanager, notification);
    events.onAlertmanager?.(notification);
    json(res, 200, { received: true });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/received') return json(res, 200, receivedSummary({ alerts, alertmanager }));
    if (req.method !== 'POST') return json(res, 405, { error: 'method-not-allowed' });
    readBody(req).then(
      (body) => (path === '/alertmanager' ? receiveAlertmanager(res, path, body) : receiveSigned(req, res, path, body)),
      () => json(res, 413, { error: 'body too large' }),
    );
  });
  const bound = await listen(server, port, host);
  return {
    port: bound,
    alerts,
    alertmanager,
    rejected: () => rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const PRIMARY_MODES: readonly PrimaryMode[] = ['up', 'erroring', 'hanging', 'stopped'];

/**
 * The sample primary's control port: `POST /primary/{up|erroring|hanging|stopped}` switches its
 * failure mode, `GET /primary` tells the current one (and answers even while the app is down).
 */
export async function startPrimaryControl(primary: SamplePrimary, port = 8089, host = '127.0.0.1', onMode?: (mode: PrimaryMode) => void): Promise<RunningServer> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/primary') return json(res, 200, { primary: primary.mode });
    const mode = req.url?.replace(/^\/primary\//, '') as PrimaryMode | undefined;
    if (req.method !== 'POST' || !mode || !PRIMARY_MODES.includes(mode)) {
      return json(res, 404, { error: `use POST /primary/{${PRIMARY_MODES.join('|')}} or GET /primary` });
    }
    primary.setMode(mode).then(
      () => {
        onMode?.(mode);
        json(res, 200, { primary: mode });
      },
      (err: unknown) => json(res, 500, { error: String(err) }),
    );
  });
  const bound = await listen(server, port, host);
  return { port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
