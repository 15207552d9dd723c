import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import Value from 'typebox/value';
import { Activation, ActivationRequest, VoteReceipt, verify } from '@vigil/core';
import type { Activations } from '../activations.js';
import type { ActivationMetrics } from '../metrics.js';
import type { FailureLimiter } from './auth-limiter.js';
import { describeSchemaErrors, ErrorBody } from './errors.js';

/** Requests are small (a target, a voter, an incident and a few probe results). */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const ACTIVATIONS_PATH = '/v1/activations';

export interface ActivationRoutesOptions {
  activations: Activations;
  voters: readonly { id: string; secret: string }[];
  toleranceMs: number;
  now: () => number;
  metrics: ActivationMetrics;
  /** Shared with the operator API: failed authentications per client address. */
  limiter: FailureLimiter;
}

const ActivationList = Type.Object({ activations: Type.Array(Activation) });
/** The audit log's records of one activation, oldest first: `{time, activationId, target, epoch, event, …}`. */
const AuditList = Type.Object({ records: Type.Array(Type.Record(Type.String(), Type.Unknown())) });

export const activationRoutes: FastifyPluginCallbackTypebox<ActivationRoutesOptions> = (app, options, done) => {
  const { activations, voters, metrics } = options;
  const secrets = voters.map((v) => v.secret);
  const toleranceSeconds = Math.floor(options.toleranceMs / 1000);

  // The signature covers the exact bytes sent, so this route keeps the raw text and parses it
  // only once it is authenticated. Scoped to this plugin; other routes are unaffected.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_REQUEST_BYTES }, (_request, body, done) => done(null, body));

  // Before the body is read: an address that keeps failing authentication is turned away cheaply.
  app.addHook('onRequest', async (request, reply) => {
    const retryAfter = request.method === 'POST' ? options.limiter.blockedFor(request.ip) : 0;
    if (retryAfter === 0) return;
    metrics.rejected.inc({ reason: 'too-many-attempts' });
    return reply.code(429).header('retry-after', String(retryAfter)).send({ error: 'too-many-attempts', message: `too many failed authentications; retry in ${retryAfter}s` });
  });

  const refuse = (reply: FastifyReply, status: 400 | 401 | 404 | 409 | 503, body: ErrorBody) => {
    // A replay carries a valid signature; every other 401 is a failed authentication.
    if (status === 401 && body.error !== 'replayed') options.limiter.fail(reply.request.ip);
    metrics.rejected.inc({ reason: body.error });
    reply.log.warn({ requestId: reply.request.headers['webhook-id'], status, reason: body.error }, `activation request refused: ${body.message}`);
    return reply.code(status).send(body);
  };

  app.post(
    ACTIVATIONS_PATH,
    {
      bodyLimit: MAX_REQUEST_BYTES,
      schema: {
        response: { 200: Activation, 202: Type.Union([Activation, VoteReceipt]), '4xx': ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      const verified = verify({ secrets, headers: request.headers, body: raw, nowMs: options.now(), toleranceSeconds });
      if (!verified.ok) return refuse(reply, 401, { error: verified.reason, message: verified.message });

      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return refuse(reply, 400, { error: 'invalid-json', message: 'the body is not valid JSON' });
      }
      if (!Value.Check(ActivationRequest, body)) {
        return refuse(reply, 400, { error: 'invalid-request', message: describeSchemaErrors(Value.Errors(ActivationRequest, body)) });
      }
      // The body is authentic only for the voter whose secret signed it.
      const signer = voters[verified.secretIndex];
      if (signer?.id !== body.voter) {
        const known = voters.some((v) => v.id === body.voter);
        return known
          ? refuse(reply, 401, { error: 'bad-signature', message: `the request is not signed with the secret of voter "${body.voter}"` })
          : refuse(reply, 401, { error: 'unknown-voter', message: `"${body.voter}" is not a configured voter` });
      }

      const result = await activations.submit({ requestId: verified.id, signature: verified.signature, rawBody: raw, body });
      switch (result.kind) {
        case 'created':
          return reply.code(202).send(result.activation);
        case 'existing':
          return reply.code(200).send(result.activation);
        case 'vote-recorded':
          return reply.code(202).send({ status: 'vote-recorded', target: body.target, votes: result.votes, quorum: result.quorum });
        case 'already-active':
          return refuse(reply, 409, {
            error: 'already-active',
            message: `target "${body.target}" is already held by activation ${result.activationId} (epoch ${result.epoch}) until a failback`,
            activationId: result.activationId,
            epoch: result.epoch,
          });
        case 'replayed':
          return refuse(reply, 401, { error: 'replayed', message: `message ${verified.id} was already received with this signature` });
        case 'conflict':
          return refuse(reply, 409, { error: 'conflict', message: `webhook-id ${verified.id} was already used for a different request` });
        case 'unknown-target':
          return refuse(reply, 404, { error: 'unknown-target', message: `"${body.target}" is not a configured target` });
        case 'closing':
          return refuse(reply, 503, { error: 'shutting-down', message: 'the service is shutting down; retry against another replica or later' });
      }
    },
  );

  app.get(
    `${ACTIVATIONS_PATH}/:id`,
    { schema: { params: Type.Object({ id: Type.String() }), response: { 200: Activation, 404: ErrorBody } } },
    async (request, reply) => {
      const activation = await activations.get(request.params.id);
      if (activation) return activation;
      reply.code(404);
      return { error: 'unknown-activation', message: `no activation ${request.params.id}` };
    },
  );

  app.get(
    `${ACTIVATIONS_PATH}/:id/audit`,
    { schema: { params: Type.Object({ id: Type.String() }), response: { 200: AuditList, 404: ErrorBody } } },
    async (request, reply) => {
      if (await activations.get(request.params.id)) return { records: await activations.audit(request.params.id) };
      // A drill has no activation, only its audit record.
      if (request.params.id.startsWith('drill_')) {
        const records = await activations.audit(request.params.id);
        if (records.length > 0) return { records };
      }
      reply.code(404);
      return { error: 'unknown-activation', message: `no activation ${request.params.id}` };
    },
  );

  app.get(
    ACTIVATIONS_PATH,
    { schema: { querystring: Type.Object({ target: Type.Optional(Type.String({ minLength: 1 })) }), response: { 200: ActivationList } } },
    async (request) => ({ activations: await activations.list(request.query.target) }),
  );
  done();
};
