import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';

export interface OpsRoutesOptions {
  registry: Registry;
  isClosing: () => boolean;
}

/** Orchestrator probes and the Prometheus endpoint; quiet in the logs, they are polled constantly. */
export const opsRoutes: FastifyPluginCallbackTypebox<OpsRoutesOptions> = (app, { registry, isClosing }, done) => {
  app.get('/livez', { logLevel: 'warn' }, (_request, reply) => reply.send({ status: 'ok' }));

  // State is loaded before the server listens, so the service is ready until it starts closing.
  app.get('/readyz', { logLevel: 'warn' }, (_request, reply) =>
    isClosing() ? reply.code(503).send({ status: 'closing' }) : reply.send({ status: 'ready' }),
  );

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  done();
};
