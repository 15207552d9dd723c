import type { CheckResult } from './check.js';

// Checks report what they found; the runner fills in `durationMs` with the wall time it measured.
type Extra = Omit<Partial<CheckResult>, 'status' | 'output'>;

export const pass = (output?: string, extra: Extra = {}): CheckResult => ({ status: 'pass', durationMs: 0, output, ...extra });
export const warn = (output: string, extra: Extra = {}): CheckResult => ({ status: 'warn', durationMs: 0, output, ...extra });
export const fail = (output: string, extra: Extra = {}): CheckResult => ({ status: 'fail', durationMs: 0, output, ...extra });

/** Says why an operation failed, in one line, e.g. "connect ECONNREFUSED 127.0.0.1:8090". */
export function errorText(err: unknown): string {
  // Connecting to a name with several addresses fails with an AggregateError whose own message is empty.
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(errorText))].join('; ');
  }
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

/** `host:port`, bracketing IPv6 literals. */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Why a signal was aborted, as check output: the reason's message ("timed out after 1000ms"), else "aborted". */
export function abortText(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.message ? reason.message : 'aborted';
}
