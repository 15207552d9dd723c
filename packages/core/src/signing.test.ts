import { describe, expect, it } from 'vitest';
import { SeenMessages, generateSecret, isValidSecret, sign, signedHeaders, verify } from './signing.js';

describe('Standard Webhooks signing', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const body = '{"test": 2432232314}';

  it('matches the scheme: base64 HMAC-SHA256 of "id.timestamp.body" keyed by the decoded secret', () => {
    // Reference vector computed independently with openssl:
    // printf 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' | openssl dgst -sha256 -hmac "$(echo MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d)" -binary | base64
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies its own headers and names the matching secret', () => {
    const now = 1_800_000_000_000;
    const headers = signedHeaders(secret, body, 'msg_1', now);
    const result = verify({ secrets: [generateSecret(), secret], headers, body, nowMs: now });
    expect(result).toMatchObject({ ok: true, id: 'msg_1', secretIndex: 1 });
  });

  it('rejects a changed body, a wrong secret, missing headers and a stale timestamp', () => {
    const now = 1_800_000_000_000;
    const headers = signedHeaders(secret, body, 'msg_1', now);
    expect(verify({ secrets: [secret], headers, body: body + ' ', nowMs: now })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verify({ secrets: [generateSecret()], headers, body, nowMs: now })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verify({ secrets: [secret], headers: { ...headers, 'webhook-id': undefined }, body, nowMs: now })).toMatchObject({
      ok: false,
      reason: 'missing-headers',
    });
    expect(verify({ secrets: [secret], headers, body, nowMs: now + 301_000 })).toMatchObject({ ok: false, reason: 'stale-timestamp' });
    expect(verify({ secrets: [secret], headers, body, nowMs: now - 301_000 })).toMatchObject({ ok: false, reason: 'stale-timestamp' });
    expect(verify({ secrets: [secret], headers: { ...headers, 'webhook-timestamp': 'soon' }, body, nowMs: now })).toMatchObject({
      ok: false,
      reason: 'bad-timestamp',
    });
  });

  it('accepts any one of several space-separated signatures', () => {
    const headers = signedHeaders(secret, body, 'msg_2');
    headers['webhook-signature'] = `v1,AAAA ${headers['webhook-signature']}`;
    expect(verify({ secrets: [secret], headers, body }).ok).toBe(true);
  });

  it('generates valid secrets and rejects malformed ones', () => {
    expect(isValidSecret(generateSecret())).toBe(true);
    expect(isValidSecret('whsec_c2hvcnQ=')).toBe(false); // 5 bytes
    expect(isValidSecret('not-a-secret')).toBe(false);
    expect(isValidSecret('whsec_***')).toBe(false);
  });
});

describe('SeenMessages', () => {
  it('tells a new message, a sender retry (new signature) and a replay (same signature) apart', () => {
    const seen = new SeenMessages(1000);
    expect(seen.classify('a', 'sig1', 0)).toBe('new');
    expect(seen.classify('a', 'sig1', 10)).toBe('replay');
    expect(seen.classify('a', 'sig2', 20)).toBe('retry');
    expect(seen.classify('a', 'sig2', 30)).toBe('replay');
    expect(seen.classify('b', 'sig1', 40)).toBe('new');
  });

  it('forgets ids after the retention period', () => {
    const seen = new SeenMessages(1000);
    seen.classify('a', 'sig', 0);
    expect(seen.classify('a', 'sig', 2000)).toBe('new');
  });
});
