import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import Type from 'typebox';
import type { ActiveSide } from '@vigil/core';
import type { Activations } from '../activations.js';
import { ErrorBody } from './errors.js';

/** Comment lines keep idle proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/active/stream?target=NAME`: server-sent events, one `active` event with the current
 * side at once and one per change (epoch, side, holder), each an `ActiveSide` as JSON.
 */
export const streamRoutes: FastifyPluginCallbackTypebox<{ activations: Activations }> = (app, { activations }, done) => {
  const open = new Set<ServerResponse>();
  // Streams never end on their own; closing the service ends them so that close() does not wait.
  app.addHook('preClose', (doneClosing) => {
    for (const res of open) res.end();
    doneClosing();
  });

  app.get(
    '/v1/active/stream',
    { schema: { querystring: Type.Object({ target: Type.String({ minLength: 1 }) }), response: { 404: ErrorBody } } },
    async (request, reply) => {
      const name = request.query.target;
      if (!activations.isTarget(name)) {
        reply.code(404);
        return { error: 'unknown-target', message: `"${name}" is not a configured target` };
      }
      // Changes are followed from before the first read, so none falls between the two.
      const early: ActiveSide[] = [];
      const stream: { send?: (side: ActiveSide) => void } = {};
      const unsubscribe = activations.subscribe((changed) => {
        if (changed.target !== name) return;
        if (stream.send) stream.send(changed);
        else early.push(changed);
      });
      let side: ActiveSide;
      try {
        side = (await activations.activeSide(name))!;
      } catch (error) {
        unsubscribe();
        throw error;
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      let id = 0;
      const send = (data: ActiveSide) => res.write(`id: ${++id}\nevent: active\ndata: ${JSON.stringify(data)}\n\n`);
      send(side);
      // A change seen before the read is older than it unless it raised the epoch further.
      for (const changed of early) if (changed.epoch > side.epoch) send(changed);
      stream.send = send;
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      open.add(res);
      res.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
      });
      return undefined;
    },
  );
  done();
};
