import { join } from 'node:path';
import { AppendLog, JsonFile, type Logger } from '@vigil/core';
import type { Counter, Registry } from 'prom-client';
import type { Alert, DeliveryResult, Notifier } from './alert.js';
import { notificationsCounter, sampledGauge, type NotificationLabel } from './metrics.js';
import { attemptOnce, DEFAULT_RETRY_POLICY, retryDelay, type RetryOutcome, type RetryPolicy } from './retry.js';

/** One notification: an alert for one receiver, kept until it is delivered or dead-lettered. */
export interface PendingNotification {
  /** Stable across retries and restarts: `<receiver>/<alert id>`. */
  id: string;
  receiver: string;
  alert: Alert;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  previousDelayMs: number;
  lastError?: string;
}

/** A firing alert a receiver gets again every `intervalMs` until it resolves. */
interface Reminder {
  receiver: string;
  alert: Alert;
  intervalMs: number;
  lastSentAt: number;
  count: number;
}

interface Snapshot {
  version: 1;
  pending: PendingNotification[];
  reminders: Reminder[];
  /** Ids recently delivered or dead-lettered, so a repeated enqueue (a sender retrying after its own restart) is not sent again. */
  done: string[];
}

export interface DeadLetter {
  at: string;
  id: string;
  receiver: string;
  channel?: string;
  reason: 'rejected' | 'exhausted' | 'unknown-receiver';
  attempts: number;
  error?: string;
  alert: Alert;
}

export interface OutboxPolicy {
  /** Attempts per notification, the first included. */
  maxAttempts: number;
  /** A notification still undelivered this long after it was written is dead-lettered. */
  maxAgeMs: number;
  /** Backoff between attempts (the attempt budget is maxAttempts above). */
  backoff: Partial<Omit<RetryPolicy, 'maxAttempts'>>;
}

export const DEFAULT_OUTBOX_POLICY: Readonly<OutboxPolicy> = { maxAttempts: 20, maxAgeMs: 3_600_000, backoff: { initialBackoffMs: 1_000, maxBackoffMs: 300_000 } };

/** Where one alert goes: a receiver (notifier name) and its reminder interval, if any. */
export interface OutboxTarget {
  receiver: string;
  repeatIntervalMs?: number;
}

export interface OutboxOptions {
  dataDir: string;
  notifiers: readonly Notifier[];
  logger: Logger;
  registry?: Registry;
  policy?: Partial<OutboxPolicy>;
  /** How long close() lets attempts in flight finish before cancelling them (they stay pending). */
  closeTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

const FILE = 'alert-outbox.json';
const DEAD_LETTERS = 'alert-dead-letters.jsonl';
const DONE_KEPT = 2_000;
const OUTCOMES: readonly RetryOutcome[] = ['delivered', 'rejected', 'exhausted'];

/**
 * The durable delivery stage: every notification is written to `dataDir` before its first
 * attempt, retried with jittered backoff (honouring Retry-After) within a budget of attempts and
 * age, then delivered or dead-lettered. A restart replays what is pending. Notifications for one
 * receiver and one incident go out in order, so a resolution never overtakes its firing alert.
 * Firing alerts for receivers with a resend or reminder interval are sent again until resolved.
 */
export class AlertOutbox {
  private readonly file: JsonFile<Snapshot>;
  private readonly deadLetters: AppendLog<DeadLetter>;
  private readonly notifiers = new Map<string, Notifier>();
  private readonly policy: OutboxPolicy;
  private readonly backoff: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly counter: Counter<NotificationLabel> | undefined;

  private pending: PendingNotification[] = [];
  private reminders: Reminder[] = [];
  private done: string[] = [];
  private readonly doneSet = new Set<string>();
  /** Written to memory but not yet durable: not attempted until their save completes. */
  private readonly unsaved = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly cancel = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: OutboxOptions) {
    for (const notifier of options.notifiers) {
      if (this.notifiers.has(notifier.name)) throw new Error(`two receivers are named "${notifier.name}"; receiver names must be unique`);
      this.notifiers.set(notifier.name, notifier);
    }
    this.policy = { ...DEFAULT_OUTBOX_POLICY, ...options.policy };
    this.backoff = { ...DEFAULT_RETRY_POLICY, ...DEFAULT_OUTBOX_POLICY.backoff, ...this.policy.backoff, maxAttempts: this.policy.maxAttempts };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.file = new JsonFile(join(options.dataDir, FILE));
    this.deadLetters = new AppendLog(join(options.dataDir, DEAD_LETTERS));
    this.counter = options.registry && notificationsCounter(options.registry);
    for (const n of options.notifiers) {
      // Every series starts at zero so rate() and increase() see the first failure.
      for (const outcome of OUTCOMES) this.counter?.inc({ channel: n.channel, receiver: n.name, outcome }, 0);
    }
    if (options.registry) {
      sampledGauge(options.registry, 'vigil_alert_outbox_depth', 'Notifications written to the alert outbox and not yet delivered or dead-lettered.', () => this.pending.length);
      sampledGauge(options.registry, 'vigil_alert_outbox_oldest_pending_age_seconds', 'Age of the oldest notification pending in the alert outbox; 0 when it is empty.', () =>
        this.pending.length === 0 ? 0 : Math.max(0, this.now() - this.pending.reduce((oldest, p) => Math.min(oldest, p.createdAt), Infinity)) / 1000,
      );
    }
    this.load();
  }

