import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';

export const metricsRoutes: FastifyPluginCallbackTypebox<{ registry: Registry }> = (app, { registry }, done) => {
  app.get('/metrics', async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  done();
};
