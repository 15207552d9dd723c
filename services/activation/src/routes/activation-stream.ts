import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Activation } from '@vigil/core';
import type { Activations } from '../activations.js';
import { ErrorBody } from './errors.js';
import { eventStreams, followThenRead, openEventStream } from './sse.js';

export { HEARTBEAT_MS } from './sse.js';

const STATUS_RANK: Record<Activation['status'], number> = {
  'holding-off': 0,
  'awaiting-approval': 1,
  running: 2,
  succeeded: 3,
  failed: 3,
  interrupted: 3,
  cancelled: 3,
  notified: 3,
};

/**
 * How far an activation has come: every write the service makes to one moves at least one term
 * up and none down (status, steps started, steps ended, probe result, data-loss reading), so of
 * two versions of one activation the higher is the newer; equal means nothing new.
 */
export function progressOf(activation: Activation): number {
  const ended = activation.steps.filter((s) => s.status !== 'running').length;
  const probed = activation.confirmation && activation.confirmation.status !== 'pending' && activation.confirmation.status !== 'none' ? 1 : 0;
  return STATUS_RANK[activation.status] * 1_000_000 + (activation.steps.length + ended) * 4 + probed + (activation.dataLoss ? 2 : 0);
}

/**
 * `GET /v1/activations/stream[?target=NAME]`: server-sent events `activation`, each the full
 * `Activation` as JSON: first the activations not yet final and the newest of each target, then
 * one per change (created, step started or finished, status changes). A version older than
 * one already sent (a change seen both before and by the first read) is never sent.
 */
export const activationStreamRoutes: FastifyPluginCallbackTypebox<{ activations: Activations }> = (app, { activations }, done) => {
  const open = eventStreams(app);

  app.get(
    '/v1/activations/stream',
    { schema: { querystring: Type.Object({ target: Type.Optional(Type.String({ minLength: 1 })) }), response: { 404: ErrorBody } } },
    async (request, reply) => {
      const name = request.query.target;
      if (name !== undefined && !activations.isTarget(name)) {
        reply.code(404);
        return { error: 'unknown-target', message: `"${name}" is not a configured target` };
      }
      const { initial, early, unsubscribe, attach } = await followThenRead(
        (listener: (changed: Activation) => void) => activations.subscribeActivations(listener),
        (changed) => name === undefined || changed.target === name,
        () => activations.current(name),
      );
      const res = openEventStream(reply, open, unsubscribe);
      res.write(': connected\n\n');
      const sent = new Map<string, number>();
      const send = (activation: Activation) => {
        const progress = progressOf(activation);
        if ((sent.get(activation.id) ?? -1) >= progress) return;
        sent.set(activation.id, progress);
        res.write(`event: activation\ndata: ${JSON.stringify(activation)}\n\n`);
      };
      for (const activation of initial) send(activation);
      for (const activation of early) send(activation);
      attach(send);
      return undefined;
    },
  );
  done();
};
