import { createHash, randomBytes } from 'node:crypto';
import type { Activation, ActivationRequest, ActiveSide, Logger, StepRecord } from '@vigil/core';
import type { TargetConfig } from './config.js';
import { decide } from './decide.js';
import type { ActivationMetrics } from './metrics.js';
import { runPlan, type PlanResult } from './plan/runner.js';
import type { PlanStep } from './plan/steps/index.js';
import type { ActivationStore, AuditRecord, RequestRecord } from './store.js';

/** A request whose signature has been verified and whose body matches the schema. */
export interface VerifiedRequest {
  requestId: string;
  signature: string;
  rawBody: string;
  body: ActivationRequest;
}

export type SubmitResult =
  | { kind: 'created'; activation: Activation }
  | { kind: 'existing'; activation: Activation }
  | { kind: 'already-active'; activationId: string; epoch: number }
  | { kind: 'replayed' }
  | { kind: 'conflict' }
  | { kind: 'unknown-target' }
  | { kind: 'closing' };

export interface ActivationsOptions {
  targets: readonly TargetConfig[];
  store: ActivationStore;
  logger: Logger;
  metrics: ActivationMetrics;
  now: () => number;
  /** How long `close()` lets the step in flight finish before abandoning it. */
  closeGraceMs: number;
  /** The signature tolerance: a delivery older than this is refused anyway, so replays need no longer memory. */
  toleranceMs: number;
}

/** Request ids that created nothing only guard against replays; a day covers any sender's retries. */
const IDLE_REQUEST_RETENTION_MS = 24 * 3_600_000;
/** Signature hashes kept per request id: each retry of one request is signed anew. */
const SIGNATURES_PER_REQUEST = 20;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Turns verified requests into activations, runs their plans in the background and keeps the
 * per-target side and fencing epoch. Every state change is persisted before it is acted on.
 */
