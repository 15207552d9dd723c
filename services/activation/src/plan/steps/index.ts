import Type, { type StaticDecode } from 'typebox';
import { fenceStep, FenceStepConfig } from './fence.js';
import { httpStep, HttpStepConfig } from './http.js';
import { notifyStep, NotifyStepConfig } from './notify.js';
import { waitHealthyStep, WaitHealthyStepConfig } from './wait-healthy.js';
import type { StepKind } from './step.js';

export type { AttemptOutcome, StepContext, StepKind } from './step.js';

/**
 * Every step kind a plan may use. A new kind is one file, one member here and one line in
 * `stepKinds`; the `satisfies` below fails to compile until all three agree.
 */
export const PlanStep = Type.Union([HttpStepConfig, WaitHealthyStepConfig, FenceStepConfig, NotifyStepConfig]);
export type PlanStep = StaticDecode<typeof PlanStep>;
export type StepKindName = PlanStep['kind'];

export const stepKinds = {
  http: httpStep,
  'wait-healthy': waitHealthyStep,
  fence: fenceStep,
  notify: notifyStep,
} satisfies { [K in StepKindName]: StepKind<Extract<PlanStep, { kind: K }>> };

/** The implementation for a step, typed for that step's own settings. */
export function stepKindOf<S extends PlanStep>(step: S): StepKind<S> {
  // A correlated union cannot be narrowed through an index access; `satisfies` above guarantees the pairing.
  return stepKinds[step.kind] as unknown as StepKind<S>;
}
