/**
 * The primary of bench:detection-quality, run inside the primary host's namespace: answers every
 * request with a health+json pass. Its mode is changed by lines on stdin, each acknowledged with
 * `{"mode": ...}` on stdout:
 *   `pass`    answer (the default);
 *   `hang`    accept connections and requests, never answer (a wedged process);
 *   `refuse`  close the listener and every connection (a dead process: connections refused).
 *
 *   node bench/detection-quality/target.ts <host> <port>
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [host = '127.0.0.1', port = '8081'] = process.argv.slice(2);
let mode: 'pass' | 'hang' | 'refuse' = 'pass';
const sockets = new Set<Socket>();
let server: Server | undefined;

function listen(): Promise<void> {
  const created = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    if (mode === 'hang') return;
    res.writeHead(200, { 'content-type': 'application/health+json' }).end('{"status":"pass"}');
  });
  created.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server = created;
  return new Promise((resolve) => created.listen(Number(port), host, resolve));
}

async function setMode(next: string): Promise<void> {
  if (next !== 'pass' && next !== 'hang' && next !== 'refuse') {
    process.stdout.write(`${JSON.stringify({ error: `unknown mode ${JSON.stringify(next)}` })}\n`);
    return;
  }
  if (next === 'refuse' && server) {
    const closing = server;
    server = undefined;
    await new Promise((resolve) => {
      closing.close(resolve);
      for (const socket of sockets) socket.destroy();
    });
  }
  if (next !== 'refuse' && !server) await listen();
  mode = next;
  process.stdout.write(`${JSON.stringify({ mode })}\n`);
}

await listen();
process.stdout.write(`${JSON.stringify({ listening: Number(port) })}\n`);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) await setMode(line.trim());