  /** Notifications not yet delivered or dead-lettered. */
  get depth(): number {
    return this.pending.length;
  }

  /** Starts delivering what the outbox holds (replay after a restart included). */
  start(): void {
    this.schedule();
  }

  /**
   * Writes one notification per target and resolves once they are durable; delivery goes on in
   * the background. A notification already pending, delivered or dead-lettered is not added again.
   * A resolved alert also ends the reminders of its incident at every receiver.
   */
  async enqueue(alert: Alert, targets: readonly OutboxTarget[]): Promise<void> {
    if (this.closed) {
      this.logger.error({ alertId: alert.id, monitor: alert.monitor }, 'alert outbox is closed; notification not written');
      return;
    }
    const now = this.now();
    const added: PendingNotification[] = [];
    if (alert.status === 'resolved') this.reminders = this.reminders.filter((r) => r.alert.dedupKey !== alert.dedupKey);
    for (const target of targets) {
      const notifier = this.notifiers.get(target.receiver);
      if (!notifier) {
        this.logger.error({ alertId: alert.id, receiver: target.receiver }, 'alert routed to an unknown receiver; skipped');
        continue;
      }
      const id = `${target.receiver}/${alert.id}`;
      if (this.doneSet.has(id) || this.pending.some((p) => p.id === id)) {
        this.logger.debug({ alertId: alert.id, receiver: target.receiver }, 'notification already in the outbox; not added again');
        continue;
      }
      added.push({ id, receiver: target.receiver, alert, createdAt: now, attempts: 0, nextAttemptAt: now, previousDelayMs: 0 });
      const intervalMs = minDefined(notifier.resendIntervalMs, target.repeatIntervalMs);
      if (alert.status === 'firing' && intervalMs !== undefined) {
        this.reminders = this.reminders.filter((r) => !(r.receiver === target.receiver && r.alert.dedupKey === alert.dedupKey));
        this.reminders.push({ receiver: target.receiver, alert, intervalMs, lastSentAt: now, count: 0 });
      }
    }
    await this.add(added);
  }

