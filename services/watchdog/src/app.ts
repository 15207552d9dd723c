import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createAlerting, type AlertingConfig } from '@vigil/alerting';
import { createRegistry, formatDuration, redactUrl, type Logger } from '@vigil/core';
import Fastify, { LogController } from 'fastify';
import type { Agent } from 'undici';
import { ActivationClient } from './activation-client.js';
import { AuditLog } from './audit.js';
import { detectionBudget, type MonitorConfig, type WatchdogConfig } from './config.js';
import { ControlTargets } from './control.js';
import { INITIAL_STATE } from './decision.js';
import { Heartbeat } from './heartbeat.js';
import { BUCKET_MS, HistoryStore, type MonitorHistory } from './history.js';
import { Maintenance } from './maintenance.js';
import { WatchdogMetrics } from './metrics.js';
import { Monitor, type Notify, type RequestActivation } from './monitor.js';
import { createProbe, probeAgent, probeTarget, type Probe } from './probe.js';
import { auditRoutes } from './routes/audit.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { monitorRoutes, type MonitorView } from './routes/monitors.js';
import { pauseRoutes } from './routes/pause.js';
import { Scheduler, stableOffset, typicalCronGap, type Schedule } from './scheduler.js';
import { MonitorStateStore } from './state-store.js';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const QUIET_PATHS = new Set(['/metrics', '/livez', '/readyz']);

/** How often pauses past their `until` are ended (logged and audited); they stop counting at `until` regardless. */
const PAUSE_SWEEP_MS = 1_000;

/** How long shutdown lets alerts and activation requests in flight finish before cancelling them (within runService's 10s). */
const EFFECTS_GRACE_MS = 5_000;

export interface WatchdogOptions {
  config: WatchdogConfig;
  logger: Logger;
  /** The clock the decision core is given (tests move it). */
  now?: () => number;
  /** Replaces the probe of every kind (tests). */
  probe?: Probe;
  /** Replaces the alert dispatcher built from `config.alerts` (tests). */
  notify?: Notify;
  /** Replaces the activation client's retry backoff (tests use short delays). */
  activationBackoff?: { baseMs: number; maxMs: number };
}

/**
 * The watchdog as a Fastify plugin: monitors start when the server is ready and stop, in-flight
 * work drained, when it closes.
 */
