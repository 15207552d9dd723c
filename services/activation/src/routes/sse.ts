import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

/** Comment lines keep idle proxies from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000;

/**
 * The open event streams of one route: they never end on their own, so closing the service ends
 * them (else `close()` would wait for every client).
 */
export function eventStreams(app: FastifyInstance): Set<ServerResponse> {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', (doneClosing) => {
    for (const res of open) res.end();
    doneClosing();
  });
  return open;
}

/**
 * Follows changes from before the first read, so none falls between the two: changes seen
 * before `read` resolves are handed to `start` with what it read; later ones go to the sender
 * `start` returns. The subscription ends if the read fails.
 */
export async function followThenRead<Change, Read>(
  subscribe: (listener: (change: Change) => void) => () => void,
  accepts: (change: Change) => boolean,
  read: () => Promise<Read>,
): Promise<{ initial: Read; early: Change[]; unsubscribe: () => void; attach: (send: (change: Change) => void) => void }> {
  const early: Change[] = [];
  let send: ((change: Change) => void) | undefined;
  const unsubscribe = subscribe((change) => {
    if (!accepts(change)) return;
    if (send) send(change);
    else early.push(change);
  });
  try {
    return { initial: await read(), early, unsubscribe, attach: (s) => (send = s) };
  } catch (error) {
    unsubscribe();
    throw error;
  }
}

/** Takes the response over as a server-sent-events stream with a heartbeat; `unsubscribe` runs when it closes. */
export function openEventStream(reply: FastifyReply, open: Set<ServerResponse>, unsubscribe: () => void): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  open.add(res);
  res.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
    open.delete(res);
  });
  return res;
}
