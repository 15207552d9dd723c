import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ActiveSide } from '@vigil/core';
import type { Activations } from '../activations.js';
import { ErrorBody } from './errors.js';
import { eventStreams, followThenRead, openEventStream } from './sse.js';

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
  const open = eventStreams(app);

  app.get(
    '/v1/active/stream',
    { schema: { querystring: Type.Object({ target: Type.String({ minLength: 1 }) }), response: { 404: ErrorBody } } },
    async (request, reply) => {
      const name = request.query.target;
      if (!activations.isTarget(name)) {
        reply.code(404);
        return { error: 'unknown-target', message: `"${name}" is not a configured target` };
      }
      const { initial, early, unsubscribe, attach } = await followThenRead(
        (listener: (changed: ActiveSide) => void) => activations.subscribe(listener),
        (changed) => changed.target === name,
        async () => (await activations.activeSide(name))!,
      );
      const side = initial;
      const res = openEventStream(reply, open, unsubscribe);
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
      attach(send);
      return undefined;
    },
  );
  done();
};