export const watchdog: FastifyPluginAsyncTypebox<WatchdogOptions> = async (app, options) => {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const registry = createRegistry('watchdog', VERSION);
  const metrics = new WatchdogMetrics(registry);
  const closers: (() => Promise<void>)[] = [];

  // One pool for every HTTP probe: bounded connections per target, kept alive between probes.
  const { agent, certificates } = probeAgent();
  const probe = options.probe ?? createProbe(agent, certificates);
  const notify = options.notify ?? alertDispatcher(config, logger, registry, closers);
  const requestActivation = activationClient(config, options, agent, logger, metrics, now, closers);

  const store = new MonitorStateStore(config.dataDir);
  const stored = store.load(config.monitors.map((m) => m.name));
  const maintenance = new Maintenance(config.maintenance, config.dataDir);
  const audit = await AuditLog.open(config.dataDir, logger);
  const historyStore = new HistoryStore(config.dataDir, logger);
  const histories = historyStore.load(config.monitors.map((m) => m.name));
  const control = new ControlTargets(config.controlTargets, probe, logger, now);
  const heartbeat = config.heartbeat && new Heartbeat(config.heartbeat, agent, logger);
  const entries = config.monitors.map((monitorConfig) => {
    const state = stored.get(monitorConfig.name) ?? INITIAL_STATE;
    metrics.addMonitor(monitorConfig.name, state);
    const history = histories.get(monitorConfig.name)!;
    const monitor = new Monitor({
      config: monitorConfig,
      state,
      probe,
      notify,
      ...(monitorConfig.activate && requestActivation && { requestActivation }),
      ...(config.voter && { voterId: config.voter.id }),
      saveState: (name, s, urgent) => store.save(name, s, urgent),
      metrics,
      logger,
      now,
      inMaintenance: (at) => maintenance.activeFor(monitorConfig.name, at),
      ...(config.controlTargets.length > 0 && { reachesControlTargets: () => control.reachable() }),
      recordOutcome: (at, outcome, durationMs) => {
        history.record(at, outcome, durationMs);
        historyStore.touch();
      },
      ...(heartbeat && { onCycle: (at: number) => heartbeat.beat(at) }),
    });
    const scheduler = new Scheduler({
      schedule: scheduleOf(monitorConfig),
      run: () => monitor.cycle(),
      onSkip: () => metrics.observeSkip(monitor.name),
      onLag: (ms) => metrics.observeLag(ms),
      onError: (err) => logger.error({ err, monitor: monitor.name }, 'probe cycle failed'),
      logger: logger.child({ monitor: monitor.name }),
    });
    return { config: monitorConfig, monitor, scheduler, history, intervalMs: intervalOf(monitorConfig), detectionMs: detectionBudget(monitorConfig).detectionMs };
  });

  /** Ends the pauses past their `until`: logged and audited once each. Runs at start and on one sweep timer. */
  const expirePauses = async () => {
    for (const { monitor, pause } of await maintenance.expire(now())) {
      logger.warn({ monitor, until: pause.until, operator: pause.operator, reason: pause.reason }, 'pause expired: monitor resumed');
      await audit.append({
        time: new Date(now()).toISOString(),
        event: 'pause-expired',
        monitor,
        ...(pause.operator !== undefined && { operator: pause.operator }),
        ...(pause.reason !== undefined && { reason: pause.reason }),
        ...(pause.until !== undefined && { until: pause.until }),
      });
    }
  };
  let sweeping: Promise<void> | undefined;
  const sweep = () => {
    sweeping ??= expirePauses()
      .catch((err: unknown) => logger.error({ err }, 'cannot record an expired pause'))
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };
  let sweepTimer: NodeJS.Timeout | undefined;

  let notReadyBecause: string | undefined = 'starting';
  await app.register(healthRoutes, { notReadyBecause: () => notReadyBecause });
  await app.register(metricsRoutes, { registry });
  await app.register(monitorRoutes, { list: (historySpanMs) => entries.map((e) => view(e, maintenance, now(), historySpanMs)) });
  await app.register(auditRoutes, { query: (q) => audit.query(q), now });
  const names = new Set(config.monitors.map((m) => m.name));
  await app.register(pauseRoutes, {
    access: config.api,
    exists: (name) => names.has(name),
    pause: (name, pause) => maintenance.pause(name, pause),
    resume: (name) => maintenance.resume(name),
    audit: (record) => audit.append(record),
    now,
  });

  app.addHook('onReady', (done) => {
    if (entries.length > 0 && config.alerts.webhooks.length + config.alerts.receivers.length === 0 && !options.notify) {
      logger.warn('no alert receivers configured (alerts.webhooks, alerts.receivers): incidents will only be logged');
    }
    for (const { monitor } of entries) monitor.resumePendingActivation();
    for (const { scheduler } of entries) scheduler.start();
    // A restart after a pause's end resumes its monitor at once; later ends are found by the sweep.
    void sweep();
    sweepTimer = setInterval(() => void sweep(), PAUSE_SWEEP_MS);
    sweepTimer.unref();
    historyStore.start();
    notReadyBecause = undefined;
    const budget = config.activation.budget ?? 0;
    logger.info(
      { monitors: entries.map((e) => ({ name: e.config.name, worstCaseDetection: detectionBudget(e.config, budget).text, rto: e.config.rto })) },
      'watchdog started',
    );
    done();
  });

  app.addHook('preClose', (done) => {
    notReadyBecause = 'shutting down';
    done();
  });

  app.addHook('onClose', async () => {
    clearInterval(sweepTimer);
    await sweeping;
    for (const { monitor } of entries) monitor.stop();
    await Promise.all(entries.map((e) => e.scheduler.close()));
    // Alerts and activation requests already under way get a bounded grace period, then are cancelled.
    const settled = Promise.all(entries.map((e) => e.monitor.settle()));
    await finishesWithin(settled, EFFECTS_GRACE_MS);
    await store.flush().catch((err: unknown) => logger.error({ err }, 'cannot persist monitor state at shutdown'));
    await historyStore.close().catch((err: unknown) => logger.error({ err }, 'cannot persist monitor history at shutdown'));
    await Promise.all(closers.map((close) => close()));
    await settled;
    await heartbeat?.close();
    maintenance.close();
    await agent.close();
  });
};

