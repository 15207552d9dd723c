import type { Dispatcher } from 'undici';

/** Bodies larger than this are sent once and never repeated (a repeat needs the bytes kept). */
export const MAX_REPLAY_BYTES = 1024 * 1024;

type Chunk = string | Uint8Array;

const size = (chunk: Chunk) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength);

/**
 * A streamed request body (what `fetch` hands the dispatcher: an async generator) made
 * repeatable: each chunk read is kept, so a second attempt sends the kept chunks and then reads on
 * from the source. Past `limit` bytes the copy is dropped and the body can be sent only once.
 */
export class ReplayableBody {
  private readonly kept: Chunk[] = [];
  private keptBytes = 0;
  private overflowed = false;
  private iterator: AsyncIterator<Chunk> | undefined;
  private attempts = 0;

  constructor(
    private readonly source: AsyncIterable<Chunk>,
    private readonly limit = MAX_REPLAY_BYTES,
  ) {}

  /** True while another attempt can send the whole body again. */
  get replayable(): boolean {
    return !this.overflowed;
  }

  /** The body for one attempt; attempts run one after the other, never at once. */
  stream(): AsyncIterable<Chunk> {
    const attempt = ++this.attempts;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (self.overflowed && attempt > 1) throw new Error('request body too large to send again');
        for (let i = 0; i < self.kept.length; i++) yield self.kept[i]!;
        self.iterator ??= self.source[Symbol.asyncIterator]();
        for (;;) {
          if (attempt !== self.attempts) return; // a later attempt took over the source
          const next = await self.iterator.next();
          if (next.done) return;
          const chunk = next.value;
          if (!self.overflowed) {
            self.keptBytes += size(chunk);
            if (self.keptBytes > self.limit) {
              self.overflowed = true;
              self.kept.length = 0;
            } else {
              self.kept.push(chunk);
            }
          }
          yield chunk;
        }
      },
    };
  }
}

/** Whether a body given to `dispatch` can be sent again as it is. */
export function isFixedBody(body: Dispatcher.DispatchOptions['body']): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/** An async iterable that is not a fixed body: what `ReplayableBody` can wrap. */
export function isIterableBody(body: unknown): body is AsyncIterable<Chunk> {
  return typeof body === 'object' && body !== null && typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
}
