import { createHash, timingSafeEqual } from 'node:crypto';
import type { DetailLevel, HealthCheckConfig } from './config.js';

/**
 * Decides what details a caller gets from its Authorization header: the configured token gives
 * everything, anything else (no header, another scheme, a wrong token) the anonymous level.
 * A wrong token is not an error: /health must answer the orchestrator and the watchdog anyway.
 */
export function detailAccess(details: HealthCheckConfig['details']): (authorization: string | undefined) => DetailLevel {
  const anonymous = details.anonymous;
  if (details.token === undefined || anonymous === 'full') return () => anonymous;
  // Digests of equal length, so that the comparison takes the same time whatever was sent.
  const expected = digest(details.token);
  return (authorization) => {
    if (authorization === undefined || !/^bearer /i.test(authorization)) return anonymous;
    return timingSafeEqual(digest(authorization.slice(7).trim()), expected) ? 'full' : anonymous;
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();
