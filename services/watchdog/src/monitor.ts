import { isDeepStrictEqual } from 'node:util';
import type { Alert } from '@vigil/alerting';
import { formatDuration, redactUrl, type ActivationRequest, type Logger, type ProbeEvidence } from '@vigil/core';
import type { ActivationResult } from './activation-client.js';
import { alertFor, type AlertEvent } from './alerts.js';
import { certificateNext } from './certificate.js';
import type { MonitorConfig } from './config.js';
import { next, type DecisionEvent, type MonitorState, type Policy, type Verdict } from './decision.js';
import type { WatchdogMetrics } from './metrics.js';
import type { Probe, ProbeResult } from './probe.js';

/** Sends one alert through the alerting pipeline. Should not throw (guarded anyway). */
export type Notify = (alert: Alert) => Promise<void>;
/** Sends one activation request (retries included). Should not throw (guarded anyway). */
export type RequestActivation = (request: ActivationRequest) => Promise<ActivationResult>;

/** Pause between rounds of activation requests while the activation service cannot be reached. */
const ACTIVATION_RETRY_PAUSE_MS = 5_000;

/** Waits, unless aborted first; true when the full pause elapsed. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Probe results kept as evidence for an activation request. */
const EVIDENCE_SIZE = 10;
const MAX_OUTPUT = 2000;
/** A probe that ignores its abort signal is abandoned this long after its timeout. */
const DEADLINE_GRACE_MS = 1000;

/**
 * What a monitor probes, sent with its activation requests so that the activation service can
 * probe the same from where it stands before failing over. Written as the configuration would be
 * (durations as text), and without anything secret: no headers, no TLS CA, no credentials in the
 * URL (secret-looking query values are masked), since it leaves the watchdog and is recorded.
 */
export function probeDescription(config: MonitorConfig): Record<string, unknown> {
  const probing = { timeout: formatDuration(config.timeout), attempts: config.attempts, hedgeDelay: formatDuration(config.hedgeDelay) };
  switch (config.kind) {
    case 'http':
      return {
        kind: 'http',
        url: withoutCredentials(config.url),
        method: config.method,
        expectStatus: config.expectStatus,
        ...(config.expectBody !== undefined && { expectBody: config.expectBody }),
        ...(config.tls?.serverName !== undefined && { tls: { serverName: config.tls.serverName } }),
        ...probing,
      };
    case 'tcp':
      return { kind: 'tcp', host: config.host, port: config.port, ...probing };
    case 'dns':
      return {
        kind: 'dns',
        host: config.host,
        type: config.type,
        ...(config.server !== undefined && { server: config.server }),
        ...(config.expect !== undefined && { expect: config.expect }),
        ...probing,
      };
  }
}

/** The URL without its user and password, and with secret-looking query values masked. */
function withoutCredentials(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return redactUrl(raw);
  }
  url.username = '';
  url.password = '';
  return redactUrl(url.toString());
}

export interface MonitorDeps {
  config: MonitorConfig;
  state: MonitorState;
  probe: Probe;
  notify: Notify;
  /** Present when the monitor activates (config.activate) and a voter is configured. */
  requestActivation?: RequestActivation;
  voterId?: string;
  /** Persists the monitor's state; resolves once durable. `urgent`: an effect waits for it. */
  saveState: (name: string, state: MonitorState, urgent: boolean) => Promise<void>;
  metrics: WatchdogMetrics;
  logger: Logger;
  now: () => number;
  /** Whether the monitor is in a maintenance window or paused at `now`. */
  inMaintenance?: (now: number) => boolean;
  /** Whether the watchdog can reach a majority of its control targets; asked only after a failed probe. */
  reachesControlTargets?: () => Promise<boolean>;
  /** Called with each probe's outcome for the monitor's history (inconclusive probes are not recorded). */
  recordOutcome?: (at: number, outcome: 'up' | 'down' | 'maintenance', durationMs: number) => void;
  /** Called after every completed cycle (the dead man's switch). */
  onCycle?: (now: number) => void;
  /** Pause between rounds of activation requests when the service is unreachable (default 5s). */
  activationRetryPauseMs?: number;
}

