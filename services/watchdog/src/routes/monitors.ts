import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { HealthStatus, parseDuration, Type, type Static } from '@vigil/core';
import { Incident, MonitorStatus } from '../decision.js';
import { BUCKET_MS, BUCKETS } from '../history.js';

export const MonitorView = Type.Object({
  name: Type.String(),
  kind: Type.String({ description: 'the probe kind: http, tcp or dns' }),
  /** what is probed: the URL (credentials masked) for http, host:port for tcp, the name resolved for dns */
  target: Type.String(),
  /** http monitors: the URL probed, credentials masked (the target) */
  url: Type.Optional(Type.String()),
  schedule: Type.String({ description: '"every 2s" or "cron */2 * * * * *"' }),
  state: MonitorStatus,
  consecutiveFailures: Type.Integer(),
  consecutiveSuccesses: Type.Integer(),
  lastChange: Type.Optional(Type.String()),
  lastResult: Type.Union([
    Type.Object({ status: HealthStatus, durationMs: Type.Number(), output: Type.Optional(Type.String()), time: Type.String() }),
    Type.Null(),
  ]),
  incident: Type.Union([Incident, Type.Null()]),
  activationTarget: Type.Optional(Type.String()),
  skippedTicks: Type.Integer(),
  /** in a maintenance window or paused: no alerts, no activation */
  inMaintenance: Type.Boolean(),
  paused: Type.Optional(
    Type.Object({ since: Type.String(), until: Type.Optional(Type.String()), reason: Type.Optional(Type.String()), operator: Type.Optional(Type.String()) }),
  ),
  /** when the last probe finished (since this process started) */
  lastProbeAt: Type.Optional(Type.String()),
  /** the schedule's step; for cron schedules the typical (median) gap between runs. Data older than 3 × this is stale. */
  intervalMs: Type.Number(),
  /** failed probes in a row that make an incident */
  failureThreshold: Type.Integer({ minimum: 1 }),
  /** one probe's limit */
  timeoutMs: Type.Number(),
  /**
   * worst case from the target failing to this watchdog asking for an activation (the longest
   * schedule step, then failureThreshold probes, the last one timing out), as its config check counts it
   */
  detectionMs: Type.Number(),
  /** with `?history=24h`: 15-minute buckets, oldest first; buckets without probes are absent */
  history: Type.Optional(
    Type.Object({
      bucketMs: Type.Number(),
      buckets: Type.Array(
        Type.Object({ start: Type.String(), up: Type.Integer(), down: Type.Integer(), maintenance: Type.Integer(), avgMs: Type.Optional(Type.Number()) }),
      ),
    }),
  ),
  /** since when failed probes have been inconclusive (a majority of control targets unreachable) */
  isolatedSince: Type.Optional(Type.String()),
});
export type MonitorView = Static<typeof MonitorView>;

export const MonitorList = Type.Object({ monitors: Type.Array(MonitorView) });
export type MonitorList = Static<typeof MonitorList>;

const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() });

const Query = Type.Object({ history: Type.Optional(Type.String({ description: 'a span up to 24h, such as "24h": include the history buckets' })) });

export const monitorRoutes: FastifyPluginCallbackTypebox<{ list: (historySpanMs: number | undefined) => MonitorView[] }> = (app, { list }, done) => {
  app.get('/v1/monitors', { schema: { querystring: Query, response: { 200: MonitorList, 400: ErrorBody } } }, async (request, reply) => {
    const { history } = request.query;
    let spanMs: number | undefined;
    if (history !== undefined) {
      spanMs = parseDuration(history);
      if (spanMs === undefined || spanMs <= 0 || spanMs > BUCKETS * BUCKET_MS) {
        return reply.code(400).send({ error: 'bad-duration', message: `\`history\` must be a duration above zero and at most 24h, such as "24h"; got ${JSON.stringify(history)}` });
      }
    }
    return reply.send({ monitors: list(spanMs) });
  });
  done();
};
