import { isDeepStrictEqual } from 'node:util';
import type { Alert } from '@vigil/alerting';
import { formatDuration, type ActivationRequest, type Logger, type ProbeEvidence } from '@vigil/core';
import type { ActivationResult } from './activation-client.js';
import { alertFor } from './alerts.js';
import type { MonitorConfig } from './config.js';
import { next, type DecisionEvent, type MonitorState, type Policy } from './decision.js';
import type { WatchdogMetrics } from './metrics.js';
import type { Probe, ProbeResult } from './probe.js';

/** Sends one alert through the alerting pipeline. Should not throw (guarded anyway). */
export type Notify = (alert: Alert) => Promise<void>;
/** Sends one activation request (retries included). Should not throw (guarded anyway). */
export type RequestActivation = (request: ActivationRequest) => Promise<ActivationResult>;

/** Probe results kept as evidence for an activation request. */
const EVIDENCE_SIZE = 10;
const MAX_OUTPUT = 2000;
/** A probe that ignores its abort signal is abandoned this long after its timeout. */
const DEADLINE_GRACE_MS = 1000;

export interface MonitorDeps {
  config: MonitorConfig;
  state: MonitorState;
  probe: Probe;
  notify: Notify;
  /** Present when the monitor activates (config.activate) and a voter is configured. */
  requestActivation?: RequestActivation;
  voterId?: string;
  /** Persists the monitor's state; resolves once durable. */
  saveState: (name: string, state: MonitorState) => Promise<void>;
  metrics: WatchdogMetrics;
  logger: Logger;
  now: () => number;
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
    const now = this.deps.now();
    this.remember(result, now);
    this.deps.metrics.observeProbe(this.name, result, now);

    const before = this.state;
    const { state, events } = next(before, { ok: result.status !== 'fail' }, this.policy, now);
    this.state = state;
    this.deps.metrics.observeState(this.name, state);
    if (state.status !== before.status) {
      this.log.info({ from: before.status, to: state.status, consecutiveFailures: state.consecutiveFailures, output: result.output }, 'monitor state changed');
    }
    if (result.status === 'fail' && state.status === 'degraded') {
      // Counting towards the threshold: the operator's early view of an incident forming.
      this.log.warn({ failures: `${state.consecutiveFailures}/${this.policy.failureThreshold}`, output: result.output }, 'probe failed');
    }
    // Durable before any effect: after a crash we may miss sending once, but never send twice.
    if (!isDeepStrictEqual(this.restartView(state), this.restartView(before))) await this.persist(state);
    for (const event of events) this.dispatch(event);
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
    const { url, timeout } = this.deps.config;
    const started = this.deps.now();
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.stopping.signal]);
    let timer: NodeJS.Timeout | undefined;
    // The probe owns its timeout; this deadline only keeps a probe that ignores it from stalling the monitor.
    const deadline = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ status: 'fail', durationMs: this.deps.now() - started, output: `probe did not finish within ${formatDuration(timeout)}` });
      }, timeout + DEADLINE_GRACE_MS);
    });
    try {
      return await Promise.race([this.deps.probe({ url, timeoutMs: timeout }, signal), deadline]);
    } catch (err) {
      return { status: 'fail', durationMs: this.deps.now() - started, output: `probe failed unexpectedly: ${String(err)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  private remember(result: ProbeResult, now: number): void {
    const output = result.output?.slice(0, MAX_OUTPUT);
    this.recent.push({ status: result.status, durationMs: result.durationMs, ...(output !== undefined && { output }), time: new Date(now).toISOString() });
    if (this.recent.length > EVIDENCE_SIZE) this.recent.shift();
  }

  /**
   * What a restart needs of a state. A counter past its threshold cannot change a decision, so a
   * monitor steadily up (or down) writes nothing rather than one file sync per probe.
   */
  private restartView(state: MonitorState): MonitorState {
    return {
      ...state,
      consecutiveFailures: Math.min(state.consecutiveFailures, this.policy.failureThreshold),
      consecutiveSuccesses: Math.min(state.consecutiveSuccesses, this.policy.successThreshold),
    };
  }

  private async persist(state: MonitorState): Promise<void> {
    try {
      await this.deps.saveState(this.name, state);
    } catch (err) {
      // Alerting matters more than restart-proof dedup: go on, but say so loudly.
      this.log.error({ err }, 'cannot persist monitor state; a restart may repeat its alerts');
    }
  }

  private dispatch(event: DecisionEvent): void {
    switch (event.type) {
      case 'alert-firing':
      case 'alert-resolved': {
        const alert = alertFor(event, this.deps.config, this.lastResult?.output);
        const level = alert.status === 'firing' ? 'warn' : 'info';
        this.log[level]({ alertId: alert.id, incidentId: event.incident.id }, `alert ${alert.status}`);
        this.alertQueue = this.alertQueue.then(() => this.notify(alert));
        this.track(this.alertQueue);
        break;
      }
      case 'activate':
        this.track(this.activate(event));
        break;
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
      },
    };
    this.log.warn({ target: request.target, incidentId: event.incident.id }, 'requesting activation');
    try {
      const result = await requestActivation(request);
      this.deps.metrics.observeActivation(this.name, result.outcome);
    } catch (err) {
      this.deps.metrics.observeActivation(this.name, 'failed');
      this.log.error({ err, incidentId: event.incident.id }, 'activation request failed unexpectedly');
    }
  }

  private track(effect: Promise<void>): void {
    this.effects.add(effect);
    void effect.finally(() => this.effects.delete(effect));
  }
}
