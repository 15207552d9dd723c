/** A server-sent event as the activation service sends them. */
export interface ServerEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Splits a text/event-stream into events (the WHATWG rules the activation service's streams
 * need: `event`, `data` over several lines, `id`, comments ignored, CRLF or LF).
 */
export class EventParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: string): ServerEvent[] {
    this.buffer += chunk;
    const out: ServerEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined && { id: this.id }) });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

export interface FollowOptions {
  servers: readonly string[];
  path: string;
  signal: AbortSignal;
  onEvent: (event: ServerEvent, server: string) => void;
  /** Told when a connection opens or is lost (for stderr), with the server. */
  onStatus?: (text: string) => void;
  /** Wait before reconnecting (to the next server). */
  retryMs?: number;
  /** How long a connection may take to open. */
  connectTimeoutMs?: number;
}

/**
 * Follows one event stream until `signal` aborts: reconnects when it drops, to the next server
 * in turn, with `Last-Event-ID` so that nothing already seen is sent again. Resolves when the
 * signal aborts; a 4xx (e.g. an unknown target, or a server without this stream) rejects.
 */
export async function follow(options: FollowOptions): Promise<void> {
  const { servers, path, signal } = options;
  let lastId: string | undefined;
  let turn = 0;
  while (!signal.aborted) {
    const server = servers[turn % servers.length]!;
    turn++;
    try {
      const connect = AbortSignal.timeout(options.connectTimeoutMs ?? 5_000);
      const res = await fetch(`${server.replace(/\/+$/, '')}${path}`, {
        headers: { accept: 'text/event-stream', ...(lastId !== undefined && { 'last-event-id': lastId }) },
        signal: AbortSignal.any([signal, connect]),
      });
      if (res.status >= 400 && res.status < 500) {
        const text = await res.text();
        throw new StreamRefused(`${server}${path}: ${res.status} ${text.slice(0, 200)}`, res.status);
      }
      if (!res.ok || !res.body) throw new Error(`answered ${res.status}`);
      options.onStatus?.(`following ${server}${path}`);
      const parser = new EventParser();
      const decoder = new TextDecoder();
      // The connect timeout covered the headers only: the stream itself stays open.
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const stop = () => void reader.cancel().catch(() => undefined);
      signal.addEventListener('abort', stop, { once: true });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            if (event.id !== undefined) lastId = event.id;
            options.onEvent(event, server);
          }
        }
      } finally {
        signal.removeEventListener('abort', stop);
      }
      if (!signal.aborted) options.onStatus?.(`${server}${path}: the stream ended; reconnecting`);
    } catch (err) {
      if (err instanceof StreamRefused) throw err;
      if (signal.aborted) break;
      options.onStatus?.(`${server}${path}: ${err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err)}; reconnecting`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.retryMs ?? 1_000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

export class StreamRefused extends Error {
  override readonly name = 'StreamRefused';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
