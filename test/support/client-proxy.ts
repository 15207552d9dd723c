/**
 * An HTTP proxy between a client and the activation service that passes everything through,
 * records each server-sent event block of the event streams it carries, and can send one of them
 * again on the live streams: a replayed (older) event, as a buggy intermediary would.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { freePort } from '@vigil/demo';

export interface ReplayProxy {
  readonly url: string;
  /** Every `event:` block seen on a stream, in order, as sent (`id:`/`event:`/`data:` lines). */
  readonly events: string[];
  /** Streams open through the proxy now. */
  openStreams(): number;
  /** Writes `block` on every open stream, as if the server had sent it again. */
  replay(block: string): void;
  close(): Promise<void>;
}

export async function startReplayProxy(upstream: string): Promise<ReplayProxy> {
  const events: string[] = [];
  const live = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers.host;
    const up = httpRequest(`${upstream}${req.url ?? '/'}`, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!String(answer.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        answer.pipe(res);
        return;
      }
      live.add(res);
      res.on('close', () => {
        live.delete(res);
        answer.destroy();
      });
      // Forward whole blocks only, so that a replayed block never lands inside another.
      let buffer = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          if (/^event: /m.test(block)) events.push(block);
          res.write(block);
        }
      });
      answer.on('end', () => res.end());
      answer.on('error', () => res.destroy());
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    openStreams: () => live.size,
    replay(block) {
      for (const res of live) res.write(block);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of live) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
