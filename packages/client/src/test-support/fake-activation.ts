import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActiveState } from '../state.js';

/**
 * A stand-in activation service for the client's unit tests: serves `/v1/active` and the event
 * stream for states the test sets, counts what it is asked, and can stop pushing or answering.
 */
export class FakeActivation {
  readonly requests: { path: string; target: string; lastEventId?: string }[] = [];
  private readonly states = new Map<string, ActiveState>();
  private readonly streams = new Set<{ target: string; res: ServerResponse }>();
  private server: Server | undefined;
  /** Streams get no events (a lost push); `/v1/active` still answers. */
  mute = false;
  /** Answers every request with this status instead. */
  failWith: number | undefined;
  url = '';

  constructor(initial: ActiveState[]) {
    for (const s of initial) this.states.set(s.target, s);
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  count(path: string, target?: string): number {
    return this.requests.filter((r) => r.path === path && (target === undefined || r.target === target)).length;
  }

  set(state: ActiveState): void {
    this.states.set(state.target, state);
    if (!this.mute) for (const s of this.streams) if (s.target === state.target) this.push(s.res, state);
  }

  /** Sends `state` on every open stream of its target, whatever the state held (a replay). */
  replay(state: ActiveState): void {
    for (const s of this.streams) if (s.target === state.target) this.push(s.res, state);
  }

  openStreams(): number {
    return this.streams.size;
  }

  /** Drops every open stream (the connection ends). */
  dropStreams(): void {
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
  }

  private push(res: ServerResponse, state: ActiveState): void {
    res.write(`id: ${state.epoch}.${state.revision}\nevent: active\ndata: ${JSON.stringify(state)}\n\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const target = url.searchParams.get('target') ?? '';
    const lastEventId = req.headers['last-event-id'] as string | undefined;
    this.requests.push({ path: url.pathname, target, ...(lastEventId !== undefined && { lastEventId }) });
    if (this.failWith !== undefined) {
      res.writeHead(this.failWith, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'failing', message: 'told to fail' }));
      return;
    }
    const state = this.states.get(target);
    if (!state) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unknown-target', message: `"${target}" is not a configured target` }));
      return;
    }
    if (url.pathname === '/v1/active') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state));
      return;
    }
    if (url.pathname === '/v1/active/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const entry = { target, res };
      this.streams.add(entry);
      res.on('close', () => this.streams.delete(entry));
      if (lastEventId === `${state.epoch}.${state.revision}`) res.write(': resumed\n\n');
      else if (!this.mute) this.push(res, state);
      else res.write(': connected\n\n');
      return;
    }
    res.writeHead(404).end();
  }

  async close(): Promise<void> {
    this.dropStreams();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
