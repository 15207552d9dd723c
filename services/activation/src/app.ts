import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import { NotLeaderError } from '@vigil/coordination';
import Fastify, { LogController, type FastifyError } from 'fastify';
import { AlertDispatcher, createNotifier } from '@vigil/alerting';
import type { Logger } from '@vigil/core';
import { Activations } from './activations.js';
import type { ActivationConfig } from './config.js';
import { consoleRoutes } from './console/routes.js';
import { watchReachability } from './coordination/alarm.js';
import { CoordinationUnavailable } from './coordination/coordination.js';
import { openCoordination } from './coordination/open.js';
import { Pager, type Send } from './pager.js';
import { createMetrics } from './metrics.js';
import { MonitorsFetcher } from './console-monitors.js';
import { activationStreamRoutes } from './routes/activation-stream.js';
import { activationRoutes, ACTIVATIONS_PATH } from './routes/activations.js';
import { activeRoutes } from './routes/active.js';
import { FailureLimiter } from './routes/auth-limiter.js';
import type { ErrorBody } from './routes/errors.js';
import { operatorRoutes } from './routes/operator.js';
import { opsRoutes } from './routes/ops.js';
import { streamRoutes } from './routes/stream.js';
import { consoleMonitorRoutes } from './routes/console-monitors.js';
import { targetRoutes } from './routes/targets.js';
import { VERSION } from './version.js';

export interface AppOptions {
  config: ActivationConfig;
  logger: Logger;
  /** Wall clock in ms; tests move it to check timestamp tolerance and recorded times. */
  now?: () => number;
  /** How long closing waits for a plan step in flight before abandoning it. */
  closeGraceMs?: number;
}

/** Known framework errors, answered in the service's `{error, message}` shape. */
function errorCode(error: FastifyError): string {
  if (error.validation) return 'invalid-request';
  switch (error.statusCode) {
    case 413:
      return 'body-too-large';
    case 415:
      return 'unsupported-media-type';
    default:
      return 'bad-request';
  }
}

/**
 * Builds the activation service: loads its state (marking plans cut short by a crash as
 * interrupted), then routes. Closing the app stops taking requests, lets a running plan step
 * finish (bounded) and flushes the state.
 */
export async function buildApp({ config, logger, now = Date.now, closeGraceMs = 5_000 }: AppOptions) {
  const coordination = await openCoordination(config, logger, now);
  const metrics = createMetrics(
    VERSION,
    config.targets.map((t) => t.name),
    (target) => coordination.knownTargetState(target) ?? { active: 'primary', epoch: 0 },
    { reachable: () => coordination.reachable(), leading: () => coordination.currentTerm() !== undefined },
  );
  const dispatcher = new AlertDispatcher({
    notifiers: config.alerts.webhooks.map((webhook) => createNotifier({ type: 'webhook', ...webhook })),
    logger,
    registry: metrics.registry,
    closeTimeoutMs: 2_000,
  });
  const send: Send = async ({ severity, summary, annotations, target, dedupKey }) => {
    if (config.alerts.webhooks.length === 0) return { delivered: false, output: 'no alert channels are configured' };
    const id = `page_${randomUUID()}`;
    const results = await dispatcher.send({
      id,
      dedupKey: dedupKey ?? id,
      monitor: target ?? 'activation',
      severity,
      status: 'firing',
      summary,
      startsAt: new Date(now()).toISOString(),
      labels: { service: 'vigil-activation', ...(target !== undefined && { target }) },
      annotations: annotations ?? {},
    });
    const delivered = results.filter((r) => r.delivered).map((r) => r.receiver);
    return { delivered: delivered.length > 0, output: delivered.length > 0 ? `delivered to ${delivered.join(', ')}` : `not delivered (${results.map((r) => `${r.receiver}: ${r.outcome}`).join(', ')})` };
  };
  const pager = new Pager({ send, coordination, logger, now, externalUrl: config.externalUrl ?? `http://${config.server.host}:${config.server.port}` });
  const activations = new Activations({
    pager,
    targets: config.targets,
    coordination,
    logger,
    metrics,
    now,
    closeGraceMs,
    reconcileIntervalMs: coordination.kind === 'etcd' ? config.coordination.ttl / 2 : 0,
    voters: config.voters.map((v) => v.id),
  });
  await activations.start();
  const stopAlarm = watchReachability({
    coordination,
    send: (alert) => (config.alerts.webhooks.length === 0 ? Promise.resolve() : dispatcher.send(alert)),
    logger,
    now,
    intervalMs: 1_000,
  });
  if (config.voters.length === 0) logger.warn('no voters are configured: every activation request will be refused');
  if (config.targets.length === 0) logger.warn('no targets are configured: there is nothing to activate');
  if (config.operators.length === 0) logger.warn('no operators are configured: nobody can approve, cancel or fail back through the API');

  const app = Fastify({
    loggerInstance: logger,
    // Clients poll /v1/active and Prometheus scrapes /metrics: log what changes things, not every read.
    logController: new LogController({ disableRequestLogging: (request) => request.method === 'GET' }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  app.setErrorHandler<FastifyError>((error, request, reply) => {
    if (error instanceof CoordinationUnavailable || error instanceof NotLeaderError) {
      request.log.warn({ err: error }, 'answered 503: the coordination store cannot be reached');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'coordination-unavailable', message: `this replica cannot reach ${coordination.kind} now; retry here or at another replica` } satisfies ErrorBody);
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send({ error: 'internal', message: 'internal error; see the service log' } satisfies ErrorBody);
    }
    const body: ErrorBody = { error: errorCode(error), message: error.message };
    if (request.method === 'POST' && request.routeOptions.url === ACTIVATIONS_PATH) metrics.rejected.inc({ reason: body.error });
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not-found', message: `no route for ${request.method} ${request.url}` } satisfies ErrorBody),
  );
  app.addHook('onClose', async () => {
    stopAlarm();
    await activations.close();
    await coordination.close();
    await dispatcher.close();
  });

  const limiter = new FailureLimiter(now);
  await app.register(opsRoutes, { registry: metrics.registry, isClosing: () => activations.closing });
  await app.register(activationRoutes, {
    activations,
    voters: config.voters,
    toleranceMs: config.signatureTolerance,
    now,
    metrics,
    limiter,
  });
  await app.register(activeRoutes, { activations });
  await app.register(streamRoutes, { activations });
  await app.register(operatorRoutes, { activations, operators: config.operators, metrics, limiter });
  await app.register(targetRoutes, { activations, now });
  await app.register(activationStreamRoutes, { activations });
  const fetcher = new MonitorsFetcher({ watchdogs: config.console.watchdogs, token: config.console.token, now });
  await app.register(consoleMonitorRoutes, { fetcher });
  await app.register(consoleRoutes, { targets: config.targets.map((t) => t.name), version: VERSION });
  return app;
}

export type ActivationApp = Awaited<ReturnType<typeof buildApp>>;
