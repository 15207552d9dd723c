import Type, { type StaticDecode } from 'typebox';
import { httpStep, HttpStepConfig } from './http.js';
import type { StepKind } from './step.js';

export type { AttemptOutcome, StepKind } from './step.js';

/**
 * Every step kind a plan may use. A new kind is one file, one member here and one line in
 * `stepKinds`; the `satisfies` below fails to compile until all three agree.
 */
export const PlanStep = Type.Union([HttpStepConfig]);
export type PlanStep = StaticDecode<typeof PlanStep>;
export type StepKindName = PlanStep['kind'];

export const stepKinds = {
  http: httpStep,
} satisfies { [K in StepKindName]: StepKind<Extract<PlanStep, { kind: K }>> };

/** The implementation for a step, typed for that step's own settings. */
export function stepKindOf<S extends PlanStep>(step: S): StepKind<S> {
  // A correlated union cannot be narrowed through an index access (with two kinds or more the
  // cast is required); `satisfies` above guarantees the pairing.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return stepKinds[step.kind] as unknown as StepKind<S>;
}