  /** Stops attempting; attempts in flight get `closeTimeoutMs`, then are cancelled. Pending notifications stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const settled = Promise.allSettled(this.inFlight.values());
    const timer = new AbortController();
    const finished = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), this.options.closeTimeoutMs ?? 5_000);
        timer.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
      }),
    ]);
    timer.abort();
    if (!finished) {
      this.logger.warn({ attempts: this.inFlight.size }, 'cancelling alert deliveries in flight at shutdown; they stay in the outbox');
      this.cancel.abort();
      await settled;
    }
    await this.persist();
  }

  private load(): void {
    const stored = this.file.load();
    if (stored === undefined) return;
    if (stored.version !== 1 || !Array.isArray(stored.pending) || !Array.isArray(stored.reminders) || !Array.isArray(stored.done)) {
      throw new Error(`state file ${this.file.path} does not hold an alert outbox this version understands; move it aside to start afresh`);
    }
    this.done = stored.done;
    for (const id of this.done) this.doneSet.add(id);
    this.reminders = stored.reminders.filter((r) => this.notifiers.has(r.receiver));
    for (const p of stored.pending) {
      if (this.notifiers.has(p.receiver)) this.pending.push(p);
      else {
        this.logger.error({ alertId: p.alert.id, receiver: p.receiver }, 'pending notification for a receiver no longer configured; dead-lettered');
        this.deadLetter(p, 'unknown-receiver', undefined);
      }
    }
    if (this.pending.length > 0) this.logger.info({ pending: this.pending.length }, 'replaying the alert outbox');
  }

  private async add(added: PendingNotification[]): Promise<void> {
    if (added.length === 0) {
      await this.persist();
      return;
    }
    for (const p of added) {
      this.pending.push(p);
      this.unsaved.add(p.id);
    }
    await this.persist();
    for (const p of added) this.unsaved.delete(p.id);
    this.schedule();
  }

  private async persist(): Promise<void> {
    const snapshot: Snapshot = { version: 1, pending: this.pending, reminders: this.reminders, done: this.done };
    try {
      await this.file.save(snapshot);
    } catch (err) {
      this.logger.error({ err }, 'cannot write the alert outbox; a restart may lose or repeat notifications');
    }
  }

  /** Starts every attempt that is due, queues due reminders, and sets the timer for the next. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const now = this.now();
    let wake = Number.POSITIVE_INFINITY;
    const busy = new Set<string>();
    for (const p of this.pending) {
      const lane = `${p.receiver}\n${p.alert.dedupKey}`;
      // Only the oldest notification of a receiver and incident may be attempted.
      if (busy.has(lane)) continue;
      busy.add(lane);
      if (this.inFlight.has(p.id) || this.unsaved.has(p.id)) continue;
      if (p.nextAttemptAt <= now) this.startAttempt(p);
      else wake = Math.min(wake, p.nextAttemptAt);
    }
    const due: PendingNotification[] = [];
    for (const r of this.reminders) {
      if (busy.has(`${r.receiver}\n${r.alert.dedupKey}`)) continue; // re-checked once the pending one is done
      const at = r.lastSentAt + r.intervalMs;
      if (at > now) {
        wake = Math.min(wake, at);
        continue;
      }
      r.count++;
      r.lastSentAt = now;
      // A new notification (new id, so a receiver's dedup does not drop it) for the same incident.
      const alert = { ...r.alert, id: `${r.alert.id}:resend-${r.count}` };
      due.push({ id: `${r.receiver}/${alert.id}`, receiver: r.receiver, alert, createdAt: now, attempts: 0, nextAttemptAt: now, previousDelayMs: 0 });
    }
    if (due.length > 0) void this.add(due);
    if (Number.isFinite(wake)) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, wake - now));
      // The outbox never keeps a process alive by itself; its owner's server does.
      this.timer.unref();
    }
  }

  private startAttempt(p: PendingNotification): void {
    const notifier = this.notifiers.get(p.receiver)!;
    const attempt = this.attempt(p, notifier).finally(() => {
      this.inFlight.delete(p.id);
      this.schedule();
    });
    this.inFlight.set(p.id, attempt);
  }

  private async attempt(p: PendingNotification, notifier: Notifier): Promise<void> {
    const result = await attemptOnce(notifier, p.alert, this.cancel.signal);
    // Cancelled by close(): not an attempt that counts; the notification is replayed after restart.
    if (this.cancel.signal.aborted && !result.ok) return;
    p.attempts++;
    const now = this.now();
    const fields = { channel: notifier.channel, receiver: notifier.name, notificationId: p.id, alertId: p.alert.id, monitor: p.alert.monitor, alertStatus: p.alert.status, attempts: p.attempts };
    if (result.ok) {
      this.finish(p);
      this.counter?.inc({ channel: notifier.channel, receiver: notifier.name, outcome: 'delivered' });
      this.logger.info({ ...fields, httpStatus: result.status }, 'alert delivered');
    } else if (!result.retryable || p.attempts >= this.policy.maxAttempts || now - p.createdAt >= this.policy.maxAgeMs) {
      const reason = result.retryable ? 'exhausted' : 'rejected';
      this.finish(p);
      this.deadLetter(p, reason, result, notifier.channel);
      if (reason === 'rejected') this.reminders = this.reminders.filter((r) => !(r.receiver === p.receiver && r.alert.dedupKey === p.alert.dedupKey));
      this.counter?.inc({ channel: notifier.channel, receiver: notifier.name, outcome: reason });
      this.logger.error({ ...fields, outcome: reason, httpStatus: result.status, error: result.error }, 'alert not delivered; dead-lettered');
    } else {
      const delayMs = retryDelay(this.backoff, p.attempts, p.previousDelayMs, this.random, result);
      // The last attempt happens at the age limit rather than after it.
      p.nextAttemptAt = Math.min(now + delayMs, p.createdAt + this.policy.maxAgeMs);
      p.previousDelayMs = delayMs;
      p.lastError = result.error;
      this.logger.debug({ ...fields, httpStatus: result.status, error: result.error, retryInMs: p.nextAttemptAt - now }, 'alert delivery attempt failed; retrying');
    }
    await this.persist();
  }

  private finish(p: PendingNotification): void {
    this.pending = this.pending.filter((q) => q !== p);
    this.done.push(p.id);
    this.doneSet.add(p.id);
    while (this.done.length > DONE_KEPT) this.doneSet.delete(this.done.shift()!);
  }

  private deadLetter(p: PendingNotification, reason: DeadLetter['reason'], result: DeliveryResult | undefined, channel?: string): void {
    const record: DeadLetter = {
      at: new Date(this.now()).toISOString(),
      id: p.id,
      receiver: p.receiver,
      ...(channel !== undefined && { channel }),
      reason,
      attempts: p.attempts,
      ...(result && !result.ok && { error: result.error }),
      alert: p.alert,
    };
    this.deadLetters.append(record).catch((err: unknown) => this.logger.error({ err, notificationId: p.id }, 'cannot write the dead-letter log'));
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
