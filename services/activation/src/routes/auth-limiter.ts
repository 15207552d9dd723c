/** Failed authentications allowed per client address within the window, before 429. */
export const AUTH_FAILURES_ALLOWED = 10;
const AUTH_WINDOW_MS = 60_000;

/** Counts failed authentications per client address in a fixed window. */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();
  constructor(private readonly now: () => number) {}

  /** Seconds until `client` may try again, or 0 when it may now. */
  blockedFor(client: string): number {
    const entry = this.failures.get(client);
    if (!entry || this.now() - entry.windowStart >= AUTH_WINDOW_MS) return 0;
    return entry.count >= AUTH_FAILURES_ALLOWED ? Math.ceil((entry.windowStart + AUTH_WINDOW_MS - this.now()) / 1000) : 0;
  }

  fail(client: string): void {
    const now = this.now();
    for (const [key, entry] of this.failures) if (now - entry.windowStart >= AUTH_WINDOW_MS) this.failures.delete(key);
    const entry = this.failures.get(client) ?? { count: 0, windowStart: now };
    entry.count++;
    this.failures.set(client, entry);
  }
}
