import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/** Ports this process handed out: never twice. */
const handedOut = new Set<number>();
const LOWEST = 20_000;

/** The first port of the kernel's ephemeral range (outgoing connections take their local ports there). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on at `host` now, for a server about to be started on it. Chosen at
 * random below the kernel's ephemeral range: a port the kernel picked (port 0) is one an
 * outgoing connection can take in the moment between this call and the server's listen.
 */
export async function freeListenPort(host = '127.0.0.1'): Promise<number> {
  const end = ephemeralStart();
  if (end - LOWEST > 1_000) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = LOWEST + randomInt(end - LOWEST);
      if (handedOut.has(port) || !(await canListen(port, host))) continue;
      handedOut.add(port);
      return port;
    }
  }
  // No room below the ephemeral range: the kernel's choice.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
