/**
 * A stand-in for the standby's admin endpoint. A path ending in `/hold-once` is left unanswered
 * on its first call (the step stays in flight on the leader) and answered on every later one;
 * every other path is answered at once. Each call's arrival time is kept per path.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Standby {
  url: string;
  /** performance.now() of each call to `path`, in order. */
  callsTo(path: string): number[];
  close(): Promise<void>;
}

export async function startStandby(): Promise<Standby> {
  const calls = new Map<string, number[]>();
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const at = performance.now();
    const path = req.url ?? '';
    req.resume();
    req.on('end', () => {
      const seen = calls.get(path) ?? [];
      seen.push(at);
      calls.set(path, seen);
      if (path.endsWith('/hold-once') && seen.length === 1) {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    callsTo: (path) => calls.get(path) ?? [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
