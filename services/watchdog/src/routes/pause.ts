import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@vigil/core';
import type { Pause } from '../maintenance.js';

export interface PauseRoutesOptions {
  /** Bearer token; without one the routes answer 404 (the API is off). */
  token: string | undefined;
  exists: (monitor: string) => boolean;
  pause: (monitor: string, pause: Pause) => Promise<void>;
  resume: (monitor: string) => Promise<boolean>;
  now: () => number;
}

const Params = Type.Object({ name: Type.String() });
const Body = Type.Union([Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }), Type.Null()]);

/** Constant-time comparison: hashing first makes the lengths equal, so nothing leaks through timing. */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Pause and resume a monitor (state `maintenance`: no alerts, no activation). Bearer-authenticated. */
export const pauseRoutes: FastifyPluginCallbackTypebox<PauseRoutesOptions> = (app, options, done) => {
  app.addHook('onRequest', async (request, reply) => {
    if (options.token === undefined) return reply.code(404).send({ error: 'api-disabled', message: 'set api.token in the configuration to enable pause and resume' });
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!tokenMatches(given, options.token)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid bearer token is required' });
    return undefined;
  });

  app.post('/v1/monitors/:name/pause', { schema: { params: Params, body: Type.Optional(Body) } }, async (request, reply) => {
    const { name } = request.params;
    if (!options.exists(name)) return reply.code(404).send({ error: 'unknown-monitor', message: `no monitor named ${name}` });
    const reason = request.body?.reason;
    await options.pause(name, { since: new Date(options.now()).toISOString(), ...(reason !== undefined && { reason }) });
    request.log.warn({ monitor: name, reason }, 'monitor paused: no alerts or activation until resumed');
    return reply.send({ monitor: name, paused: true });
  });

  app.post('/v1/monitors/:name/resume', { schema: { params: Params } }, async (request, reply) => {
    const { name } = request.params;
    if (!options.exists(name)) return reply.code(404).send({ error: 'unknown-monitor', message: `no monitor named ${name}` });
    const wasPaused = await options.resume(name);
    request.log.info({ monitor: name, wasPaused }, 'monitor resumed');
    return reply.send({ monitor: name, paused: false });
  });
  done();
};
