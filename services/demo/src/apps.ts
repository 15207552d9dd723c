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

/** A sample standby: `POST /admin/enable` makes it the serving side. Counts enable calls. */
export async function startStandby(port = 8091, host = '127.0.0.1', onEnable?: (body: string) => void): Promise<RunningServer & { enableCalls(): number; enabled(): boolean }> {
  let calls = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/admin/enable') {
      readBody(req).then(
        (body) => {
          calls += 1;
          onEnable?.(body);
          json(res, 200, { enabled: true, calls });
        },
        () => json(res, 413, { error: 'body too large' }),
      );
      return;
    }
    if (req.url === '/health') {
      json(res, 200, { status: calls > 0 ? 'pass' : 'warn', serviceId: 'sample-standby', output: calls > 0 ? 'serving' : 'standing by' }, HEALTH_CONTENT_TYPE);
      return;
    }
    json(res, 200, { side: 'secondary', enabled: calls > 0 });
  });
  const bound = await listen(server, port, host);
  return {
    port: bound,
    enableCalls: () => calls,
    enabled: () => calls > 0,
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

/** Receives signed alert webhooks, rejects bad signatures, and records each delivery. */
export async function startAlertSink(
  secret: string,
  port = 8099,
  host = '127.0.0.1',
  onAlert?: (alert: ReceivedAlert) => void,
): Promise<RunningServer & { alerts: ReceivedAlert[]; rejected(): number }> {
  const alerts: ReceivedAlert[] = [];
  let rejected = 0;
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return json(res, 405, { error: 'method-not-allowed' });
    readBody(req).then(
      (body) => {
        const check = verify({ secrets: [secret], headers: req.headers, body });
        if (!check.ok) {
          rejected += 1;
          return json(res, 401, { error: check.reason, message: check.message });
        }
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const alert: ReceivedAlert = {
          id: check.id,
          status: String(parsed.status),
          severity: String(parsed.severity),
          monitor: String(parsed.monitor),
          summary: String(parsed.summary),
          dedupKey: String(parsed.dedupKey),
          body: parsed,
        };
        alerts.push(alert);
        onAlert?.(alert);
        json(res, 200, { received: true });
      },
      () => json(res, 413, { error: 'body too large' }),
    );
  });
  const bound = await listen(server, port, host);
  return {
    port: bound,
    alerts,
    rejected: () => rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
