import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { HEALTH_CONTENT_TYPE, HealthResponse } from '@vigil/core';

export interface HealthRoutesOptions {
  /** Why the watchdog is not ready (starting, shutting down), or undefined when it is. */
  notReadyBecause: () => string | undefined;
}

/** The orchestrator's probes of the watchdog itself. */
export const healthRoutes: FastifyPluginCallbackTypebox<HealthRoutesOptions> = (app, { notReadyBecause }, done) => {
  const schema = { response: { 200: HealthResponse, 503: HealthResponse } };

  // Alive as long as the process answers: restarting a watchdog whose target is down would not help.
  app.get('/livez', { schema }, async (_request, reply) => {
    return reply.type(HEALTH_CONTENT_TYPE).send({ status: 'pass' });
  });

  app.get('/readyz', { schema }, async (_request, reply) => {
    const reason = notReadyBecause();
    if (reason) return reply.code(503).type(HEALTH_CONTENT_TYPE).send({ status: 'fail', output: reason });
    return reply.type(HEALTH_CONTENT_TYPE).send({ status: 'pass' });
  });
  done();
};
