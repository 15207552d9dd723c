import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Activations } from '../activations.js';
import { TargetList } from '../views.js';
import { ErrorBody } from './errors.js';

/** `GET /v1/targets/:name/data-loss`: the data-loss guard's reading, taken now. */
export const DataLossView = Type.Object({
  target: Type.String(),
  /** False: the target has no `dataLoss` guard (nothing else is reported). */
  configured: Type.Boolean(),
  /** Absent when the lag could not be measured (counted as over the limit). */
  lagMs: Type.Optional(Type.Number()),
  maxMs: Type.Optional(Type.Number()),
  withinLimit: Type.Optional(Type.Boolean()),
  output: Type.Optional(Type.String()),
  checkedAt: Type.String(),
});

/** Reads of the configured targets (no token): their state, gates and plans; the data-loss guard's reading. */
export const targetRoutes: FastifyPluginCallbackTypebox<{ activations: Activations; now: () => number }> = (app, { activations, now }, done) => {
  app.get('/v1/targets', { schema: { response: { 200: TargetList } } }, async () => ({ targets: await activations.targetViews() }));

  app.get(
    '/v1/targets/:name/data-loss',
    { schema: { params: Type.Object({ name: Type.String() }), response: { 200: DataLossView, 404: ErrorBody } } },
    async (request, reply) => {
      const { name } = request.params;
      const reading = await activations.dataLoss(name);
      if (!reading) {
        reply.code(404);
        return { error: 'unknown-target', message: `"${name}" is not a configured target` };
      }
      return { target: name, ...reading, checkedAt: new Date(now()).toISOString() };
    },
  );
  done();
};
