/**
 * The probed target, in its own process so that its CPU counts for neither side: a health+json
 * endpoint that answers at once. `GET /hits` reports how many probes it has answered.
 */
import { createServer } from 'node:http';

let hits = 0;
const body = JSON.stringify({ status: 'pass' });
const server = createServer((req, res) => {
  if (req.url === '/hits') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hits }));
    return;
  }
  hits++;
  res.writeHead(200, { 'content-type': 'application/health+json', 'content-length': Buffer.byteLength(body) }).end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
