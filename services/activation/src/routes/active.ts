import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ActiveSide } from '@vigil/core';
import type { Activations } from '../activations.js';
import { ErrorBody } from './errors.js';

/**
 * `GET /v1/active?target=NAME`: the side clients should use and the fencing epoch.
 * The secondary is reported only once its plan has succeeded; while a plan runs (or after one
 * was interrupted) the answer is still `primary`, with the new epoch and the activation's id,
 * because a standby that is not fully enabled is the worse place to send traffic.
 */
export const activeRoutes: FastifyPluginCallbackTypebox<{ activations: Activations }> = (app, { activations }, done) => {
  app.get(
    '/v1/active',
    {
      schema: {
        querystring: Type.Object({ target: Type.String({ minLength: 1 }) }),
        response: { 200: ActiveSide, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const side = await activations.activeSide(request.query.target);
      if (side) return side;
      reply.code(404);
      return { error: 'unknown-target', message: `"${request.query.target}" is not a configured target` };
    },
  );
  done();
};
