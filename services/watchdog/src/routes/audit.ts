import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { parseDuration, Type } from '@vigil/core';
import { AUDIT_QUERY_MAX, AuditRecord, type AuditQuery } from '../audit.js';

const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() });

const Query = Type.Object({
  monitor: Type.Optional(Type.String({ maxLength: 200 })),
  since: Type.Optional(Type.String({ maxLength: 50, description: 'an ISO time, or a duration back from now such as "24h"' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_QUERY_MAX, default: AUDIT_QUERY_MAX })),
});

export const AuditList = Type.Object({ records: Type.Array(AuditRecord) });

/** `GET /v1/audit`: operator actions (pause, resume) and pause expiries, newest last, at most 1,000. Public, like the other reads. */
export const auditRoutes: FastifyPluginCallbackTypebox<{ query: (q: AuditQuery) => AuditRecord[]; now: () => number }> = (app, options, done) => {
  app.get('/v1/audit', { schema: { querystring: Query, response: { 200: AuditList, 400: ErrorBody } } }, async (request, reply) => {
    const { monitor, since, limit } = request.query;
    let sinceMs: number | undefined;
    if (since !== undefined) {
      const back = parseDuration(since);
      sinceMs = back !== undefined ? options.now() - back : Date.parse(since);
      if (Number.isNaN(sinceMs)) {
        return reply.code(400).send({ error: 'bad-since', message: `\`since\` must be an ISO time such as "2026-11-22T10:00:00Z" or a duration such as "24h"; got ${JSON.stringify(since)}` });
      }
    }
    return reply.send({ records: options.query({ monitor, sinceMs, limit }) });
  });
  done();
};
