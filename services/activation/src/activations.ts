import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Activation, ActivationRequest, ActiveSide, Logger, PrimaryProbe, StepRecord, Vote } from '@vigil/core';
import type { TargetConfig } from './config.js';
import { describeProbe, hedgePolicy, outcomeOf, parseRequestProbe, probeHedged, type ProbeOutcome, type ProbeSpec } from './confirmation.js';
import {
  confirmationOf,
  dataAtRisk,
  decide,
  describeDataLoss,
  nextStage,
  votesWithin,
  type Confirmation,
  type RequestedProbe,
  type Stage,
  type StageInput,
} from './decide.js';
import type { ActivationMetrics } from './metrics.js';
import { measureLag } from './precondition.js';
import { runPlan, type PlanResult } from './plan/runner.js';
import type { PlanStep, StepContext } from './plan/steps/index.js';
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
  | { kind: 'vote-recorded'; votes: number; quorum: number }
  | { kind: 'replayed' }
  | { kind: 'conflict' }
  | { kind: 'unknown-target' }
  | { kind: 'closing' };

export type OperatorResult =
  | { kind: 'ok'; activation: Activation }
  | { kind: 'unknown-activation' }
  | { kind: 'unknown-target' }
  | { kind: 'closing' }
  /** Not in a state where this action applies; `message` says why. */
  | { kind: 'conflict'; error: string; message: string };

/** Sends a page through the alerting channels; resolves with whether any receiver took it. Never rejects. */
export type Pager = StepContext['notify'];

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
  page: Pager;
  /** Base URL quoted in pages for the approve and cancel commands. */
  externalUrl: string;
}

/** Request ids that created nothing only guard against replays; a day covers any sender's retries. */
const IDLE_REQUEST_RETENTION_MS = 24 * 3_600_000;
/** Signature hashes kept per request id: each retry of one request is signed anew. */
const SIGNATURES_PER_REQUEST = 20;
/** Statuses after which nothing more happens to an activation. */
const FINAL = new Set<Activation['status']>(['succeeded', 'failed', 'interrupted', 'cancelled', 'notified']);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const iso = (ms: number) => new Date(ms).toISOString();
const kindOf = (activation: Activation) => activation.kind ?? 'failover';

/**
 * Turns verified requests into activations and drives each through its gates (hold-off,
 * data-loss guard, approval) and its plan, in the background. Keeps the per-target side and
 * fencing epoch. Every state change is persisted before it is acted on.
 */
export class Activations {
  private readonly targets: Map<string, TargetConfig>;
  private readonly stopping = new AbortController();
  private readonly abandoning = new AbortController();
  private readonly running = new Set<Promise<void>>();
  /** Cancels the hold-off or guard period of an activation an operator cancelled. */
  private readonly waits = new Map<string, AbortController>();
  private readonly listeners = new Set<(side: ActiveSide) => void>();

  constructor(private readonly options: ActivationsOptions) {
    this.targets = new Map(options.targets.map((t) => [t.name, t]));
  }

