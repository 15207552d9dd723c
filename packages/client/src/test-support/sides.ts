import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  epoch: string | undefined;
  idempotencyKey: string | undefined;
  body: string;
}

/**
 * A side of a target (an application server): answers `{ side, path }`, records what it got, and
 * can be told to hang (accept and never answer), to fail (500), or to refuse connections (closed).
 */
export class SideServer {
  readonly received: Received[] = [];
  mode: 'up' | 'hang' | 'fail' = 'up';
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  origin = '';
  readonly side: string;

  constructor(side: string) {
    this.side = side;
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        epoch: req.headers['vigil-epoch'] as string | undefined,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (this.mode === 'hang') {
        this.hanging.add(res);
        return;
      }
      const status = this.mode === 'fail' ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ side: this.side, path: req.url }));
    });
  }

  /** Stops listening and drops every connection (requests in flight fail with a reset). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await this.stop();
  }
}
