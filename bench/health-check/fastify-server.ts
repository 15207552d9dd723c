/**
 * The stack's ceiling: a bare Fastify route answering a constant health+json body shaped like
 * Vigil's answer with three checks. `node fastify-server.ts PORT`
 */
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const time = new Date().toISOString();
const entry = (componentType: string, observedValue: number, observedUnit: string, output: string) => [
  { componentType, observedValue, observedUnit, status: 'pass', time, output },
];
const BODY = JSON.stringify({
  status: 'pass',
  serviceId: 'primary',
  version: '0.1.0',
  checks: {
    'app:responseTime': entry('component', 1.2, 'ms', 'HTTP 200, health+json status "pass"'),
    'db:responseTime': entry('component', 0.4, 'ms', 'connected to 127.0.0.1:5432'),
    'heap:heapUsed': entry('system', 1.23, '%', 'heap 26 MiB of 2096 MiB (1.2%)'),
  },
});

const app = Fastify({ logger: false });
app.get('/health', (_request, reply) => {
  reply.header('content-type', 'application/health+json').send(BODY);
});
await app.listen({ host: '127.0.0.1', port });
console.log('listening');
