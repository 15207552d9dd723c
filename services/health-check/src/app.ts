import type { FastifyPluginCallbackTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HEALTH_CONTENT_TYPE, HealthResponse, httpStatusFor, Type, type HealthStatus, type Logger } from '@vigil/core';
import Fastify, { LogController } from 'fastify';
import type { HealthCheckConfig } from './config.js';
import { evaluate, singleFlight, type Evaluation } from './health.js';
import { createHealthMetrics } from './metrics.js';

export interface HealthCheckAppOptions {
  config: HealthCheckConfig;
}

const Probe = Type.Object({ status: Type.String() });

/**
 * The health-check service as a Fastify plugin: `/health` (health+json, always within the
 * deadline), `/livez` and `/readyz` for the orchestrator, `/metrics` for Prometheus.
 */
export const healthCheckApp: FastifyPluginCallbackTypebox<HealthCheckAppOptions> = (app, { config }, done) => {
  const metrics = createHealthMetrics(config.version);
  let lastStatus: HealthStatus | undefined;
  const evaluateShared = singleFlight(async () => {
    const evaluation = await evaluate(config);
    metrics.record(evaluation);
    if (evaluation.status !== lastStatus) logChange(app.log, lastStatus, evaluation);
    lastStatus = evaluation.status;
    return evaluation;
  });

  let state: 'starting' | 'ready' | 'closing' = 'starting';
  app.addHook('onReady', (hookDone) => {
    state = 'ready';
    hookDone();
  });
  app.addHook('preClose', (hookDone) => {
    state = 'closing';
    hookDone();
  });
  // A response finished while closing ends its keep-alive connection, so that close() need not wait for the client to hang up.
  app.addHook('onSend', (_request, reply, payload, hookDone) => {
    if (state === 'closing') reply.header('connection', 'close');
    hookDone(null, payload);
  });

  app.get(
    '/health',
    {
      schema: { response: { 200: HealthResponse, 503: HealthResponse } },
      // Fastify appends "; charset=utf-8" to JSON media types, a parameter they do not define (RFC 8259).
      onSend: (_request, reply, payload, hookDone) => {
        reply.header('content-type', HEALTH_CONTENT_TYPE);
        hookDone(null, payload);
      },
    },
    async (_request, reply) => {
      const { response } = await evaluateShared();
      return reply.code(httpStatusFor(response.status)).type(HEALTH_CONTENT_TYPE).header('cache-control', 'no-store').send(response);
    },
  );

  // The process answers, so it is alive; whether the primary can serve is /health's question.
  app.get('/livez', { schema: { response: { 200: Probe } } }, (_request, reply) => {
    reply.send({ status: 'pass' });
  });

  app.get('/readyz', { schema: { response: { 200: Probe, 503: Probe } } }, (_request, reply) => {
    if (state === 'ready') reply.send({ status: 'pass' });
    else reply.code(503).send({ status: state });
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  done();
};

/** Builds the service (not yet listening) from its decoded config. */
export async function buildApp(config: HealthCheckConfig, logger?: Logger) {
  // Every route is polled (watchdogs, orchestrator, Prometheus): per-request lines would drown the
  // log; status changes are logged instead.
  const logController = new LogController({ disableRequestLogging: true });
  const app = Fastify({ loggerInstance: logger, logController }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(healthCheckApp, { config });
  return app;
}

function logChange(log: Pick<Logger, 'info' | 'warn'>, previous: HealthStatus | undefined, { status, outcomes }: Evaluation): void {
  const failing = outcomes.filter((o) => o.result.status !== 'pass').map((o) => ({ check: o.check.name, status: o.result.status, output: o.result.output }));
  const message = `health is now ${status}${previous ? ` (was ${previous})` : ''}`;
  if (status === 'pass') log.info({ status, previous }, message);
  else log.warn({ status, previous, checks: failing }, message);
}
