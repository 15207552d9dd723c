import Type, { type StaticDecode } from 'typebox';
import { Duration } from '@vigil/core';
import { stepBaseProperties, type StepKind } from './step.js';

export const NotifyStepConfig = Type.Object(
  {
    ...stepBaseProperties,
    timeout: Duration({ default: '30s', description: 'limit for delivering to the channels, their retries included' }),
    // A page that cannot be delivered should not keep the standby from serving.
    onFailure: Type.Union([Type.Literal('abort'), Type.Literal('continue')], { default: 'continue' }),
    kind: Type.Literal('notify'),
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { default: 'warning' }),
    message: Type.String({ minLength: 1, maxLength: 2000, description: 'what the alert says; target, epoch and activation are added' }),
  },
  { additionalProperties: false },
);
export type NotifyStepConfig = StaticDecode<typeof NotifyStepConfig>;

/** Sends an alert through the alerting channels of the activation configuration. */
export const notifyStep: StepKind<NotifyStepConfig> = {
  kind: 'notify',
  async attempt(step, _signal, context) {
    const { delivered, output } = await context.notify({
      severity: step.severity,
      summary: `${context.target}: ${step.message} (${context.kind} ${context.activationId}, epoch ${context.epoch})`,
    });
    return { ok: delivered, retryable: true, output };
  },
};