  get closing(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Picks up what a previous process left. Gates without side effects (hold-off, guard period)
   * start again; an activation awaiting approval keeps waiting. A plan cut short resumes from
   * its first step not known to have completed, if that step never started or is idempotent;
   * otherwise the activation is marked interrupted, paged, and keeps holding its target.
   */
  async recover(): Promise<void> {
    const { store } = this.options;
    for (const activation of store.activations()) {
      if (activation.status === 'holding-off') this.track(this.advance(activation));
      if (activation.status !== 'running') continue;
      const target = this.targets.get(activation.target);
      const plan = target && this.planOf(activation, target);
      const last = activation.steps.at(-1);
      if (!plan) {
        await this.interrupt(activation, 'its target or plan is no longer configured');
      } else if (last?.status === 'failed' && !last.continued) {
        await this.finish(activation, 'failed', `step ${last.name} failed`);
      } else if (last?.status === 'running') {
        const step = plan[activation.steps.length - 1];
        if (step?.name === last.name && step.idempotent) {
          activation.steps[activation.steps.length - 1] = { ...last, status: 'failed', endedAt: iso(this.options.now()), output: 'the service stopped during this step; run again (idempotent)', continued: true };
          await this.resume(activation, plan, activation.steps.length - 1);
        } else {
          await this.interrupt(activation, `the service stopped during step ${last.name}, which is not idempotent`);
        }
      } else {
        // Every recorded step ended; the next one never started (its start is saved before it runs).
        await this.resume(activation, plan, activation.steps.length);
      }
    }
  }

  get(id: string): Activation | undefined {
    return this.options.store.activation(id);
  }

  list(target?: string): Activation[] {
    return this.options.store.activations(target);
  }

  audit(id: string): AuditRecord[] {
    return this.options.store.auditOf(id);
  }

  /** Which side of a configured target is active; undefined for an unknown target. */
  activeSide(target: string): ActiveSide | undefined {
    if (!this.targets.has(target)) return undefined;
    return { target, ...this.options.store.targetState(target) };
  }

  /** Calls `listener` with a target's side each time it changes (after it is saved); returns the unsubscribe. */
  subscribe(listener: (side: ActiveSide) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async submit(request: VerifiedRequest): Promise<SubmitResult> {
    if (this.closing) return { kind: 'closing' };
    const { store } = this.options;
    const name = request.body.target;
    const target = this.targets.get(name);
    if (!target) return { kind: 'unknown-target' };

    // Everything from here to the claim is synchronous: no other request can run in between,
    // so two concurrent requests can never both see the target free.
    const now = this.options.now();
    const signatureHash = sha256(request.signature);
    const bodyHash = sha256(request.rawBody);
    const previous = store.request(request.requestId);
    const votes = votesWithin(store.votes(name), now, target.quorum.window);
    const decision = decide({
      previous,
      signatureHash,
      bodyHash,
      target: store.targetState(name),
      voter: request.body.voter,
      votes,
      quorum: { votes: target.quorum.votes, windowMs: target.quorum.window },
      now,
    });
    const vote: Vote = { voter: request.body.voter, requestId: request.requestId, incidentId: request.body.incident.id, receivedAt: iso(now) };
    switch (decision.kind) {
      case 'replayed':
      case 'conflict':
        return decision;
      case 'retry': {
        const activation = store.activation(decision.activationId);
        if (!activation) throw new Error(`request ${request.requestId} refers to a missing activation ${decision.activationId}`);
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, decision.activationId, previous?.probe);
        await store.save();
        return { kind: 'existing', activation };
      }
      case 'already-active':
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, undefined);
        await store.save();
        return decision;
      case 'vote-recorded':
        // A voter's latest vote replaces its earlier one: one voter never counts twice.
        store.setVotes(name, [...votes.filter((v) => v.voter !== vote.voter), vote]);
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, undefined);
        await store.save();
        this.options.logger.warn({ target: name, voter: vote.voter, votes: decision.votes, quorum: decision.quorum }, 'activation vote recorded; quorum not reached');
        return decision;
      case 'activate': {
        const counted = [...votes.filter((v) => v.voter !== vote.voter), vote];
        const requested = parseRequestProbe(request.body.incident.probe);
        const confirmation = confirmationFor(target, requested);
        const first = initialStage(target, confirmation);
        const activation = this.claim(
          {
            requestId: request.requestId,
            target: name,
            voter: request.body.voter,
            incidentId: request.body.incident.id,
            kind: 'failover',
            mode: target.mode,
            votes: counted,
            status: first.kind === 'run' ? 'running' : first.kind === 'await-approval' ? 'awaiting-approval' : 'holding-off',
          },
          decision.epoch,
          now,
        );
        if (first.kind === 'await-approval') activation.approval = { reason: first.reason, requestedAt: activation.createdAt };
        const planned = plannedProbe(confirmation);
        if (planned) activation.confirmation = planned;
        store.setVotes(name, []);
        // A probe that can be used is kept with the request: a restart during the hold-off confirms with it.
        this.rememberDelivery(request, previous, signatureHash, bodyHash, now, activation.id, requested.kind === 'valid' ? request.body.incident.probe : undefined);
        await this.persistCreated(activation, {
          event: 'activation-created',
          requestId: request.requestId,
          voter: request.body.voter,
          incidentId: request.body.incident.id,
          ...(planned && { confirmation: planned }),
        });
        this.options.logger.warn(
          { activationId: activation.id, target: name, epoch: activation.epoch, voters: decision.voters, incidentId: request.body.incident.id, status: activation.status },
          'activation started',
        );
        if (confirmation.kind === 'none') this.options.logger.warn({ activationId: activation.id, reason: confirmation.reason }, 'the failover goes on without a direct probe of the primary');
        this.track(this.advance(activation));
        return { kind: 'created', activation };
      }
    }
  }

  /** An operator approves an activation (or failback) waiting for approval: its plan starts. */
  async approve(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    if (this.closing) return { kind: 'closing' };
    const activation = this.get(id);
    if (!activation) return { kind: 'unknown-activation' };
    if (activation.status !== 'awaiting-approval') {
      return { kind: 'conflict', error: 'not-awaiting-approval', message: `activation ${id} is ${activation.status}, not awaiting approval` };
    }
    const now = iso(this.options.now());
    activation.status = 'running';
    activation.approval = { reason: activation.approval?.reason ?? 'approval requested', requestedAt: activation.approval?.requestedAt ?? now, decidedBy: operator, decidedAt: now };
    await Promise.all([this.options.store.save(), this.options.store.appendAudit({ ...this.auditBase(activation, now), event: 'approved', operator, ...(comment && { comment }) })]);
    this.options.logger.warn({ activationId: id, target: activation.target, operator }, 'activation approved by an operator');
    const plan = this.planOf(activation, this.targets.get(activation.target));
    if (plan) this.track(this.execute(activation, plan, 0));
    else await this.interrupt(activation, 'its target or plan is no longer configured');
    return { kind: 'ok', activation };
  }

  /** An operator cancels an activation before its plan runs: the primary stays active. */
  async cancel(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    const activation = this.get(id);
    if (!activation) return { kind: 'unknown-activation' };
    if (activation.status !== 'holding-off' && activation.status !== 'awaiting-approval') {
      return { kind: 'conflict', error: 'not-cancellable', message: `activation ${id} is ${activation.status}; only one holding off or awaiting approval can be cancelled` };
    }
    this.waits.get(id)?.abort();
    await this.options.store.appendAudit({ ...this.auditBase(activation, iso(this.options.now())), event: 'cancelled', operator, ...(comment && { comment }) });
    await this.finish(activation, 'cancelled', `cancelled by ${operator}${comment ? `: ${comment}` : ''}`);
    return { kind: 'ok', activation };
  }

  /**
   * An operator starts a failback: only of a target whose secondary is active, once at a time.
   * It holds off while the primary must stay healthy, may wait for approval, then runs the
   * failback plan with the next epoch.
   */
  async failback(name: string, operator: string, comment?: string): Promise<OperatorResult> {
    if (this.closing) return { kind: 'closing' };
    const { store } = this.options;
    const target = this.targets.get(name);
    if (!target) return { kind: 'unknown-target' };
    if (!target.failback) return { kind: 'conflict', error: 'no-failback-plan', message: `target "${name}" has no failback configured` };
    const state = store.targetState(name);
    // An interrupted failover may have half-run: its failback plan is how an operator undoes it.
    const holder = state.activationId === undefined ? undefined : store.activation(state.activationId);
    if (state.active !== 'secondary' && holder?.status !== 'interrupted') {
      return { kind: 'conflict', error: 'not-failed-over', message: `the primary side of "${name}" is active and no interrupted activation holds it` };
    }
    const pending = store.activations(name).find((a) => kindOf(a) === 'failback' && !FINAL.has(a.status));
    if (pending) return { kind: 'conflict', error: 'failback-in-progress', message: `failback ${pending.id} of "${name}" is ${pending.status}` };
    const now = this.options.now();
    const activation = this.claim(
      { requestId: `op_${randomBytes(9).toString('base64url')}`, target: name, voter: operator, incidentId: `failback-${iso(now)}`, kind: 'failback', mode: target.failback.approval ? 'approval' : 'auto', status: 'holding-off' },
      state.epoch + 1,
      now,
    );
    await this.persistCreated(activation, { event: 'failback-created', operator });
    this.options.logger.warn({ activationId: activation.id, target: name, epoch: activation.epoch, operator, comment }, 'failback started');
    this.track(this.advance(activation));
    return { kind: 'ok', activation };
  }

  /**
   * Stops taking requests, lets the step in flight finish (abandoning it after the grace
   * period), records cut-short plans as interrupted and flushes the state. Hold-offs are left
   * as they are: they start again with the next process.
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

  private claim(fields: Pick<Activation, 'requestId' | 'target' | 'voter' | 'incidentId' | 'kind' | 'mode' | 'status'> & { votes?: Vote[] }, epoch: number, now: number): Activation {
    const { store } = this.options;
    const activation: Activation = { id: `act_${randomBytes(12).toString('base64url')}`, ...fields, epoch, createdAt: iso(now), steps: [] };
    store.addActivation(activation);
    // The epoch moves now, not when the plan ends, so that a fence step can hand the new
    // epoch to storage before the standby serves. The active side changes only on success.
    const state = store.targetState(activation.target);
    // A failback leaves the failover holding the target until it succeeds.
    store.setTargetState(activation.target, fields.kind === 'failback' ? { ...state, epoch } : { ...state, epoch, activationId: activation.id });
    return activation;
  }

  /** Durable before anything runs: after a crash the claim and its epoch are still there. */
  private async persistCreated(
    activation: Activation,
    record: { event: 'activation-created'; requestId: string; voter: string; incidentId: string; confirmation?: PrimaryProbe } | { event: 'failback-created'; operator: string },
  ): Promise<void> {
    const { store } = this.options;
    try {
      await Promise.all([store.save(), store.appendAudit({ ...this.auditBase(activation, activation.createdAt), ...record })]);
    } catch (err) {
      await this.finish(activation, 'failed', 'the activation could not be saved').catch(() => undefined);
      throw err;
    }
    this.publish(activation.target);
  }

  /** Records a delivery of a request id; `probe`: the request's own, kept for the activation it created. */
  private rememberDelivery(
    request: VerifiedRequest,
    previous: RequestRecord | undefined,
    signatureHash: string,
    bodyHash: string,
    now: number,
    activationId: string | undefined,
    probe?: Record<string, unknown>,
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
      ...(probe !== undefined && { probe }),
    });
  }

  private track(work: Promise<void>): void {
    // Deliberately not awaited: requests are answered while activations proceed; close() awaits them.
    const run: Promise<void> = work
      .catch((err: unknown) => this.options.logger.error({ err }, 'activation crashed'))
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private planOf(activation: Activation, target: TargetConfig | undefined): readonly PlanStep[] | undefined {
    return kindOf(activation) === 'failback' ? target?.failback?.plan : target?.plan;
  }

  /** Runs the gates of a freshly claimed (or recovered) activation, then acts on the stage they lead to. */
  private async advance(activation: Activation): Promise<void> {
    const target = this.targets.get(activation.target);
    if (!target) return this.interrupt(activation, 'its target is no longer configured');
    const wait = new AbortController();
    this.waits.set(activation.id, wait);
    const signal = AbortSignal.any([wait.signal, this.stopping.signal]);
    try {
      const primary = activation.status === 'holding-off' ? await this.probePrimary(activation, target, signal) : undefined;
      if (signal.aborted) return; // cancelled (already recorded) or shutting down (resumed at start-up)
      const lag = activation.status === 'holding-off' && kindOf(activation) === 'failover' && target.dataLoss ? await this.checkDataLoss(activation, target) : undefined;
      if (signal.aborted) return;
      const stage = nextStage({ kind: kindOf(activation), mode: activation.mode ?? 'auto', ...(primary && { primary }), ...(lag && { dataLoss: lag }), approved: false });
      await this.enter(activation, stage);
    } finally {
      this.waits.delete(activation.id);
    }
  }

  private async enter(activation: Activation, stage: Stage): Promise<void> {
    const { store } = this.options;
    const now = iso(this.options.now());
    switch (stage.kind) {
      case 'cancel':
        await store.appendAudit({ ...this.auditBase(activation, now), event: 'cancelled', operator: 'vigil', comment: stage.reason });
        return this.finish(activation, 'cancelled', stage.reason);
      case 'notify-only':
        await this.page(activation, 'critical', `${activation.target}: ${kindOf(activation)} needed but not run (${stage.reason})`);
        return this.finish(activation, 'notified', stage.reason);
      case 'await-approval':
        if (activation.status !== 'awaiting-approval') {
          activation.status = 'awaiting-approval';
          activation.approval = { reason: stage.reason, requestedAt: now };
          await Promise.all([store.save(), store.appendAudit({ ...this.auditBase(activation, now), event: 'approval-requested', reason: stage.reason })]);
        } else {
          await store.appendAudit({ ...this.auditBase(activation, now), event: 'approval-requested', reason: stage.reason });
        }
        this.options.logger.warn({ activationId: activation.id, target: activation.target, reason: stage.reason }, 'activation waits for an operator to approve or cancel');
        await this.page(activation, 'critical', `${activation.target}: ${kindOf(activation)} waits for approval — ${stage.reason}`, true);
        return;
      case 'run': {
        const plan = this.planOf(activation, this.targets.get(activation.target));
        if (!plan) return this.interrupt(activation, 'its plan is no longer configured');
        if (activation.status !== 'running') {
          activation.status = 'running';
          await store.save();
        }
        return this.execute(activation, plan, 0);
      }
    }
  }

  /**
   * The direct probe of the primary: after the hold-off for a failover, throughout the healthy
   * period for a failback. Recorded in the activation and the audit log; undefined when there is
   * none, or when the wait was cancelled.
   */
  private async probePrimary(activation: Activation, target: TargetConfig, signal: AbortSignal): Promise<StageInput['primary']> {
    const outcome = kindOf(activation) === 'failover' ? await this.confirmFailover(activation, target, signal) : await this.watchPrimary(target, signal);
    if (!outcome || signal.aborted) return undefined;
    this.options.logger.info(
      { activationId: activation.id, target: activation.target, probe: outcome.probe, status: outcome.status, attempts: outcome.attempts, output: outcome.output },
      `primary probed directly: ${outcome.status}`,
    );
    activation.confirmation = outcome;
    await Promise.all([
      this.options.store.save(),
      this.options.store.appendAudit({ ...this.auditBase(activation, iso(this.options.now())), event: 'primary-probed', ...outcome }),
    ]);
    return { status: outcome.status, probe: outcome.probe, ...(outcome.output !== undefined && { output: outcome.output }) };
  }

  /** Waits the hold-off, then probes the primary once (hedged). Without a probe there is nothing to do: that was recorded at creation. */
  private async confirmFailover(activation: Activation, target: TargetConfig, signal: AbortSignal): Promise<ProbeOutcome | undefined> {
    const confirmation = confirmationFor(target, parseRequestProbe(this.options.store.request(activation.requestId)?.probe));
    if (confirmation.kind !== 'probe') return undefined;
    if (!(await pause(target.holdOff.duration, signal))) return undefined;
    const { probe, source } = confirmation;
    const result = await probeHedged(probe.check, hedgePolicy(probe, target.holdOff), signal);
    return outcomeOf(result, probe.check, source);
  }

  /** Probes the primary every interval of the healthy period, until one probe fails or the period is over. */
  private async watchPrimary(target: TargetConfig, signal: AbortSignal): Promise<ProbeOutcome | undefined> {
    const guard = target.failback?.primaryHealthy;
    if (!guard) return undefined;
    const policy = hedgePolicy({ check: guard.probe });
    const until = this.options.now() + guard.for;
    for (;;) {
      const outcome = outcomeOf(await probeHedged(guard.probe, policy, signal), guard.probe, 'config');
      if (signal.aborted) return undefined;
      if (outcome.status === 'fail' || this.options.now() >= until) return outcome;
      if (!(await pause(Math.min(guard.interval, until - this.options.now()), signal))) return undefined;
    }
  }

  private async checkDataLoss(activation: Activation, target: TargetConfig): Promise<{ lagMs?: number; maxMs: number }> {
    const guard = target.dataLoss!;
    const measured = await measureLag(guard, this.stopping.signal);
    const lag = { ...(measured.lagMs !== undefined && { lagMs: measured.lagMs }), maxMs: guard.maxDataLoss };
    activation.dataLoss = { ...lag, exceeded: dataAtRisk(lag), output: measured.lagMs === undefined ? measured.output : describeDataLoss(lag) };
    await Promise.all([
      this.options.store.save(),
      this.options.store.appendAudit({ ...this.auditBase(activation, iso(this.options.now())), event: 'data-loss-checked', ...lag, output: measured.output }),
    ]);
    return lag;
  }

  private async resume(activation: Activation, plan: readonly PlanStep[], from: number): Promise<void> {
    const step = plan[from];
    if (!step) return this.finish(activation, 'succeeded');
    await this.options.store.appendAudit({ ...this.auditBase(activation, iso(this.options.now())), event: 'plan-resumed', fromStep: step.name });
    this.options.logger.warn({ activationId: activation.id, target: activation.target, step: step.name }, 'resuming an activation plan cut short by a restart');
    this.track(this.execute(activation, plan, from));
  }

  private async interrupt(activation: Activation, reason: string): Promise<void> {
    const finishedAt = iso(this.options.now());
    activation.steps = activation.steps.map((step) =>
      step.status === 'running' ? { ...step, status: 'failed', endedAt: finishedAt, output: 'the service stopped during this step; its effect is unknown' } : step,
    );
    this.options.logger.error(
      { activationId: activation.id, target: activation.target, epoch: activation.epoch, reason },
      'found an activation interrupted by a restart; it will not be re-run, the target stays held until an operator acts',
    );
    await this.finish(activation, 'interrupted', reason);
    await this.page(activation, 'critical', `${activation.target}: ${kindOf(activation)} ${activation.id} was interrupted (${reason}); an operator must decide what comes next`);
  }

  private async execute(activation: Activation, plan: readonly PlanStep[], startAt: number): Promise<void> {
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
            else logger.error(fields, record.continued ? 'activation step failed; the plan goes on' : 'activation step failed');
            await persist(record, 'step-finished');
          },
        },
        {
          now,
          stop: this.stopping.signal,
          abort: this.abandoning.signal,
          startAt,
          context: {
            activationId: activation.id,
            target: activation.target,
            kind: kindOf(activation),
            epoch: activation.epoch,
            notify: (alert) => this.options.page({ ...alert, target: activation.target, dedupKey: activation.id }),
          },
        },
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

  private async finish(activation: Activation, status: 'succeeded' | 'failed' | 'interrupted' | 'cancelled' | 'notified', reason?: string): Promise<void> {
    const { store, metrics, logger } = this.options;
    if (FINAL.has(activation.status)) return; // e.g. cancelled while its hold-off probe was in flight
    const finishedAt = iso(this.options.now());
    activation.status = status;
    activation.finishedAt = finishedAt;
    if (reason !== undefined) activation.reason = reason;
    const target = store.targetState(activation.target);
    if (kindOf(activation) === 'failback') {
      // The primary is back: the target is free for the next failover.
      if (status === 'succeeded') store.setTargetState(activation.target, { active: 'primary', epoch: target.epoch, since: finishedAt });
    } else if (target.activationId === activation.id) {
      if (status === 'succeeded') {
        store.setTargetState(activation.target, { ...target, active: 'secondary', since: finishedAt });
      } else if (status !== 'interrupted') {
        // The primary stayed active: release the target so that a later request may try again.
        const { activationId: _released, ...rest } = target;
        store.setTargetState(activation.target, rest);
      }
      // Interrupted: the plan may have half-run, so the target stays held for an operator.
    }
    metrics.activations.inc({ target: activation.target, outcome: status });
    const fields = { activationId: activation.id, target: activation.target, kind: kindOf(activation), epoch: activation.epoch, status, reason };
    if (status === 'succeeded') logger.warn(fields, kindOf(activation) === 'failback' ? 'failback succeeded: the primary side is active' : 'activation succeeded: the secondary side is active');
    else if (status === 'cancelled' || status === 'notified') logger.warn(fields, 'activation ended without running its plan');
    else logger.error(fields, 'activation did not complete');
    await Promise.all([
      store.save(),
      store.appendAudit({ ...this.auditBase(activation, finishedAt), event: 'activation-finished', status, ...(reason !== undefined && { reason }) }),
    ]);
    this.publish(activation.target);
  }

  /** Pages humans through the alerting channels and records that it did. Never throws. */
  private async page(activation: Activation, severity: 'warning' | 'critical', summary: string, decidable = false): Promise<void> {
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
      delivered = (await this.options.page({ severity, summary, annotations, target: activation.target, dedupKey: activation.id })).delivered;
    } catch (err) {
      this.options.logger.error({ err, activationId: activation.id }, 'could not page');
    }
    await this.options.store.appendAudit({ ...this.auditBase(activation, iso(this.options.now())), event: 'page', summary, delivered }).catch(() => undefined);
  }

  private publish(target: string): void {
    const side = this.activeSide(target);
    if (!side) return;
    for (const listener of this.listeners) listener(side);
  }

  private auditBase(activation: Activation, time: string): Pick<AuditRecord, 'time' | 'activationId' | 'target' | 'epoch'> {
    return { time, activationId: activation.id, target: activation.target, epoch: activation.epoch };
  }
}

