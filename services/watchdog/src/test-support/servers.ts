import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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
}

/**
 * Records every POST. Answers with the scripted statuses in order, then `fallback`.
 */
export async function receiver(script: number[] = [], fallback = 202): Promise<LocalServer & { requests: Received[] }> {
  const requests: Received[] = [];
  const queue = [...script];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = queue.shift() ?? fallback;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
    });
  });
  return { ...(await listen(server)), requests };
}

export { closedPort } from '../../../../packages/core/src/test-support/ports.js';
