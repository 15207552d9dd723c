/**
 * The dependencies the benchmarked services check: an HTTP app answering health+json and a TCP
 * port that accepts connections. Run in a process of their own; prints `{"app":PORT,"tcp":PORT}`.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';

const app = createHttpServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/health+json' }).end('{"status":"pass"}');
});
const tcp = createTcpServer((socket) => socket.end());
await Promise.all([new Promise<void>((ok) => app.listen(0, '127.0.0.1', ok)), new Promise<void>((ok) => tcp.listen(0, '127.0.0.1', ok))]);
console.log(JSON.stringify({ app: (app.address() as AddressInfo).port, tcp: (tcp.address() as AddressInfo).port }));
