import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { freeListenPort } from '../../../core/src/ports.js';

export interface LocalServer {
  port: number;
  url: string;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server on 127.0.0.1 at an ephemeral port. */
export function httpServer(handler: RequestListener): Promise<LocalServer> {
  return listen(createHttpServer(handler));
}

/** Accepts connections and never answers (a hung dependency). */
export function silentServer(): Promise<LocalServer> {
  return listen(createTcpServer(() => undefined));
}

/** A port on 127.0.0.1 where nothing listens (core's freeListenPort: below the ephemeral range). */
export const closedPort = freeListenPort;
