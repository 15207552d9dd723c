/**
 * The certificate-expiry warning of one monitor: pure, like the decision core, and kept in the
 * monitor's persisted state so that a restart neither repeats the warning nor forgets to resolve it.
 */
import { Type, type Static } from '@vigil/core';

const DAY_MS = 86_400_000;

/** An open warning: the earliest certificate expiry seen when it fired. */
export const CertificateWarning = Type.Object({
  id: Type.String({ minLength: 1 }),
  /** the earliest notAfter of the chain when the warning fired (ISO 8601) */
  expiresAt: Type.String(),
  /** when the warning fired */
  since: Type.String(),
});
export type CertificateWarning = Static<typeof CertificateWarning>;

export type CertificateEvent =
  | { type: 'certificate-expiring'; warning: CertificateWarning; daysLeft: number }
  | { type: 'certificate-renewed'; warning: CertificateWarning; expiresAt: string; resolvedAt: string };

export interface CertificateDecision {
  warning: CertificateWarning | undefined;
  events: CertificateEvent[];
}

/**
 * How a monitor's certificate warning moves on one probe. `earliestExpiry` is the probe's
 * `tlsEarliestCertExpiry` (unix seconds), absent when the probe saw no certificate (plain HTTP,
 * another kind, a failed connection): then nothing changes. The warning fires once when the
 * expiry comes within `windowMs` of `now`, and is resolved once a certificate expiring later
 * than that is seen.
 */
export function certificateNext(
  open: CertificateWarning | undefined,
  earliestExpiry: number | undefined,
  now: number,
  windowMs: number,
  monitor: string,
): CertificateDecision {
  if (earliestExpiry === undefined || !Number.isFinite(earliestExpiry)) return { warning: open, events: [] };
  const expiresMs = earliestExpiry * 1000;
  const expiresAt = new Date(expiresMs).toISOString();
  const within = expiresMs - now <= windowMs;
  if (within) {
    // Still (or again) close to expiry: one warning per window, even if a certificate that also
    // expires soon replaced the first.
    if (open) return { warning: open, events: [] };
    const warning: CertificateWarning = {
      id: `${monitor}-certificate-${expiresAt.replace(/[-:]/g, '')}`,
      expiresAt,
      since: new Date(now).toISOString(),
    };
    const daysLeft = Math.max(0, Math.floor((expiresMs - now) / DAY_MS));
    return { warning, events: [{ type: 'certificate-expiring', warning, daysLeft }] };
  }
  if (!open) return { warning: undefined, events: [] };
  return { warning: undefined, events: [{ type: 'certificate-renewed', warning: open, expiresAt, resolvedAt: new Date(now).toISOString() }] };
}
