import Type, { type Static } from 'typebox';
import { formatPath } from '@vigil/core';

/**
 * Every error this service answers with: the shared `{error, message}` shape, plus the
 * activation that holds the target when the error is `already-active`.
 */
export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  activationId: Type.Optional(Type.String()),
  epoch: Type.Optional(Type.Integer()),
});
export type ErrorBody = Static<typeof ErrorBody>;

interface SchemaError {
  keyword: string;
  instancePath: string;
  message: string;
  params: unknown;
}

function pathParts(pointer: string): string[] {
  return pointer
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** "incident.consecutiveFailures: must be >= 1; voter: is required" — each problem names its field. */
export function describeSchemaErrors(errors: readonly SchemaError[], limit = 5): string {
  const lines = new Set<string>();
  for (const error of errors) {
    const parts = pathParts(error.instancePath);
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'boolean') continue; // repeats an additionalProperties rejection
    if (error.keyword === 'required') {
      for (const key of (params.requiredProperties as string[] | undefined) ?? []) lines.add(`${formatPath([...parts, key])}: is required`);
    } else if (error.keyword === 'additionalProperties') {
      for (const key of (params.additionalProperties as string[] | undefined) ?? []) lines.add(`${formatPath([...parts, key])}: is not a known field`);
    } else {
      lines.add(`${formatPath(parts)}: ${error.message}`);
    }
  }
  return [...lines].slice(0, limit).join('; ');
}