/**
 * Where a new failover starts, so that its 202 already says so: `holding-off` while the primary
 * is to be probed or the data-loss guard checked first (notify-only passes through it to
 * `notified`); otherwise straight to its stage, as when there is nothing to confirm with.
 */
function initialStage(target: TargetConfig, confirmation: Confirmation<unknown>): Stage | { kind: 'check' } {
  if (confirmation.kind === 'probe' || target.dataLoss !== undefined) return { kind: 'check' };
  return nextStage({ kind: 'failover', mode: target.mode, approved: false });
}

/** How a target confirms a failover, given the probe the request that completed the quorum described. */
function confirmationFor(target: TargetConfig, requested: RequestedProbe<ProbeSpec>): Confirmation<ProbeSpec> {
  const { enabled, probe } = target.holdOff;
  return confirmationOf({ enabled, ...(probe && { probe: { check: probe } }) }, requested);
}

/** What a new activation records about its confirmation: what will be probed, or why nothing will. */
function plannedProbe(confirmation: Confirmation<ProbeSpec>): PrimaryProbe | undefined {
  switch (confirmation.kind) {
    case 'off':
      return undefined;
    case 'none':
      return { status: 'none', output: confirmation.reason };
    case 'probe':
      return { status: 'pending', probe: describeProbe(confirmation.probe.check), source: confirmation.source };
  }
}

/** Waits `ms`; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
