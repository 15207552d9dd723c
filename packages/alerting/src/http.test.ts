import { describe, expect, it } from 'vitest';
import { describeTarget, parseRetryAfter, resultForStatus } from './http.js';

const now = Date.parse('2026-11-22T10:00:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Sun, 22 Nov 2026 10:00:30 GMT', 30_000],
    ['Sunday, 22-Nov-26 10:01:00 GMT', 60_000],
    ['Sun Nov 22 10:00:05 2026', 5_000],
    ['Sun, 22 Nov 2026 09:00:00 GMT', 0],
  ])('reads %j as %d ms', (header, ms) => expect(parseRetryAfter(header, now)).toBe(ms));

  it.each([undefined, '', '1.5', '-3', 'soon', 'Sun, 99 Nov 2026 10:00:00 GMT'])('ignores %j', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });

  it('takes the first of repeated headers', () => expect(parseRetryAfter(['3', '9'], now)).toBe(3_000));
});

describe('resultForStatus', () => {
  it('names the status in the error', () => {
    expect(resultForStatus(503, '2', 'https://hooks.example.com', now)).toEqual({
      ok: false,
      retryable: true,
      status: 503,
      retryAfterMs: 2_000,
      error: 'https://hooks.example.com answered HTTP 503 Service Unavailable',
    });
  });

  it('does not follow redirects, and says so', () => {
    expect(resultForStatus(301, undefined, 'https://hooks.example.com', now)).toMatchObject({ retryable: false, error: expect.stringContaining('redirects') as unknown });
  });
});

describe('describeTarget', () => {
  it('keeps only scheme, host and port', () => {
    expect(describeTarget('https://user:pw@hooks.example.com:8443/services/T0/B0/secret?token=abc')).toBe('https://hooks.example.com:8443');
  });
});
