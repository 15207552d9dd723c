import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server, port = 0): Promise<LocalServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A health endpoint whose answer the test sets: 200 pass or 503 fail, in health+json. */
export async function healthTarget(): Promise<LocalServer & { setHealthy(healthy: boolean): void; hits(): number }> {
  let healthy = true;
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/health+json' });
    res.end(JSON.stringify({ status: healthy ? 'pass' : 'fail' }));
  });
  return { ...(await listen(server)), setHealthy: (h) => (healthy = h), hits: () => hits };
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the request had been read (performance.now()). */
  at: number;
}

/** A scripted answer: a status, or a status with response headers (such as `retry-after`), sent once `after` resolves. */
export type Answer = number | { status: number; headers?: Record<string, string>; after?: Promise<void> };

/**
 * Records every POST. Answers with the scripted answers in order, then `fallback`. Listens on
 * `port` when given (a replica coming back where a closed port was), else on an ephemeral one.
 */
export async function receiver(script: Answer[] = [], fallback = 202, port = 0): Promise<LocalServer & { requests: Received[] }> {
  const requests: Received[] = [];
  const queue = [...script];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() });
      const answer = queue.shift() ?? fallback;
      const { status, headers, after } = typeof answer === 'number' ? { status: answer } : answer;
      void (after ?? Promise.resolve()).then(() => res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ status })));
    });
  });
  return { ...(await listen(server, port)), requests };
}

export { closedPort } from '../../../../packages/core/src/test-support/ports.js';
