import { describe, expect, it } from 'vitest';
import { certificateNext, type CertificateWarning } from './certificate.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T10:00:00.000Z');
const WINDOW = 14 * DAY;
/** unix seconds, as probes report the earliest certificate expiry */
const inDays = (days: number) => (NOW + days * DAY) / 1000;
const OPEN: CertificateWarning = { id: 'web-certificate-20261125T100000.000Z', expiresAt: '2026-11-25T10:00:00.000Z', since: '2026-11-20T10:00:00.000Z' };

describe('certificateNext', () => {
  it.each([
    ['no certificate seen, none open', undefined, undefined, undefined, []],
    ['no certificate seen keeps an open warning (plain http, failed connection)', OPEN, undefined, OPEN, []],
    ['far from expiry, none open', undefined, inDays(60), undefined, []],
    ['still within the window: no second warning', OPEN, inDays(2), OPEN, []],
    ['another certificate also within the window: still one warning', OPEN, inDays(10), OPEN, []],
  ] as const)('%s', (_name, open, expiry, warning, events) => {
    expect(certificateNext(open, expiry, NOW, WINDOW, 'web')).toEqual({ warning, events });
  });

  it('warns once when the earliest certificate comes within the window', () => {
    const { warning, events } = certificateNext(undefined, inDays(3), NOW, WINDOW, 'web');
    expect(warning).toEqual({ id: 'web-certificate-20261125T100000.000Z', expiresAt: '2026-11-25T10:00:00.000Z', since: '2026-11-22T10:00:00.000Z' });
    expect(events).toEqual([{ type: 'certificate-expiring', warning, daysLeft: 3 }]);
    // exactly at the edge of the window counts as within
    expect(certificateNext(undefined, inDays(14), NOW, WINDOW, 'web').events).toHaveLength(1);
    expect(certificateNext(undefined, inDays(14) + 1, NOW, WINDOW, 'web').events).toHaveLength(0);
  });

  it('counts whole days left, never below zero', () => {
    const daysLeft = (expiry: number) => (certificateNext(undefined, expiry, NOW, WINDOW, 'web').events[0] as { daysLeft: number }).daysLeft;
    expect(daysLeft(inDays(2.9))).toBe(2);
    expect(daysLeft(inDays(0.5))).toBe(0);
    expect(daysLeft(inDays(-1))).toBe(0);
  });

  it('resolves the open warning when a renewed certificate moves the expiry out of the window', () => {
    expect(certificateNext(OPEN, inDays(90), NOW, WINDOW, 'web')).toEqual({
      warning: undefined,
      events: [{ type: 'certificate-renewed', warning: OPEN, expiresAt: '2027-02-20T10:00:00.000Z', resolvedAt: '2026-11-22T10:00:00.000Z' }],
    });
  });

  it('ignores a non-finite expiry', () => {
    expect(certificateNext(OPEN, Number.NaN, NOW, WINDOW, 'web')).toEqual({ warning: OPEN, events: [] });
  });
});
