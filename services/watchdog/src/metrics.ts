import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ACTIVATION_OUTCOMES, type ActivationOutcome } from './activation-client.js';
import { MONITOR_STATUSES, type MonitorState } from './decision.js';
import { HTTP_PHASES, type ProbeResult } from './probe.js';

const PROBE_RESULTS = ['pass', 'warn', 'fail'] as const;

/** The watchdog's own metrics, registered on the service registry. */
export class WatchdogMetrics {
  private readonly probeSuccess: Gauge<'monitor'>;
  private readonly probeDuration: Gauge<'monitor'>;
  private readonly probeAttempts: Gauge<'monitor'>;
  private readonly attempts: Counter<'monitor'>;
  private readonly consecutiveFailures: Gauge<'monitor'>;
  private readonly state: Gauge<'monitor' | 'state'>;
  private readonly probes: Counter<'monitor' | 'result'>;
  private readonly activations: Counter<'monitor' | 'outcome'>;
  private readonly activationDeliveries: Counter<'url' | 'outcome'>;
  private readonly lastCycle: Gauge;
  private readonly skippedTicks: Counter<'monitor'>;
  private readonly lag: Histogram;
  private readonly phaseDuration: Gauge<'monitor' | 'phase'>;
  private readonly certExpiry: Gauge<'monitor'>;

  constructor(registry: Registry) {
    const registers = [registry];
    // probe_success and probe_duration_seconds keep blackbox_exporter's names so existing dashboards and rules apply.
    this.probeSuccess = new Gauge({ name: 'probe_success', help: '1 when the last probe passed (pass or warn), else 0.', labelNames: ['monitor'], registers });
    this.probeDuration = new Gauge({ name: 'probe_duration_seconds', help: 'How long the last probe took.', labelNames: ['monitor'], registers });
    // blackbox_exporter-style: the last probe's figure as probe_*, totals as a counter beside vigil_probes_total.
    this.probeAttempts = new Gauge({ name: 'probe_attempts', help: 'Attempts the last probe took (hedged requests; 1 when the first answered).', labelNames: ['monitor'], registers });
    this.attempts = new Counter({
      name: 'vigil_probe_attempts_total',
      help: 'Attempts of every probe; divided by vigil_probes_total, how often probes needed more than one.',
      labelNames: ['monitor'],
      registers,
    });
    this.consecutiveFailures = new Gauge({
      name: 'vigil_monitor_consecutive_failures',
      help: 'Consecutive counted probe failures of the monitor.',
      labelNames: ['monitor'],
      registers,
    });
    this.state = new Gauge({ name: 'vigil_monitor_state', help: '1 for the state the monitor is in, 0 for the others.', labelNames: ['monitor', 'state'], registers });
    this.probes = new Counter({ name: 'vigil_probes_total', help: 'Probes run, by result.', labelNames: ['monitor', 'result'], registers });
    this.activations = new Counter({
      name: 'vigil_activation_requests_total',
      help: 'Activation requests sent, by final outcome (accepted, conflict, rejected, failed, cancelled).',
      labelNames: ['monitor', 'outcome'],
      registers,
    });
    // One series per configured replica and outcome: the label takes only the configured origins.
    this.activationDeliveries = new Counter({
      name: 'vigil_activation_deliveries_total',
      help: 'Activation requests by activation replica (url: its origin) and that replica\'s final outcome, including deliveries that go on after another replica accepted.',
      labelNames: ['url', 'outcome'],
      registers,
    });
    this.lastCycle = new Gauge({ name: 'vigil_watchdog_last_cycle_timestamp_seconds', help: 'When the last probe cycle of any monitor finished.', registers });
    this.skippedTicks = new Counter({
      name: 'vigil_scheduler_skipped_ticks_total',
      help: 'Scheduled probes not run because the previous probe of the monitor was still running or the process stalled.',
      labelNames: ['monitor'],
      registers,
    });
    this.lag = new Histogram({
      name: 'vigil_scheduler_lag_seconds',
      // One histogram for the process: lag is the event loop's, and per-monitor buckets would cost
      // a dozen series per monitor.
      help: 'How late probes start compared with their scheduled time, over all monitors.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    // blackbox_exporter's names and phase labels, set when the HTTP check measures them.
    this.phaseDuration = new Gauge({
      name: 'probe_http_duration_seconds',
      help: 'Duration of the last HTTP probe by phase (resolve, connect, tls, processing, transfer).',
      labelNames: ['monitor', 'phase'],
      registers,
    });
    this.certExpiry = new Gauge({ name: 'probe_ssl_earliest_cert_expiry', help: 'Earliest expiry of the certificates the last probe saw, unix seconds.', labelNames: ['monitor'], registers });
  }

  /** Starts every series of a monitor at zero so that rate() and alerts see the first event. */
  addMonitor(monitor: string, state: MonitorState): void {
    for (const result of PROBE_RESULTS) this.probes.inc({ monitor, result }, 0);
    for (const outcome of ACTIVATION_OUTCOMES) this.activations.inc({ monitor, outcome }, 0);
    this.skippedTicks.inc({ monitor }, 0);
    this.attempts.inc({ monitor }, 0);
    this.observeState(monitor, state);
  }

  observeProbe(monitor: string, result: ProbeResult, finishedAtMs: number): void {
    this.probeSuccess.set({ monitor }, result.status === 'fail' ? 0 : 1);
    this.probeDuration.set({ monitor }, result.durationMs / 1000);
    this.probes.inc({ monitor, result: result.status });
    const attempts = result.attempts ?? 1;
    this.probeAttempts.set({ monitor }, attempts);
    this.attempts.inc({ monitor }, attempts);
    this.lastCycle.set(finishedAtMs / 1000);
    const { phases, tlsEarliestCertExpiry } = result;
    if (phases) {
      const byPhase = [phases.dns, phases.connect, phases.tls, phases.firstByte, phases.transfer];
      HTTP_PHASES.forEach((phase, i) => this.phaseDuration.set({ monitor, phase }, (byPhase[i] ?? 0) / 1000));
    }
    if (tlsEarliestCertExpiry !== undefined) this.certExpiry.set({ monitor }, tlsEarliestCertExpiry);
  }

  observeState(monitor: string, state: MonitorState): void {
    this.consecutiveFailures.set({ monitor }, state.consecutiveFailures);
    for (const s of MONITOR_STATUSES) this.state.set({ monitor, state: s }, s === state.status ? 1 : 0);
  }

  observeActivation(monitor: string, outcome: ActivationOutcome): void {
    this.activations.inc({ monitor, outcome });
  }

  /** Starts the series of each configured activation replica at zero. */
  addActivationReplicas(urls: readonly string[]): void {
    for (const url of urls) for (const outcome of ACTIVATION_OUTCOMES) this.activationDeliveries.inc({ url, outcome }, 0);
  }

  observeActivationDelivery(url: string, outcome: ActivationOutcome): void {
    this.activationDeliveries.inc({ url, outcome });
  }

  observeSkip(monitor: string): void {
    this.skippedTicks.inc({ monitor });
  }

  observeLag(lagMs: number): void {
    this.lag.observe(lagMs / 1000);
  }
}