export interface LastResult {
  status: ProbeResult['status'];
  durationMs: number;
  output?: string;
  time: string;
}

/**
 * One monitored target: probe → decision → effects. The decision is the pure core's; this class
 * only moves results in and events out. Effects (alerts, activation) run beside the probe loop,
 * so a slow receiver never delays the next probe, and none of them can throw into the scheduler.
 */
export class Monitor {
  readonly name: string;
  private state: MonitorState;
  private readonly policy: Policy;
  private readonly recent: LastResult[] = [];
  private readonly effects = new Set<Promise<void>>();
  /** Alerts of one monitor go out in order: a resolution never overtakes its firing alert. */
  private alertQueue: Promise<void> = Promise.resolve();
  private readonly stopping = new AbortController();
  private readonly log: Logger;

  constructor(private readonly deps: MonitorDeps) {
    const { config } = deps;
    this.name = config.name;
    this.state = deps.state;
    this.policy = {
      monitor: config.name,
      failureThreshold: config.failureThreshold,
      successThreshold: config.successThreshold,
      ...(config.warningThreshold !== undefined && { warningThreshold: config.warningThreshold }),
      activate: config.activate !== undefined,
    };
    this.log = deps.logger.child({ monitor: config.name });
  }

  get current(): MonitorState {
    return this.state;
  }

  get lastResult(): LastResult | undefined {
    return this.recent.at(-1);
  }

  /** One probe and its consequences. Never rejects. */
  async cycle(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const result = await this.probeOnce();
    // A probe cut short by shutdown says nothing about the target.
    if (this.stopping.signal.aborted) return;
    const verdict = await this.verdictOf(result);
    if (this.stopping.signal.aborted) return;
    const now = this.deps.now();
    this.remember(result, now);
    this.deps.metrics.observeProbe(this.name, result, now);
    if (verdict !== 'inconclusive') this.deps.recordOutcome?.(now, verdict === 'maintenance' ? 'maintenance' : verdict === 'pass' ? 'up' : 'down', result.durationMs);

    const before = this.state;
    const decision = next(before, verdict, this.policy, now);
    // Maintenance silences the certificate warning too; it is looked at again afterwards.
    const certificate =
      verdict === 'maintenance'
        ? { warning: before.certificateWarning, events: [] }
        : certificateNext(before.certificateWarning, result.tlsEarliestCertExpiry, now, this.deps.config.certificateExpiryWarning, this.name);
    const { certificateWarning: _dropped, ...decided } = decision.state;
    const state: MonitorState = { ...decided, ...(certificate.warning && { certificateWarning: certificate.warning }) };
    const events: (DecisionEvent | AlertEvent)[] = [...decision.events, ...certificate.events];
    this.state = state;
    this.deps.metrics.observeState(this.name, state);
    if (state.status !== before.status) {
      this.log.info({ from: before.status, to: state.status, consecutiveFailures: state.consecutiveFailures, output: result.output }, 'monitor state changed');
    }
    if (result.status === 'fail' && state.status === 'degraded') {
      // Counting towards the threshold: the operator's early view of an incident forming.
      this.log.warn({ failures: `${state.consecutiveFailures}/${this.policy.failureThreshold}`, output: result.output }, 'probe failed');
    }
    if (!isDeepStrictEqual(this.restartView(state), this.restartView(before))) {
      // Durable before any effect: after a crash we may miss sending once, but never send twice.
      // Without effects nothing waits for the write, which can then share a later snapshot.
      const durable = this.persist(state, events.length > 0);
      if (events.length > 0) await durable;
      else this.track(durable);
    }
    for (const event of events) this.dispatch(event);
    this.deps.onCycle?.(now);
  }

