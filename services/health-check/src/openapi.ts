import type { RouteOptions } from 'fastify';

/** What a route's schema does not say: a summary, and which media type each answer has. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** Media type of the responses; default application/json. */
  produces?: string;
  /** Responses without a schema (e.g. Prometheus text). */
  responses?: Record<string, string>;
  /** The route takes the details bearer token. */
  bearer?: boolean;
}

interface RouteSchema {
  response?: Record<string, unknown>;
}

/**
 * An OpenAPI 3.1 description of the routes, generated from the schemas they were registered with
 * (collected by an onRoute hook), so that it cannot drift from what the service validates and serialises.
 */
export function openApiDocument(info: { title: string; version: string }, routes: readonly RouteOptions[], docs: Record<string, RouteDoc>): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    for (const method of methods) {
      const doc = docs[`${method} ${route.url}`];
      if (!doc) continue;
      const schema = (route.schema ?? {}) as RouteSchema;
      const produces = doc.produces ?? 'application/json';
      const responses: Record<string, unknown> = {};
      for (const [code, body] of Object.entries(schema.response ?? {})) {
        responses[code] = { description: describeStatus(code), content: { [produces]: { schema: plain(body) } } };
      }
      for (const [code, description] of Object.entries(doc.responses ?? {})) {
        responses[code] = { description, content: { [produces]: { schema: { type: 'string' } } } };
      }
      paths[route.url] ??= {};
      paths[route.url]![method.toLowerCase()] = {
        summary: doc.summary,
        ...(doc.description ? { description: doc.description } : {}),
        ...(doc.bearer ? { security: [{}, { bearer: [] }] } : {}),
        responses,
      };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the configured details.token' } } },
  };
}

/** A TypeBox schema as plain JSON Schema (without TypeBox's symbol-keyed metadata). */
function plain(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema)) as unknown;
}

function describeStatus(code: string): string {
  return { '200': 'OK', '503': 'Service Unavailable' }[code] ?? code;
}
