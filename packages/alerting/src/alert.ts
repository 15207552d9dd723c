/** An alert as DESIGN.md defines it; each channel maps it to its own format. */
export type Severity = 'info' | 'warning' | 'critical';
export type AlertStatus = 'firing' | 'resolved';

export interface Alert {
  /** Unique per notification (firing and resolved of one incident have different ids). */
  id: string;
  /** Stable per incident: the firing and the resolved notification share it. */
  dedupKey: string;
  monitor: string;
  severity: Severity;
  status: AlertStatus;
  summary: string;
  startsAt: string;
  endsAt?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The outcome of one delivery attempt. */
export type DeliveryResult =
  | { ok: true; status?: number }
  | { ok: false; retryable: boolean; error: string; status?: number; retryAfterMs?: number };

/** One alert channel (webhook, Slack, PagerDuty, Alertmanager). `notify` never throws. */
export interface Notifier {
  readonly channel: string;
  /** The configured name of this receiver, for logs and metrics; never a secret. */
  readonly name: string;
  /**
   * Set by channels whose receiver forgets a firing alert it has not heard about for a while
   * (Alertmanager's resolve_timeout): the outbox re-sends a firing alert this often until it resolves.
   */
  readonly resendIntervalMs?: number;
  notify(alert: Alert, signal: AbortSignal): Promise<DeliveryResult>;
}
