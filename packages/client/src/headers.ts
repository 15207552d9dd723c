import type { Dispatcher } from 'undici';

/** The header every routed request carries: the epoch it was sent under. */
export const EPOCH_HEADER = 'vigil-epoch';
/** Set by a fenced server on its refusal: the epoch it knows (the request's was older). */
export const FENCED_HEADER = 'vigil-fenced-epoch';

type Headers = Dispatcher.DispatchOptions['headers'];

/** Flattens whatever `dispatch` was given (object, flat array, array of pairs, iterable) into name/value pairs. */
function* pairs(headers: Headers): Generator<[string, string | string[]]> {
  if (headers === null || headers === undefined) return;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as unknown as [string, string][]) yield [pair[0], pair[1]];
    } else {
      const flat = headers;
      for (let i = 0; i + 1 < flat.length; i += 2) yield [String(flat[i]), flat[i + 1]!];
    }
    return;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, string]>) yield [name, value];
    return;
  }
  for (const [name, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value !== undefined) yield [name, value];
  }
}

/**
 * The request's headers with `Vigil-Epoch` set to `epoch` (one the caller set is replaced: the
 * client, not the application, knows the epoch). Plain objects, what `fetch` and `request` pass,
 * take the fast path.
 */
export function stampEpoch(headers: Headers, value: string): Headers {
  if (headers === null || headers === undefined) return { 'vigil-epoch': value };
  if (!Array.isArray(headers) && typeof (headers as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    const copy: Record<string, string | string[] | undefined> = {};
    for (const name in headers as Record<string, string | string[] | undefined>) {
      if (name.length === EPOCH_HEADER.length && name.toLowerCase() === EPOCH_HEADER) continue;
      copy[name] = (headers as Record<string, string | string[] | undefined>)[name];
    }
    copy[EPOCH_HEADER] = value;
    return copy;
  }
  const flat: string[] = [];
  for (const [name, v] of pairs(headers)) {
    if (name.toLowerCase() === EPOCH_HEADER) continue;
    if (Array.isArray(v)) for (const one of v) flat.push(name, one);
    else flat.push(name, v);
  }
  flat.push(EPOCH_HEADER, value);
  return flat;
}

/** Whether the request carries an `Idempotency-Key` (so repeating it cannot apply it twice). */
export function hasIdempotencyKey(headers: Headers): boolean {
  for (const [name, value] of pairs(headers)) {
    if (name.toLowerCase() === 'idempotency-key' && value.length > 0) return true;
  }
  return false;
}
