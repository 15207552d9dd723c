import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { HealthStatus, Type, type Static } from '@vigil/core';
import { Incident, MonitorStatus } from '../decision.js';

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
  paused: Type.Optional(Type.Object({ since: Type.String(), reason: Type.Optional(Type.String()) })),
  /** since when failed probes have been inconclusive (a majority of control targets unreachable) */
  isolatedSince: Type.Optional(Type.String()),
});
export type MonitorView = Static<typeof MonitorView>;

export const MonitorList = Type.Object({ monitors: Type.Array(MonitorView) });
export type MonitorList = Static<typeof MonitorList>;

export const monitorRoutes: FastifyPluginCallbackTypebox<{ list: () => MonitorView[] }> = (app, { list }, done) => {
  app.get('/v1/monitors', { schema: { response: { 200: MonitorList } } }, () => ({ monitors: list() }));
  done();
};
