import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AlertDispatcher, createNotifier } from '@vigil/alerting';
import { createRegistry, formatDuration, redactUrl, type Logger } from '@vigil/core';
import Fastify, { LogController } from 'fastify';
import { Agent } from 'undici';
import { ActivationClient } from './activation-client.js';
import type { MonitorConfig, WatchdogConfig } from './config.js';
import { INITIAL_STATE } from './decision.js';
import { WatchdogMetrics } from './metrics.js';
import { Monitor, type Notify, type RequestActivation } from './monitor.js';
import { httpProbe, type Probe } from './probe.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { monitorRoutes, type MonitorView } from './routes/monitors.js';
import { Scheduler, type Schedule } from './scheduler.js';
import { MonitorStateStore } from './state-store.js';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const QUIET_PATHS = new Set(['/metrics', '/livez', '/readyz']);

/** How long shutdown lets alerts and activation requests in flight finish before cancelling them (within runService's 10s). */
const EFFECTS_GRACE_MS = 5_000;

export interface WatchdogOptions {
  config: WatchdogConfig;
  logger: Logger;
  /** The clock the decision core is given (tests move it). */
  now?: () => number;
  /** Replaces the HTTP probe (tests). */
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

  // One pool for every probe: bounded connections per target, kept alive between probes.
  const agent = new Agent({ connections: 4, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  const probe = options.probe ?? httpProbe(agent);
  const notify = options.notify ?? alertDispatcher(config, logger, registry, closers);
  const requestActivation = activationClient(config, options, agent, logger, now, closers);

  const store = new MonitorStateStore(config.dataDir);
  const stored = store.load(config.monitors.map((m) => m.name));
  const entries = config.monitors.map((monitorConfig) => {
    const state = stored.get(monitorConfig.name) ?? INITIAL_STATE;
    metrics.addMonitor(monitorConfig.name, state);
    const monitor = new Monitor({
      config: monitorConfig,
      state,
      probe,
      notify,
      ...(monitorConfig.activate && requestActivation && { requestActivation }),
      ...(config.voter && { voterId: config.voter.id }),
      saveState: (name, s) => store.save(name, s),
      metrics,
      logger,
      now,
    });
    const scheduler = new Scheduler({
      schedule: scheduleOf(monitorConfig),
      run: () => monitor.cycle(),
      onSkip: () => metrics.observeSkip(monitor.name),
      onLag: (ms) => metrics.observeLag(monitor.name, ms),
      onError: (err) => logger.error({ err, monitor: monitor.name }, 'probe cycle failed'),
      logger: logger.child({ monitor: monitor.name }),
    });
    return { config: monitorConfig, monitor, scheduler };
  });

  let notReadyBecause: string | undefined = 'starting';
  await app.register(healthRoutes, { notReadyBecause: () => notReadyBecause });
  await app.register(metricsRoutes, { registry });
  await app.register(monitorRoutes, { list: () => entries.map(view) });

  app.addHook('onReady', (done) => {
    if (entries.length > 0 && config.alerts.webhooks.length === 0 && !options.notify) {
      logger.warn('no alert receivers configured (alerts.webhooks): incidents will only be logged');
    }
    for (const { scheduler } of entries) scheduler.start();
    notReadyBecause = undefined;
    logger.info({ monitors: entries.map((e) => e.config.name) }, 'watchdog started');
    done();
  });

  app.addHook('preClose', (done) => {
    notReadyBecause = 'shutting down';
    done();
  });

  app.addHook('onClose', async () => {
    for (const { monitor } of entries) monitor.stop();
    await Promise.all(entries.map((e) => e.scheduler.close()));
    // Alerts and activation requests already under way get a bounded grace period, then are cancelled.
    const settled = Promise.all(entries.map((e) => e.monitor.settle()));
    await finishesWithin(settled, EFFECTS_GRACE_MS);
    await Promise.all(closers.map((close) => close()));
    await settled;
    await agent.close();
  });
};

/** Builds the Fastify application around the watchdog plugin. */
export async function buildApp(options: WatchdogOptions) {
  const app = Fastify({
    loggerInstance: options.logger,
    // Scrapes and orchestrator probes every few seconds would drown the log.
    logController: new LogController({ disableRequestLogging: (request) => QUIET_PATHS.has(request.url) }),
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
  if (m.interval !== undefined) return { everyMs: m.interval };
  if (m.cron !== undefined) return { cron: m.cron };
  throw new Error(`monitor ${m.name} has neither interval nor cron`); // the config schema rules this out
}

function view({ config, monitor, scheduler }: { config: MonitorConfig; monitor: Monitor; scheduler: Scheduler }): MonitorView {
  const state = monitor.current;
  return {
    name: config.name,
    url: redactUrl(config.url),
    schedule: config.interval !== undefined ? `every ${formatDuration(config.interval)}` : `cron ${config.cron ?? ''}`,
    state: state.status,
    consecutiveFailures: state.consecutiveFailures,
    consecutiveSuccesses: state.consecutiveSuccesses,
    ...(state.lastChange !== undefined && { lastChange: state.lastChange }),
    lastResult: monitor.lastResult ?? null,
    incident: state.incident ?? null,
    ...(config.activate && { activationTarget: config.activate.target }),
    skippedTicks: scheduler.skippedTicks,
  };
}

/** Alerts go to every configured webhook through the alerting package (signed, retried). */
function alertDispatcher(config: WatchdogConfig, logger: Logger, registry: ReturnType<typeof createRegistry>, closers: (() => Promise<void>)[]): Notify {
  const dispatcher = new AlertDispatcher({
    notifiers: config.alerts.webhooks.map((webhook) => createNotifier({ type: 'webhook', ...webhook })),
    logger,
    registry,
    // Deliveries already had the watchdog's grace period when this is closed.
    closeTimeoutMs: 250,
  });
  closers.push(() => dispatcher.close());
  return async (alert) => {
    await dispatcher.send(alert);
  };
}

function activationClient(
  config: WatchdogConfig,
  options: WatchdogOptions,
  agent: Agent,
  logger: Logger,
  now: () => number,
  closers: (() => Promise<void>)[],
): RequestActivation | undefined {
  if (!config.voter) return undefined;
  const client = new ActivationClient({
    url: config.activation.url,
    timeoutMs: config.activation.timeout,
    retries: config.activation.retries,
    voter: config.voter,
    logger,
    dispatcher: agent,
    ...(options.activationBackoff && { backoff: options.activationBackoff }),
    now,
  });
  closers.push(() => {
    client.close();
    return Promise.resolve();
  });
  return (request) => client.request(request);
}
