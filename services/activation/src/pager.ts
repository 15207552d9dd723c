import type { Activation, Logger } from '@vigil/core';
import type { Coordination } from './coordination/coordination.js';
import { auditBase, iso } from './lifecycle.js';
import type { StepContext } from './plan/steps/index.js';

/** Sends a page through the alerting channels; resolves with whether any receiver took it. Never rejects. */
export type Send = StepContext['notify'];

export interface PagerOptions {
  send: Send;
  coordination: Coordination;
  logger: Logger;
  now: () => number;
  /** Base URL quoted in pages for the approve and cancel commands. */
  externalUrl: string;
}

/** The last stage of the pipeline: pages humans about an activation and records that it did. */
export class Pager {
  constructor(private readonly options: PagerOptions) {}

  send: Send = (alert) => this.options.send(alert);

  /** Pages about an activation, with links (and the approve and cancel commands when `decidable`); recorded in the audit log. Never throws. */
  async page(activation: Activation, severity: 'warning' | 'critical', summary: string, decidable = false): Promise<void> {
    const base = this.options.externalUrl.replace(/\/$/, '');
    const command = (action: string) => `curl -X POST -H "authorization: Bearer $VIGIL_OPERATOR_TOKEN" ${base}/v1/activations/${activation.id}/${action}`;
    const annotations: Record<string, string> = {
      activation: `${base}/v1/activations/${activation.id}`,
      audit: `${base}/v1/activations/${activation.id}/audit`,
      ...(activation.dataLoss?.output !== undefined && { dataAtRisk: activation.dataLoss.output }),
      ...(decidable && { approve: command('approve'), cancel: command('cancel') }),
    };
    let delivered = false;
    try {
      delivered = (await this.options.send({ severity, summary, annotations, target: activation.target, dedupKey: activation.id })).delivered;
    } catch (err) {
      this.options.logger.error({ err, activationId: activation.id }, 'could not page');
    }
    await this.options.coordination
      .appendAudit({ ...auditBase(activation, iso(this.options.now())), event: 'page', summary, delivered })
      .catch((err: unknown) => this.options.logger.error({ err, activationId: activation.id }, 'could not record a page in the audit log'));
  }
}