/** Builds the Fastify application around the watchdog plugin. */
export async function buildApp(options: WatchdogOptions) {
  const app = Fastify({
    loggerInstance: options.logger,
    // Scrapes and orchestrator probes every few seconds would drown the log.
    logController: new LogController({ disableRequestLogging: (request) => QUIET_PATHS.has(request.url.split('?')[0]!) }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(watchdog, options);
  return app;
}

async function finishesWithin(work: Promise<unknown>, ms: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([work, delay(ms, undefined, { signal: timer.signal }).catch(() => undefined)]);
  timer.abort();
}

function scheduleOf(m: MonitorConfig): Schedule {
  if (m.interval !== undefined) return { everyMs: m.interval, offsetMs: stableOffset(m.name, m.interval) };
  if (m.cron !== undefined) return { cron: m.cron, ...(m.timezone !== undefined && { timezone: m.timezone }) };
  throw new Error(`monitor ${m.name} has neither interval nor cron`); // the config schema rules this out
}

/** The schedule's step: the interval, or a cron expression's typical gap between runs. */
function intervalOf(m: MonitorConfig): number {
  return m.interval ?? typicalCronGap(m.cron ?? '* * * * * *', m.timezone);
}

interface Entry {
  config: MonitorConfig;
  monitor: Monitor;
  scheduler: Scheduler;
  history: MonitorHistory;
  intervalMs: number;
  detectionMs: number;
}

function view({ config, monitor, scheduler, history, intervalMs, detectionMs }: Entry, maintenance: Maintenance, now: number, historySpanMs: number | undefined): MonitorView {
  const state = monitor.current;
  const pause = maintenance.pauseOf(config.name, now);
  const last = monitor.lastResult;
  return {
    name: config.name,
    kind: config.kind,
    target: probeTarget(config),
    ...(config.kind === 'http' && { url: redactUrl(config.url) }),
    schedule: config.interval !== undefined ? `every ${formatDuration(config.interval)}` : `cron ${config.cron ?? ''}`,
    state: state.status,
    consecutiveFailures: state.consecutiveFailures,
    consecutiveSuccesses: state.consecutiveSuccesses,
    ...(state.lastChange !== undefined && { lastChange: state.lastChange }),
    lastResult: monitor.lastResult ?? null,
    incident: state.incident ?? null,
    ...(config.activate && { activationTarget: config.activate.target }),
    skippedTicks: scheduler.skippedTicks,
    inMaintenance: maintenance.activeFor(config.name, now),
    ...(pause && { paused: pause }),
    ...(state.isolatedSince !== undefined && { isolatedSince: state.isolatedSince }),
    ...(last && { lastProbeAt: last.time }),
    intervalMs,
    failureThreshold: config.failureThreshold,
    timeoutMs: config.timeout,
    detectionMs,
    ...(historySpanMs !== undefined && { history: { bucketMs: BUCKET_MS, buckets: history.buckets(now, historySpanMs) } }),
  };
}

/**
 * Alerts go through the alerting package: routed to the configured receivers (alerts.webhooks
 * and alerts.receivers), written to the durable outbox in dataDir before the first attempt,
 * retried, and replayed after a restart.
 */
function alertDispatcher(config: WatchdogConfig, logger: Logger, registry: ReturnType<typeof createRegistry>, closers: (() => Promise<void>)[]): Notify {
  const { webhooks, ...alerts } = config.alerts;
  const alertingConfig: AlertingConfig = { ...alerts, receivers: [...webhooks.map((webhook) => ({ type: 'webhook' as const, ...webhook })), ...alerts.receivers] };
  const alerting = createAlerting({
    config: alertingConfig,
    dataDir: config.dataDir,
    logger,
    registry,
    // Deliveries already had the watchdog's grace period when this is closed; what is left stays in the outbox.
    closeTimeoutMs: 250,
  });
  closers.push(() => alerting.close());
  return (alert) => alerting.send(alert);
}

function activationClient(
  config: WatchdogConfig,
  options: WatchdogOptions,
  agent: Agent,
  logger: Logger,
  metrics: WatchdogMetrics,
  now: () => number,
  closers: (() => Promise<void>)[],
): RequestActivation | undefined {
  if (!config.voter) return undefined;
  const client = new ActivationClient({
    urls: config.activation.urls,
    timeoutMs: config.activation.timeout,
    retries: config.activation.retries,
    voter: config.voter,
    logger,
    dispatcher: agent,
    ...(options.activationBackoff && { backoff: options.activationBackoff }),
    now,
    onReplicaResult: (url, outcome) => metrics.observeActivationDelivery(url, outcome),
  });
  metrics.addActivationReplicas(client.urls);
  // Also ends the deliveries still going on to replicas after another one accepted.
  closers.push(() => client.close());
  return (request) => client.request(request);
}
