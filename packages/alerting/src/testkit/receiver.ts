import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a test receiver saw of one request. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The client's port: equal for two requests that reused one connection. */
  remotePort: number;
}

/** How the receiver answers one request. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Never answer: the client's timeout has to end the request. */
  | 'hang'
  /** Drop the connection without an answer. */
  | 'reset';

/**
 * A real HTTP server on 127.0.0.1 that records requests and answers them from a script
 * (200 once the script runs out).
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  private script: Reply[] = [];
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort ?? 0,
      });
      answer(res, this.script.shift() ?? { status: 200 });
    });
  });

  /** Starts listening; resolves with the base URL (no trailing slash). */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Replaces the script and forgets earlier requests. */
  reset(...replies: Reply[]): void {
    this.script = replies;
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function answer(res: ServerResponse, reply: Reply): void {
  if (reply === 'hang') return;
  if (reply === 'reset') {
    res.socket?.destroy();
    return;
  }
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body ?? '');
}

/** A URL on 127.0.0.1 where nothing listens. */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
