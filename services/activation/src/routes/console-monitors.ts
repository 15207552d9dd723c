import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { ConsoleMonitors, type MonitorsFetcher } from '../console-monitors.js';

/**
 * `GET /console/monitors`: the monitors of every watchdog in `console.watchdogs`, fetched by this
 * service (timeout 2 s each, reused for 2 s); a watchdog that cannot be read is `ok: false` with
 * its error. Public, like the other reads.
 */
export const consoleMonitorRoutes: FastifyPluginCallbackTypebox<{ fetcher: MonitorsFetcher }> = (app, { fetcher }, done) => {
  app.get('/console/monitors', { schema: { response: { 200: ConsoleMonitors } } }, () => fetcher.get());
  done();
};
