import Type, { type StaticDecode } from 'typebox';
import { HttpUrl } from '@vigil/core';
import { callHttp, httpProblems, HttpMethod, StatusRange } from './http.js';
import { stepBaseProperties, type StepKind } from './step.js';

export const FENCE_EPOCH_HEADER = 'x-vigil-fencing-epoch';

export const FenceStepConfig = Type.Object(
  {
    ...stepBaseProperties,
    // Best effort by default: the primary side is usually unreachable when it matters.
    onFailure: Type.Union([Type.Literal('abort'), Type.Literal('continue')], { default: 'continue' }),
    kind: Type.Literal('fence'),
    method: HttpMethod,
    url: HttpUrl({ description: 'an endpoint of the primary side (or its storage) that stops taking writes older than the epoch' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    expectStatus: StatusRange,
  },
  { additionalProperties: false },
);
export type FenceStepConfig = StaticDecode<typeof FenceStepConfig>;

/**
 * Tells the primary side to stop taking writes. The body and a header carry the new fencing
 * epoch, so storage can refuse a writer that still holds an older one.
 */
export const fenceStep: StepKind<FenceStepConfig> = {
  kind: 'fence',
  attempt: (step, signal, context) =>
    callHttp(
      { ...step, body: { target: context.target, epoch: context.epoch, activationId: context.activationId, kind: context.kind } },
      signal,
      { [FENCE_EPOCH_HEADER]: String(context.epoch) },
    ),
  problems: (step) => httpProblems({ ...step, body: undefined }),
};