export class Activations {
  private readonly plans: Map<string, readonly PlanStep[]>;
  private readonly stopping = new AbortController();
  private readonly abandoning = new AbortController();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: ActivationsOptions) {
    this.plans = new Map(options.targets.map((t) => [t.name, t.plan]));
  }

  get closing(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * An activation left `running` by a process that died mid-plan is marked interrupted and
   * never re-run: its steps may have half-happened, so an operator decides what comes next.
   * It keeps holding its target, so a repeated request does not run the plan a second time.
   */
  async recover(): Promise<void> {
    const { store, logger } = this.options;
    const left = store.activations().filter((a) => a.status === 'running');
    if (left.length === 0) return;
    const finishedAt = iso(this.options.now());
    for (const activation of left) {
      activation.steps = activation.steps.map((step) =>
        step.status === 'running' ? { ...step, status: 'failed', endedAt: finishedAt, output: 'the service stopped during this step; its effect is unknown' } : step,
      );
      activation.status = 'interrupted';
      activation.finishedAt = finishedAt;
      this.options.metrics.activations.inc({ target: activation.target, outcome: 'interrupted' });
      logger.error(
        { activationId: activation.id, target: activation.target, epoch: activation.epoch },
        'found an activation interrupted by a restart; it will not be re-run, the target stays held until an operator acts',
      );
    }
    await Promise.all([
      store.save(),
      ...left.map((a) => store.appendAudit({ ...this.auditBase(a, finishedAt), event: 'activation-finished', status: 'interrupted', reason: 'found running at start-up' })),
    ]);
  }

  get(id: string): Activation | undefined {
    return this.options.store.activation(id);
  }

  list(target?: string): Activation[] {
    return this.options.store.activations(target);
  }

  /** Which side of a configured target is active; undefined for an unknown target. */
  activeSide(target: string): ActiveSide | undefined {
    if (!this.plans.has(target)) return undefined;
    return { target, ...this.options.store.targetState(target) };
  }

  async submit(request: VerifiedRequest): Promise<SubmitResult> {
    if (this.closing) return { kind: 'closing' };
    const { store } = this.options;
    const target = request.body.target;
    const plan = this.plans.get(target);
    if (!plan) return { kind: 'unknown-target' };

    // Everything from here to the claim is synchronous: no other request can run in between,
    // so two concurrent requests can never both see the target free.
    const now = this.options.now();
    const signatureHash = sha256(request.signature);
    const bodyHash = sha256(request.rawBody);
    const previous = store.request(request.requestId);
    const decision = decide({ previous, signatureHash, bodyHash, target: store.targetState(target) });
    switch (decision.kind) {
      case 'replayed':
      case 'conflict':
        return decision;
      case 'retry': {
        const activation = store.activation(decision.activationId);
        if (!activation) throw new Error(`request ${request.requestId} refers to a missing activation ${decision.activationId}`);
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, decision.activationId);
        await store.save();
        return { kind: 'existing', activation };
      }
      case 'already-active':
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, undefined);
        await store.save();
        return decision;
      case 'activate': {
        const activation = this.claim(request, decision.epoch, now);
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, activation.id);
        try {
          // Durable before any step runs: after a crash the claim and its epoch are still there.
          await Promise.all([
            store.save(),
            store.appendAudit({
              ...this.auditBase(activation, activation.createdAt),
              event: 'activation-created',
              requestId: request.requestId,
              voter: request.body.voter,
              incidentId: request.body.incident.id,
            }),
          ]);
        } catch (err) {
          await this.finish(activation, 'failed', 'the activation could not be saved').catch(() => undefined);
          throw err;
        }
        this.options.logger.warn(
          { activationId: activation.id, target, epoch: activation.epoch, voter: request.body.voter, incidentId: request.body.incident.id },
          'activation started',
        );
        this.startPlan(activation, plan);
        return { kind: 'created', activation };
      }
    }
  }

  /**
   * Stops taking requests, lets the step in flight finish (abandoning it after the grace
   * period), records cut-short activations as interrupted and flushes the state.
   */
  async close(): Promise<void> {
    this.stopping.abort();
    const timer = setTimeout(() => this.abandoning.abort(), this.options.closeGraceMs);
    try {
      // A request that was past its `closing` check when close began may still start a plan.
      while (this.running.size > 0) await Promise.all(this.running);
    } finally {
      clearTimeout(timer);
    }
    await this.options.store.save();
  }

  private claim(request: VerifiedRequest, epoch: number, now: number): Activation {
    const { store } = this.options;
    const activation: Activation = {
      id: `act_${randomBytes(12).toString('base64url')}`,
      requestId: request.requestId,
      target: request.body.target,
      voter: request.body.voter,
      incidentId: request.body.incident.id,
      status: 'running',
      epoch,
      createdAt: iso(now),
      steps: [],
    };
    store.addActivation(activation);
    // The epoch moves now, not when the plan ends, so that a fence step can hand the new
    // epoch to storage before the standby serves. The active side changes only on success.
    store.setTargetState(activation.target, { ...store.targetState(activation.target), epoch, activationId: activation.id });
    return activation;
  }

  private rememberDelivery(
    request: VerifiedRequest,
    previous: RequestRecord | undefined,
    signatureHash: string,
    bodyHash: string,
    now: number,
    activationId: string | undefined,
  ): void {
    const { store } = this.options;
    store.forgetIdleRequests(iso(now - Math.max(IDLE_REQUEST_RETENTION_MS, 2 * this.options.toleranceMs)));
    store.rememberRequest(request.requestId, {
      target: request.body.target,
      voter: request.body.voter,
      incidentId: request.body.incident.id,
      bodyHash,
      signatureHashes: [...(previous?.signatureHashes ?? []), signatureHash].slice(-SIGNATURES_PER_REQUEST),
      receivedAt: previous?.receivedAt ?? iso(now),
      ...(activationId !== undefined && { activationId }),
    });
  }

  private startPlan(activation: Activation, plan: readonly PlanStep[]): void {
    // Deliberately not awaited: the request is answered while the plan runs; close() awaits it.
    const run: Promise<void> = this.execute(activation, plan)
      .catch((err: unknown) => this.options.logger.error({ err, activationId: activation.id }, 'activation plan crashed'))
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async execute(activation: Activation, plan: readonly PlanStep[]): Promise<void> {
    const { store, metrics, logger, now } = this.options;
    const persist = (record: StepRecord, event: 'step-started' | 'step-finished') =>
      Promise.all([store.save(), store.appendAudit({ ...this.auditBase(activation, iso(now())), event, step: record })]);
    let result: PlanResult;
    try {
      result = await runPlan(
        plan,
        {
          stepStarted: async (record) => {
            activation.steps.push(record);
            await persist(record, 'step-started');
          },
          stepFinished: async (record, durationMs) => {
            activation.steps[activation.steps.length - 1] = record;
            metrics.stepDuration.observe({ target: activation.target, step: record.name }, durationMs / 1000);
            const fields = { activationId: activation.id, step: record.name, attempts: record.attempts, responseStatus: record.responseStatus, output: record.output };
            if (record.status === 'succeeded') logger.info(fields, 'activation step succeeded');
            else logger.error(fields, 'activation step failed');
            await persist(record, 'step-finished');
          },
        },
        { now, stop: this.stopping.signal, abort: this.abandoning.signal },
      );
    } catch (err) {
      // A step could not be recorded: going on would act without a record, so the plan stops here.
      logger.error({ err, activationId: activation.id }, 'could not record an activation step; stopping the plan');
      result = { status: 'failed', step: activation.steps.at(-1)?.name ?? '(none)' };
    }
    switch (result.status) {
      case 'succeeded':
        return this.finish(activation, 'succeeded');
      case 'failed':
        return this.finish(activation, 'failed', `step ${result.step} failed`);
      case 'stopped':
        return this.finish(activation, 'interrupted', 'the service shut down during the plan');
    }
  }

  private async finish(activation: Activation, status: 'succeeded' | 'failed' | 'interrupted', reason?: string): Promise<void> {
    const { store, metrics, logger } = this.options;
    const finishedAt = iso(this.options.now());
    activation.status = status;
    activation.finishedAt = finishedAt;
    const target = store.targetState(activation.target);
    if (target.activationId === activation.id) {
      if (status === 'succeeded') {
        store.setTargetState(activation.target, { ...target, active: 'secondary', since: finishedAt });
      } else if (status === 'failed') {
        // The primary stayed active: release the target so that a later request may try again.
        const { activationId: _released, ...rest } = target;
        store.setTargetState(activation.target, rest);
      }
      // Interrupted: the plan may have half-run, so the target stays held for an operator.
    }
    metrics.activations.inc({ target: activation.target, outcome: status });
    const fields = { activationId: activation.id, target: activation.target, epoch: activation.epoch, status, reason };
    if (status === 'succeeded') logger.warn(fields, 'activation succeeded: the secondary side is active');
    else logger.error(fields, 'activation did not complete');
    await Promise.all([
      store.save(),
      store.appendAudit({ ...this.auditBase(activation, finishedAt), event: 'activation-finished', status, ...(reason !== undefined && { reason }) }),
    ]);
  }

  private auditBase(activation: Activation, time: string): Pick<AuditRecord, 'time' | 'activationId' | 'target' | 'epoch'> {
    return { time, activationId: activation.id, target: activation.target, epoch: activation.epoch };
  }
}
