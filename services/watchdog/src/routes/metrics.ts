import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@vigil/core';
import type { Registry } from 'prom-client';

const Query = Type.Object({ name: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])) });

/**
 * `/metrics`, or only the named families with `?name=a&name=b`: a watchdog with thousands of
 * monitors has a large exposition, and a check of one family need not pay for all of it.
 */
export const metricsRoutes: FastifyPluginCallbackTypebox<{ registry: Registry }> = (app, { registry }, done) => {
  app.get('/metrics', { schema: { querystring: Query } }, async (request, reply) => {
    const { name } = request.query;
    if (name === undefined) return reply.type(registry.contentType).send(await registry.metrics());
    const names = (Array.isArray(name) ? name : [name]).filter((n) => registry.getSingleMetric(n) !== undefined);
    const parts = await Promise.all(names.map((n) => registry.getSingleMetricAsString(n)));
    return reply.type(registry.contentType).send(parts.map((p) => `${p}\n`).join(''));
  });
  done();
};
