import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { formatDuration, parseDuration, Type } from '@vigil/core';
import type { AuditRecord } from '../audit.js';
import type { Pause } from '../maintenance.js';

/** The operator `api.token` stands for when the request names none. */
export const SHARED_TOKEN_OPERATOR = 'api';
/** The longest pause `for` accepts. */
export const MAX_PAUSE_MS = 365 * 86_400_000;

export interface ApiAccess {
  /** The shared token: operator "api", or the name the request gives. */
  token?: string | undefined;
  /** Named operators: the name is theirs whatever the request says. */
  operators?: readonly { name: string; token: string }[] | undefined;
}

export interface PauseRoutesOptions {
  /** Without any token the routes answer 404 (the API is off). */
  access: ApiAccess | undefined;
  exists: (monitor: string) => boolean;
  pause: (monitor: string, pause: Pause) => Promise<void>;
  resume: (monitor: string) => Promise<boolean>;
  audit: (record: AuditRecord) => Promise<void>;
  now: () => number;
}

const Params = Type.Object({ name: Type.String() });
const Reason = Type.String({ maxLength: 1000, description: 'why; recorded in the audit log' });
const OperatorName = Type.String({ minLength: 1, maxLength: 100, description: 'who; used only with the shared api.token' });
const PauseBody = Type.Union([
  Type.Object(
    {
      reason: Type.Optional(Reason),
      for: Type.Optional(Type.String({ maxLength: 50, description: 'a duration such as "30m": the pause ends by itself then' })),
      operator: Type.Optional(OperatorName),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
const ResumeBody = Type.Union([Type.Object({ reason: Type.Optional(Reason), operator: Type.Optional(OperatorName) }, { additionalProperties: false }), Type.Null()]);

/** Constant-time comparison: hashing first makes the lengths equal, so nothing leaks through timing. */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Who a bearer token belongs to: `{ operator: name }` for a named operator, `{ operator: undefined }`
 * for the shared token, undefined for no match. Every token is compared (constant time each), so
 * the time taken does not tell which one matched or how far down the list it is.
 */
export function operatorOf(given: string, access: ApiAccess): { operator: string | undefined } | undefined {
  let found: { operator: string | undefined } | undefined;
  for (const o of access.operators ?? []) {
    if (tokenMatches(given, o.token) && found === undefined) found = { operator: o.name };
  }
  if (access.token !== undefined && tokenMatches(given, access.token) && found === undefined) found = { operator: undefined };
  return found;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator the bearer token names (undefined: the shared token, which names none). */
    vigilOperator?: { operator: string | undefined };
  }
}

/** Pause and resume a monitor (state `maintenance`: no alerts, no activation). Bearer-authenticated; every action audited. */
export const pauseRoutes: FastifyPluginCallbackTypebox<PauseRoutesOptions> = (app, options, done) => {
  const { access } = options;
  const enabled = access !== undefined && (access.token !== undefined || (access.operators?.length ?? 0) > 0);
  app.addHook('onRequest', async (request, reply) => {
    if (!enabled) return reply.code(404).send({ error: 'api-disabled', message: 'set api.token or api.operators in the configuration to enable pause and resume' });
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    const who = operatorOf(given, access);
    if (!who) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid bearer token is required' });
    request.vigilOperator = who;
    return undefined;
  });

  /** A named operator's token wins over the body; the shared token takes the body's name, else "api". */
  const operatorFor = (named: { operator: string | undefined } | undefined, fromBody: string | undefined) =>
    named?.operator ?? fromBody ?? SHARED_TOKEN_OPERATOR;

  app.post('/v1/monitors/:name/pause', { schema: { params: Params, body: Type.Optional(PauseBody) } }, async (request, reply) => {
    const { name } = request.params;
    if (!options.exists(name)) return reply.code(404).send({ error: 'unknown-monitor', message: `no monitor named ${name}` });
    const body = request.body ?? {};
    let forMs: number | undefined;
    if (body.for !== undefined) {
      forMs = parseDuration(body.for);
      if (forMs === undefined || forMs <= 0 || forMs > MAX_PAUSE_MS) {
        return reply.code(400).send({
          error: 'bad-duration',
          message: `\`for\` must be a duration above zero and at most ${formatDuration(MAX_PAUSE_MS)}, such as "30m", "2h" or "1h30m"; got ${JSON.stringify(body.for)}`,
        });
      }
    }
    const now = options.now();
    const operator = operatorFor(request.vigilOperator, body.operator);
    const pause: Pause = {
      since: new Date(now).toISOString(),
      ...(forMs !== undefined && { until: new Date(now + forMs).toISOString() }),
      ...(body.reason !== undefined && { reason: body.reason }),
      operator,
    };
    await options.pause(name, pause);
    await options.audit({
      time: pause.since,
      event: 'paused',
      monitor: name,
      operator,
      ...(pause.reason !== undefined && { reason: pause.reason }),
      ...(pause.until !== undefined && { until: pause.until }),
    });
    request.log.warn({ monitor: name, operator, reason: pause.reason, until: pause.until }, pause.until ? 'monitor paused: no alerts or activation until then' : 'monitor paused: no alerts or activation until resumed');
    return reply.send({ monitor: name, paused: true, pause });
  });

  app.post('/v1/monitors/:name/resume', { schema: { params: Params, body: Type.Optional(ResumeBody) } }, async (request, reply) => {
    const { name } = request.params;
    if (!options.exists(name)) return reply.code(404).send({ error: 'unknown-monitor', message: `no monitor named ${name}` });
    const body = request.body ?? {};
    const operator = operatorFor(request.vigilOperator, body.operator);
    const wasPaused = await options.resume(name);
    await options.audit({
      time: new Date(options.now()).toISOString(),
      event: 'resumed',
      monitor: name,
      operator,
      ...(body.reason !== undefined && { reason: body.reason }),
    });
    request.log.info({ monitor: name, operator, reason: body.reason, wasPaused }, 'monitor resumed');
    return reply.send({ monitor: name, paused: false, wasPaused });
  });
  done();
};
