import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Activation } from '@vigil/core';
import type { Activations, OperatorResult } from '../activations.js';
import type { OperatorConfig } from '../config.js';
import { DrillKind, DrillReport } from '../drill.js';
import type { ActivationMetrics } from '../metrics.js';
import type { FailureLimiter } from './auth-limiter.js';
import { ErrorBody } from './errors.js';

/** Operator requests carry a short comment at most. */
export const MAX_OPERATOR_BODY_BYTES = 4 * 1024;

export interface OperatorRoutesOptions {
  activations: Activations;
  operators: readonly OperatorConfig[];
  metrics: ActivationMetrics;
  limiter: FailureLimiter;
}

/** Why the operator acts; recorded in the audit log with the operator's name. `comment` is its older alias (`reason` wins). */
const reasonFields = {
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
  comment: Type.Optional(Type.String({ maxLength: 1000 })),
};
const Comment = Type.Object(reasonFields, { additionalProperties: false });
const FailbackBody = Type.Object({ target: Type.String({ minLength: 1, maxLength: 200 }), ...reasonFields }, { additionalProperties: false });
const DrillBody = Type.Object(
  { target: Type.String({ minLength: 1, maxLength: 200 }), kind: Type.Optional(DrillKind), reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);
const reasonOf = (body: { reason?: string | undefined; comment?: string | undefined } | undefined) => body?.reason ?? body?.comment;
const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The operator API: approve, cancel, fail back. Bearer tokens of their own (never a voter's
 * secret), compared in constant time; failed attempts are throttled per client address.
 */
export const operatorRoutes: FastifyPluginCallbackTypebox<OperatorRoutesOptions> = (app, options, done) => {
  const { activations, operators, metrics } = options;
  const tokens = operators.map((o) => ({ name: o.name, digest: digest(o.token) }));
  const { limiter } = options;

  const authenticated = new WeakMap<FastifyRequest, string>();
  const operatorOf = (request: FastifyRequest): string => authenticated.get(request) ?? 'unknown';

  // Before the body is even parsed: an unauthenticated caller learns nothing from validation errors.
  app.addHook('onRequest', async (request, reply) => {
    const retryAfter = limiter.blockedFor(request.ip);
    if (retryAfter > 0) {
      metrics.operatorAuthFailures.inc();
      return reply.code(429).header('retry-after', String(retryAfter)).send({ error: 'too-many-attempts', message: `too many failed authentications; retry in ${retryAfter}s` });
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    // Comparing digests keeps the comparison constant-time whatever the offered length; every token is compared.
    const offered = digest(match?.[1] ?? '');
    let name: string | undefined;
    for (const token of tokens) if (timingSafeEqual(offered, token.digest) && match) name = token.name;
    if (name !== undefined) {
      authenticated.set(request, name);
      return;
    }
    limiter.fail(request.ip);
    metrics.operatorAuthFailures.inc();
    request.log.warn({ ip: request.ip, url: request.url }, 'operator request refused: missing or unknown bearer token');
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="vigil-activation"')
      .send({ error: match ? 'bad-token' : 'missing-token', message: 'an operator bearer token is required (authorization: Bearer <token>)' });
  });

  const answer = (reply: FastifyReply, result: OperatorResult, okStatus: 200 | 202) => {
    switch (result.kind) {
      case 'ok':
        return reply.code(okStatus).send(result.activation);
      case 'unknown-activation':
        return reply.code(404).send({ error: 'unknown-activation', message: 'no such activation' });
      case 'unknown-target':
        return reply.code(404).send({ error: 'unknown-target', message: 'not a configured target' });
      case 'closing':
        return reply.code(503).send({ error: 'shutting-down', message: 'the service is shutting down' });
      case 'conflict':
        return reply.code(409).send({ error: result.error, message: result.message });
    }
  };

  const routeOptions = {
    bodyLimit: MAX_OPERATOR_BODY_BYTES,
    schema: { params: Type.Object({ id: Type.String() }), body: Type.Optional(Comment), response: { 200: Activation, '4xx': ErrorBody, 503: ErrorBody } },
  };
  // Who the token belongs to: lets a console or a script check a token without acting.
  app.get('/v1/operator', { schema: { response: { 200: Type.Object({ operator: Type.String() }), '4xx': ErrorBody } } }, (request, reply) => {
    void reply.send({ operator: operatorOf(request) });
  });
  app.post('/v1/activations/:id/approve', routeOptions, async (request, reply) => {
    return answer(reply, await activations.approve(request.params.id, operatorOf(request), reasonOf(request.body)), 200);
  });
  app.post('/v1/activations/:id/cancel', routeOptions, async (request, reply) => {
    return answer(reply, await activations.cancel(request.params.id, operatorOf(request), reasonOf(request.body)), 200);
  });
  app.post(
    '/v1/failbacks',
    { bodyLimit: MAX_OPERATOR_BODY_BYTES, schema: { body: FailbackBody, response: { 202: Activation, '4xx': ErrorBody, 503: ErrorBody } } },
    async (request, reply) => {
      return answer(reply, await activations.failback(request.body.target, operatorOf(request), reasonOf(request.body)), 202);
    },
  );
  app.post(
    '/v1/drills',
    { bodyLimit: MAX_OPERATOR_BODY_BYTES, schema: { body: DrillBody, response: { 200: DrillReport, '4xx': ErrorBody, 503: ErrorBody } } },
    async (request, reply) => {
      const { target, kind = 'failover', reason } = request.body;
      const operator = operatorOf(request);
      const result = await activations.drill(target, kind, operator, reason);
      if (result.kind === 'ok') {
        request.log.info({ target, kind, operator, reason, drillId: result.report.id }, 'drill: evaluated without running any step');
        return reply.code(200).send(result.report);
      }
      return answer(reply, result, 200);
    },
  );
  done();
};
