import type { Etcd3 } from 'etcd3';
import { pause } from './etcd.js';
import { NotLeaderError, type NotLeaderReason } from './errors.js';

/** Lease settings. Renewal runs every TTL/3, like etcd's own clients. */
export interface LeaseTiming {
  /** TTL asked of etcd, in whole seconds (etcd's unit). */
  ttlSeconds: number;
  /**
   * How long before `last successful keepalive sent + TTL` the holder stops trusting its lease:
   * room for clock-rate drift and for an action started just before the deadline to land.
   */
  marginMs: number;
  /** Deadline of one keepalive attempt; default min(TTL/6, 1 s), so several fit in one TTL. */
  keepaliveTimeoutMs?: number;
}

export function validateTiming(timing: LeaseTiming): void {
  const ttlMs = timing.ttlSeconds * 1_000;
  if (!Number.isInteger(timing.ttlSeconds) || timing.ttlSeconds < 1) throw new RangeError(`ttlSeconds must be a whole number ≥ 1, got ${timing.ttlSeconds}`);
  // The holder must still trust its lease for a while after the first renewal is due (TTL/3),
  // or a single slow keepalive would end every leadership.
  if (!(timing.marginMs >= 0 && timing.marginMs <= ttlMs / 2)) throw new RangeError(`marginMs must be between 0 and TTL/2 (${ttlMs / 2}), got ${timing.marginMs}`);
  const timeout = timing.keepaliveTimeoutMs;
  if (timeout !== undefined && !(timeout > 0 && timeout <= ttlMs / 3)) throw new RangeError(`keepaliveTimeoutMs must be between 0 and TTL/3, got ${timeout}`);
}

/**
 * An etcd lease held by this process. Its holder trusts it only until
 * `last successful keepalive sent + TTL − margin` by its own monotonic clock: etcd counts the
 * TTL from when it *received* that keepalive, which is later, so the lease cannot have expired
 * on the server (and nobody else can have been elected) before the holder stops trusting it.
 * Once ended, a session never becomes valid again.
 */
export interface Session {
  readonly leaseId: string;
  /** The TTL etcd granted (etcd may raise a small TTL to its minimum). */
  readonly grantedTtlSeconds: number;
  /** performance.now() time after which the holder must not act on this lease. */
  validUntil(): number;
  isValid(): boolean;
  /** Aborts, with a NotLeaderError as reason, when the session ends for any reason. */
  readonly signal: AbortSignal;
  /**
   * Stops trusting the lease and stops renewing it, then revokes it (unless etcd lost it) so the
   * leader key goes at once. Resolves when the revocation is answered or failed; never rejects.
   */
  end(reason: NotLeaderReason, detail: string): Promise<void>;
}

/** Grants a lease and keeps it alive until the session ends. */
export async function openSession(etcd: Etcd3, timing: LeaseTiming, now: () => number = () => performance.now()): Promise<Session> {
  validateTiming(timing);
  const sentAt = now();
  const grant = await etcd.leaseClient.leaseGrant({ TTL: timing.ttlSeconds });
  const leaseId = grant.ID;
  const grantedTtlSeconds = Number(grant.TTL);
  // Trust the shorter of the asked and granted TTL: a longer grant only delays others.
  const ttlMs = Math.min(timing.ttlSeconds, grantedTtlSeconds) * 1_000;
  const renewIntervalMs = ttlMs / 3;
  const attemptTimeoutMs = timing.keepaliveTimeoutMs ?? Math.min(ttlMs / 6, 1_000);
  const retryDelayMs = Math.min(100, ttlMs / 20);

  const controller = new AbortController();
  // A lease granted by a request sent at `sentAt` lives on the server at least until sentAt + TTL.
  let lastRenewalSentAt = sentAt;
  let endedAt: number | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = () => lastRenewalSentAt + ttlMs - timing.marginMs;

  let revoked: Promise<void> | undefined;
  const end = (reason: NotLeaderReason, detail: string): Promise<void> => {
    if (revoked) return revoked;
    endedAt = now();
    clearTimeout(deadlineTimer);
    controller.abort(new NotLeaderError(reason, detail));
    // Release the leader key now rather than after the TTL, if etcd can still be reached.
    revoked = reason === 'lost' ? Promise.resolve() : etcd.leaseClient.leaseRevoke({ ID: leaseId }).then(() => undefined, () => undefined);
    return revoked;
  };

  // The timer only fires the signal; isValid() reads the clock itself, so a late timer
  // (busy event loop) never extends trust.
  const watchDeadline = () => {
    clearTimeout(deadlineTimer);
    const remaining = deadline() - now();
    if (remaining > 0) {
      deadlineTimer = setTimeout(watchDeadline, remaining);
      return;
    }
    void end('deadline', `no keepalive succeeded within ${ttlMs - timing.marginMs}ms (TTL ${ttlMs}ms − margin ${timing.marginMs}ms) by this process's clock`);
  };

  const renew = async () => {
    let nextAttemptAt = sentAt + renewIntervalMs;
    while (endedAt === undefined) {
      await pause(Math.max(0, nextAttemptAt - now()), controller.signal);
      if (endedAt !== undefined) return;
      const attemptSentAt = now();
      try {
        const remainingTtl = await keepAliveOnce(etcd, leaseId, attemptTimeoutMs);
        if (endedAt !== undefined) return;
        if (remainingTtl <= 0) {
          await end('lost', `etcd reports lease ${leaseId} expired or revoked`);
          return;
        }
        // A success that arrives after the deadline does not revive the session.
        if (now() >= deadline()) {
          watchDeadline();
          return;
        }
        lastRenewalSentAt = attemptSentAt;
        watchDeadline();
        nextAttemptAt = attemptSentAt + renewIntervalMs;
      } catch {
        // Another member may answer: the connection pool picks one per attempt.
        nextAttemptAt = now() + retryDelayMs;
      }
    }
  };

  watchDeadline();
  void renew().catch((error: unknown) => end('deadline', `lease renewal stopped: ${String(error)}`));

  return {
    leaseId,
    grantedTtlSeconds,
    signal: controller.signal,
    validUntil: () => (endedAt === undefined ? deadline() : Math.min(deadline(), endedAt)),
    isValid: () => endedAt === undefined && now() < deadline(),
    end,
  };
}

/**
 * One keepalive on its own stream, answered or failed within `timeoutMs`: the answer then
 * belongs to exactly this request, so its send time is what the lease deadline is counted from.
 * Resolves with the TTL etcd reports (0: the lease no longer exists).
 */
export function keepAliveOnce(etcd: Etcd3, leaseId: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>> | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(
      () =>
        settle(() => {
          stream?.cancel();
          reject(new Error(`keepalive of lease ${leaseId} not answered within ${timeoutMs}ms`));
        }),
      timeoutMs,
    );
    etcd.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs }).then(
      (opened) => {
        stream = opened;
        opened.on('error', (error) => settle(() => reject(error)));
        if (settled) return opened.cancel();
        opened.on('data', (response) =>
          settle(() => {
            opened.end();
            resolve(Number(response.TTL));
          }),
        );
        opened.write({ ID: leaseId });
      },
      (error: unknown) => settle(() => reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}
