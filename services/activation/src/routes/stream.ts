import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import Type from 'typebox';
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
    (request, reply) => {
      const side = activations.activeSide(request.query.target);
      if (!side) {
        reply.code(404);
        return { error: 'unknown-target', message: `"${request.query.target}" is not a configured target` };
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      let id = 0;
      const send = (data: unknown) => res.write(`id: ${++id}\nevent: active\ndata: ${JSON.stringify(data)}\n\n`);
      send(side);
      const unsubscribe = activations.subscribe((changed) => {
        if (changed.target === side.target) send(changed);
      });
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
