import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * keyed by the base64 part of a `whsec_…` secret.
 */
const PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** True when the text is a well-formed `whsec_<base64>` secret of at least 16 bytes. */
export function isValidSecret(secret: string): boolean {
  if (!secret.startsWith(PREFIX)) return false;
  const b64 = secret.slice(PREFIX.length);
  return /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && Buffer.from(b64, 'base64').length >= 16;
}

function key(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SignedHeaders extends Record<string, string> {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Headers for one delivery attempt; reuse `id` across retries so the receiver can dedupe. */
export function signedHeaders(secret: string, body: string, id: string = `msg_${randomUUID()}`, nowMs = Date.now()): SignedHeaders {
  const timestamp = Math.floor(nowMs / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, body) };
}

export type VerifyFailure = 'missing-headers' | 'bad-timestamp' | 'stale-timestamp' | 'bad-signature';
export type VerifyResult =
  | { ok: true; id: string; timestamp: number; signature: string; secretIndex: number }
  | { ok: false; reason: VerifyFailure; message: string };

export interface VerifyInput {
  /** One secret, or several (rotation, or one per sender): the index of the one that matched is returned. */
  secrets: readonly string[];
  headers: Record<string, string | string[] | undefined>;
  body: string;
  nowMs?: number;
  toleranceSeconds?: number;
}

function header(headers: VerifyInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Verifies a Standard Webhooks signature and timestamp. Replays are the receiver's concern (see SeenMessages). */
export function verify(input: VerifyInput): VerifyResult {
  const id = header(input.headers, 'webhook-id');
  const ts = header(input.headers, 'webhook-timestamp');
  const sigHeader = header(input.headers, 'webhook-signature');
  if (!id || !ts || !sigHeader) {
    return { ok: false, reason: 'missing-headers', message: 'webhook-id, webhook-timestamp and webhook-signature headers are required' };
  }
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad-timestamp', message: 'webhook-timestamp must be whole seconds since the epoch' };
  const timestamp = Number(ts);
  const now = Math.floor((input.nowMs ?? Date.now()) / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance) {
    return { ok: false, reason: 'stale-timestamp', message: `webhook-timestamp is more than ${tolerance}s away from the receiver's clock` };
  }
  const offered = sigHeader
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const [secretIndex, secret] of input.secrets.entries()) {
    const expectedText = sign(secret, id, timestamp, input.body);
    const expected = Buffer.from(expectedText.slice(3), 'base64');
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) {
      return { ok: true, id, timestamp, signature: expectedText, secretIndex };
    }
  }
  return { ok: false, reason: 'bad-signature', message: 'no webhook-signature matches the payload' };
}

/**
 * What a receiver has seen, by message id. A delivery retried by its sender keeps its id but
 * carries a new timestamp and signature; the same id with the same signature is a replay.
 */
export class SeenMessages {
  private readonly seen = new Map<string, { signature: string; expiresAtMs: number }>();
  constructor(private readonly retentionMs = 2 * DEFAULT_TOLERANCE_SECONDS * 1000) {}

  classify(id: string, signature: string, nowMs = Date.now()): 'new' | 'retry' | 'replay' {
    this.expire(nowMs);
    const previous = this.seen.get(id);
    if (previous?.signature === signature) return 'replay';
    this.seen.set(id, { signature, expiresAtMs: nowMs + this.retentionMs });
    return previous ? 'retry' : 'new';
  }

  private expire(nowMs: number): void {
    for (const [id, entry] of this.seen) {
      if (entry.expiresAtMs > nowMs) break; // insertion order ≈ expiry order
      this.seen.delete(id);
    }
  }
}
