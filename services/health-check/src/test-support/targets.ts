import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A dependency the service checks: an HTTP server on 127.0.0.1 that counts the requests it receives. */
export interface Target {
  url: string;
  requests: number;
  close(): Promise<void>;
}

export async function startTarget(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<Target> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests++;
    respond(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/health`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers after `ms` with a status and an optional health+json body. */
export const after =
  (ms: number, status = 200, health?: string) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    const timer = setTimeout(() => {
      if (health) res.writeHead(status, { 'content-type': 'application/health+json' }).end(JSON.stringify({ status: health }));
      else res.writeHead(status).end();
    }, ms);
    res.once('close', () => clearTimeout(timer));
  };

/** Never answers. */
export const hang = () => undefined;
