import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import Type from 'typebox';
import type { ActiveSide } from '@vigil/core';
import type { Activations } from '../activations.js';
import { ErrorBody } from './errors.js';

/** Comment lines keep idle proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/** The event id of a state: `<epoch>.<revision>`, so a reconnecting client can say what it holds. */
export function eventId(side: Pick<ActiveSide, 'epoch' | 'revision'>): string {
  return `${side.epoch}.${side.revision ?? 0}`;
}

/** Orders two states of one target: the higher epoch, then within one epoch the higher revision. */
export function compareStates(a: Pick<ActiveSide, 'epoch' | 'revision'>, b: Pick<ActiveSide, 'epoch' | 'revision'>): number {
  return a.epoch - b.epoch || (a.revision ?? 0) - (b.revision ?? 0);
}

function parseEventId(value: string | string[] | undefined): { epoch: number; revision: number } | undefined {
  const match = typeof value === 'string' ? /^(\d{1,15})\.(\d{1,15})$/.exec(value.trim()) : null;
  return match ? { epoch: Number(match[1]), revision: Number(match[2]) } : undefined;
}

/**
 * `GET /v1/active/stream?target=NAME`: server-sent events, one `active` event with the current
 * side at once and one per change (epoch, side, holder), each an `ActiveSide` as JSON with the id
 * `<epoch>.<revision>`. A client reconnecting with `Last-Event-ID` gets the current state only if
 * it is newer than that id (else a `: resumed` comment), then every change; an unreadable id is
 * ignored (the current state is sent).
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
      // Never send a state older than one already sent on this stream (a change seen before the
      // read, or delivered twice, is older than the read unless it moved the state further).
      let last: ActiveSide | undefined = undefined;
      const send = (data: ActiveSide) => {
        if (last && compareStates(data, last) <= 0) return;
        last = data;
        res.write(`id: ${eventId(data)}\nevent: active\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const held = parseEventId(request.headers['last-event-id']);
      if (held && compareStates(side, held) <= 0) {
        last = side;
        res.write(': resumed\n\n');
      } else {
        send(side);
      }
      for (const changed of early) send(changed);
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
