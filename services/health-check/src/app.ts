import type { FastifyPluginCallbackTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HealthResponse, Type, type HealthStatus, type Logger } from '@vigil/core';
import Fastify, { LogController, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { detailAccess } from './access.js';
import type { HealthCheckConfig } from './config.js';
import { evaluate, type Evaluation } from './health.js';
import { createHealthMetrics } from './metrics.js';
import { openApiDocument, type RouteDoc } from './openapi.js';
import { createHealthSource, writeSnapshot, type Snapshot } from './serving.js';

export interface HealthCheckAppOptions {
  config: HealthCheckConfig;
}

const Probe = Type.Object({ status: Type.String() });

const ROUTE_DOCS: Record<string, RouteDoc> = {
  'GET /health': {
    summary: 'Whether the primary region can serve (health+json)',
    description:
      '200 for pass and warn, 503 for fail, always within the deadline. Callers with the details bearer token get every check with its ' +
      'observed value and output; others get what `details.anonymous` allows. The Age header says how old the result is.',
    produces: 'application/health+json',
    bearer: true,
  },
  'GET /livez': { summary: 'Liveness of the health-check service itself' },
  'GET /readyz': { summary: 'Readiness of the health-check service itself (503 while starting or stopping)' },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    produces: 'text/plain; version=0.0.4',
    responses: { '200': 'Prometheus text format' },
  },
  'GET /openapi.json': { summary: 'This description', responses: { '200': 'OpenAPI 3.1 document' } },
};

/**
 * The health-check service as a Fastify plugin: `/health` (health+json, always within the
 * deadline), `/livez` and `/readyz` for the orchestrator, `/metrics` for Prometheus, and
 * `/openapi.json` describing them.
 */
export const healthCheckApp: FastifyPluginCallbackTypebox<HealthCheckAppOptions> = (app, { config }, done) => {
  const metrics = createHealthMetrics(config.version);
  let lastStatus: HealthStatus | undefined;
  const source = createHealthSource({
    config,
    async evaluate() {
      const evaluation = await evaluate(config);
      metrics.record(evaluation);
      if (evaluation.status !== lastStatus) logChange(app.log, lastStatus, evaluation);
      lastStatus = evaluation.status;
      return evaluation;
    },
    onError: (err) => app.log.error({ err }, 'background evaluation failed'),
  });
  const accessFor = detailAccess(config.details);

  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });

  let state: 'starting' | 'ready' | 'closing' = 'starting';
  app.addHook('onReady', (hookDone) => {
    state = 'ready';
    source.start();
    hookDone();
  });
  app.addHook('preClose', (hookDone) => {
    state = 'closing';
    source.stop();
    hookDone();
  });
  // A response finished while closing ends its keep-alive connection, so that close() need not wait for the client to hang up.
  app.addHook('onSend', (_request, reply, payload, hookDone) => {
    if (state === 'closing') reply.header('connection', 'close');
    hookDone(null, payload);
  });

  // The hot path. /health is polled by every prober: a fresh result is answered synchronously,
  // its body serialised once per evaluation, and written past Fastify's reply pipeline (no
  // per-request serialisation, content-type parsing or hooks), headers and body in one write.
  const send = (request: FastifyRequest, reply: FastifyReply, snapshot: Snapshot): void => {
    reply.hijack();
    writeSnapshot(reply.raw, snapshot, accessFor(request.headers.authorization), state === 'closing');
  };

  app.get('/health', { schema: { response: { 200: HealthResponse, 503: HealthResponse } } }, (request, reply) => {
    const snapshot = source.fresh();
    if (snapshot) return send(request, reply, snapshot);
    return source.next().then((next) => send(request, reply, next));
  });

  // The process answers, so it is alive; whether the primary can serve is /health's question.
  app.get('/livez', { schema: { response: { 200: Probe } } }, (_request, reply) => {
    reply.send({ status: 'pass' });
  });

  app.get('/readyz', { schema: { response: { 200: Probe, 503: Probe } } }, (_request, reply) => {
    if (state === 'ready') reply.send({ status: 'pass' });
    else reply.code(503).send({ status: state });
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  let openApi: string | undefined;
  app.get('/openapi.json', (_request, reply) => {
    openApi ??= JSON.stringify(openApiDocument({ title: 'Vigil health-check', version: config.version }, routes, ROUTE_DOCS));
    reply.type('application/json').send(openApi);
  });

  done();
};

/** Builds the service (not yet listening) from its decoded config. */
export async function buildApp(config: HealthCheckConfig, logger?: Logger) {
  // Every route is polled (watchdogs, orchestrator, Prometheus): per-request lines would drown the
  // log; status changes are logged instead.
  const logController = new LogController({ disableRequestLogging: true });
  // Without request logging a per-request child logger (pino's child() costs a few µs on every
  // /health call) would only add the request id to error lines; routes log through the app's logger.
  const app = Fastify({ loggerInstance: logger, logController, childLoggerFactory: (parent) => parent }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(healthCheckApp, { config });
  return app;
}

function logChange(log: Pick<Logger, 'info' | 'warn'>, previous: HealthStatus | undefined, { status, outcomes, slow }: Evaluation): void {
  const failing = outcomes.filter((o) => o.result.status !== 'pass').map((o) => ({ check: o.check.name, status: o.result.status, output: o.result.output }));
  const message = `health is now ${status}${previous ? ` (was ${previous})` : ''}`;
  if (status === 'pass') log.info({ status, previous }, message);
  else log.warn({ status, previous, checks: failing, ...(slow.length > 0 ? { slow } : {}) }, message);
}
