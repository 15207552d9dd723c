/**
 * @godaddy/terminus on Express with the same three checks as the Vigil configuration: the app's
 * health endpoint over HTTP (keep-alive), a TCP connect to the database port, and heap use.
 * Terminus runs its health checks on every request. `node terminus-server.ts PORT APP_PORT TCP_PORT`
 */
import { createServer } from 'node:http';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { createTerminus, HealthCheckError } from '@godaddy/terminus';
import express from 'express';

const [port, appPort, tcpPort] = process.argv.slice(2).map(Number) as [number, number, number];
const agent = new Agent({ keepAlive: true });

function appCheck(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: appPort, path: '/health', agent, timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const healthy = res.statusCode === 200 && (JSON.parse(body) as { status?: string }).status !== 'fail';
        if (healthy) resolve();
        else reject(new Error(`HTTP ${res.statusCode}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function tcpCheck(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: tcpPort });
    socket.setTimeout(500, () => socket.destroy(new Error('timed out')));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

function heapCheck(): Promise<void> {
  const heap = getHeapStatistics();
  return heap.used_heap_size / heap.heap_size_limit < 0.9 ? Promise.resolve() : Promise.reject(new Error('heap'));
}

const app = express();
const server = createServer(app);
createTerminus(server, {
  healthChecks: {
    '/health': async () => {
      const results = await Promise.allSettled([appCheck(), tcpCheck(), heapCheck()]);
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length > 0) throw new HealthCheckError('unhealthy', failed.map((r) => String(r.reason)));
      return { app: 'pass', db: 'pass', heap: 'pass' };
    },
  },
  logger: () => undefined,
});
await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
console.log('listening');