  /** A failed probe counts only when the watchdog can still reach most of its control targets. */
  private async verdictOf(result: ProbeResult): Promise<Verdict> {
    if (this.deps.inMaintenance?.(this.deps.now())) return 'maintenance';
    if (result.status !== 'fail') return 'pass';
    if (this.deps.reachesControlTargets && !(await this.deps.reachesControlTargets())) return 'inconclusive';
    return 'fail';
  }

  /** Aborts a probe in progress and runs no more; effects already under way continue (see settle). */
  stop(): void {
    this.stopping.abort();
  }

  /** Waits for alerts and activation requests still being sent. */
  async settle(): Promise<void> {
    while (this.effects.size > 0) await Promise.allSettled([...this.effects]);
  }

  private async probeOnce(): Promise<ProbeResult> {
    const { config } = this.deps;
    const { timeout } = config;
    const started = this.deps.now();
    const controller = new AbortController();
    // A listener rather than AbortSignal.any: signals derived from a long-lived one accumulate in it.
    const stop = () => controller.abort(this.stopping.signal.reason);
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    const { signal } = controller;
    let timer: NodeJS.Timeout | undefined;
    // The probe owns its timeout; this deadline only keeps a probe that ignores it from stalling the monitor.
    const deadline = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ status: 'fail', durationMs: this.deps.now() - started, output: `probe did not finish within ${formatDuration(timeout)}` });
      }, timeout + DEADLINE_GRACE_MS);
    });
    try {
      return await Promise.race([this.deps.probe(config, signal), deadline]);
    } catch (err) {
      return { status: 'fail', durationMs: this.deps.now() - started, output: `probe failed unexpectedly: ${String(err)}` };
    } finally {
      clearTimeout(timer);
      this.stopping.signal.removeEventListener('abort', stop);
    }
  }

  private remember(result: ProbeResult, now: number): void {
    const output = result.output?.slice(0, MAX_OUTPUT);
    this.recent.push({ status: result.status, durationMs: result.durationMs, ...(output !== undefined && { output }), time: new Date(now).toISOString() });
    if (this.recent.length > EVIDENCE_SIZE) this.recent.shift();
  }

  /**
   * What a restart needs of a state. A counter past its threshold cannot change a decision, and
   * successes only count while an incident is open (without one, one success is up), so a monitor
   * steadily up (or down) writes nothing rather than one file sync per probe.
   */
  private restartView(state: MonitorState): MonitorState {
    return {
      ...state,
      consecutiveFailures: Math.min(state.consecutiveFailures, this.policy.failureThreshold),
      consecutiveSuccesses: state.incident ? Math.min(state.consecutiveSuccesses, this.policy.successThreshold) : 0,
    };
  }

  private async persist(state: MonitorState, urgent: boolean): Promise<void> {
    try {
      await this.deps.saveState(this.name, state, urgent);
    } catch (err) {
      // Alerting matters more than restart-proof dedup: go on, but say so loudly.
      this.log.error({ err }, 'cannot persist monitor state; a restart may repeat its alerts');
    }
  }

  private dispatch(event: DecisionEvent | AlertEvent): void {
    switch (event.type) {
      case 'activate':
        this.track(this.activate(event));
        break;
      default: {
        const alert = alertFor(event, this.deps.config, this.lastResult?.output);
        const level = alert.status === 'firing' ? 'warn' : 'info';
        this.log[level]({ alertId: alert.id, dedupKey: alert.dedupKey, severity: alert.severity }, `alert ${alert.status}: ${alert.summary}`);
        this.alertQueue = this.alertQueue.then(() => this.notify(alert));
        this.track(this.alertQueue);
        break;
      }
    }
  }

  private async notify(alert: Alert): Promise<void> {
    try {
      await this.deps.notify(alert);
    } catch (err) {
      this.log.error({ err, alertId: alert.id }, 'alert pipeline failed');
    }
  }

  private async activate(event: Extract<DecisionEvent, { type: 'activate' }>): Promise<void> {
    const { requestActivation, voterId, config } = this.deps;
    if (!requestActivation || !voterId || !config.activate) {
      // The configuration schema requires a voter for activating monitors; reaching here is a wiring bug.
      this.log.error({ incidentId: event.incident.id }, 'activation needed but no activation client is configured');
      return;
    }
    const request: ActivationRequest = {
      target: config.activate.target,
      voter: voterId,
      incident: {
        id: event.incident.id,
        monitor: this.name,
        startedAt: event.incident.startedAt,
        consecutiveFailures: event.consecutiveFailures,
        evidence: this.recent.map((r): ProbeEvidence => ({ ...r })),
        probe: probeDescription(config),
      },
    };
    this.log.warn({ target: request.target, incidentId: event.incident.id }, 'requesting activation');
    // A missed failover breaks the RTO: while this incident lasts, an unreachable activation service
    // is asked again. Repeating is safe: the request's id derives from the incident (idempotent).
    for (let round = 1; ; round++) {
      const outcome = await this.send(requestActivation, request);
      this.deps.metrics.observeActivation(this.name, outcome);
      // Cancelled means shutting down: left unanswered, so a restart asks again.
      if (outcome === 'cancelled' || this.state.incident?.id !== event.incident.id) return;
      if (outcome !== 'failed') {
        // Answered: a restart must not ask again (it would be harmless, but it is not needed).
        this.state = { ...this.state, incident: { ...this.state.incident, activationAnswered: true } };
        await this.persist(this.state, true);
        return;
      }
      if (this.stopping.signal.aborted) return;
      const pauseMs = this.deps.activationRetryPauseMs ?? ACTIVATION_RETRY_PAUSE_MS;
      this.log.error({ incidentId: event.incident.id, round, retryInMs: pauseMs }, 'activation service not reached; asking again while the incident lasts');
      if (!(await pause(pauseMs, this.stopping.signal))) return;
    }
  }

  /**
   * Sends one activation request; never throws. An activation service older than `incident.probe`
   * refuses the field (400 naming it): rather than miss the failover, the request goes once more
   * without it (same id: the refused delivery was not recorded).
   */
  private async send(requestActivation: RequestActivation, request: ActivationRequest): Promise<ActivationResult['outcome']> {
    const result = await this.guarded(requestActivation, request);
    if (result.outcome !== 'rejected' || request.incident.probe === undefined || !result.error?.includes('incident.probe')) return result.outcome;
    this.log.warn({ incidentId: request.incident.id, error: result.error }, 'the activation service refused the probe description (older than this watchdog?); asking again without it');
    const { probe: _refused, ...incident } = request.incident;
    return (await this.guarded(requestActivation, { ...request, incident })).outcome;
  }

  private async guarded(requestActivation: RequestActivation, request: ActivationRequest): Promise<ActivationResult> {
    try {
      return await requestActivation(request);
    } catch (err) {
      this.log.error({ err, incidentId: request.incident.id }, 'activation request failed unexpectedly');
      return { outcome: 'failed', attempts: 0 };
    }
  }

  /**
   * After a restart the state may say an activation was requested that was never answered (a
   * crash between saving and sending, or while retrying): ask again while still down.
   */
  resumePendingActivation(): void {
    const { incident, status, consecutiveFailures } = this.state;
    if (status === 'down' && incident?.activationRequested && !incident.activationAnswered && this.deps.requestActivation) {
      this.log.warn({ incidentId: incident.id }, 'resuming the activation request of an open incident');
      this.dispatch({ type: 'activate', incident, consecutiveFailures });
    }
  }

  private track(effect: Promise<void>): void {
    this.effects.add(effect);
    void effect.finally(() => this.effects.delete(effect));
  }
}
