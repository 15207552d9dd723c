import { setTimeout as sleep } from 'node:timers/promises';
import type { Activation, Logger, PrimaryProbe, StepRecord } from '@vigil/core';
import { NotLeaderError } from '@vigil/coordination';
import type { TargetConfig } from './config.js';
import { hedgePolicy, outcomeOf, parseRequestProbe, probeHedged, type ProbeOutcome } from './confirmation.js';
import type { Change, Coordination, Term, Tx } from './coordination/coordination.js';
import { describeDataLoss, nextStage, type Stage, type StageInput } from './decide.js';
import { confirmationFor } from './intake.js';
import { FINAL, auditBase, finishIn, iso, kindOf, type FinalStatus } from './lifecycle.js';
import type { ActivationMetrics } from './metrics.js';
import type { Pager } from './pager.js';
import { readDataLoss } from './precondition.js';
import { runPlan, type PlanResult } from './plan/runner.js';
import type { PlanStep } from './plan/steps/index.js';

export interface DriverOptions {
  targets: ReadonlyMap<string, TargetConfig>;
  coordination: Coordination;
  logger: Logger;
  metrics: ActivationMetrics;
  now: () => number;
  pager: Pager;
  /** How long `close()` lets the step in flight finish before abandoning it. */
  closeGraceMs: number;
  /**
   * How often the leader looks at every unfinished activation besides the change feed (etcd: a
   * watch that reconnects may skip nothing, but a look costs one read). 0: only the feed.
   */
  reconcileIntervalMs: number;
}

/** What is left to do for an activation once its recovery is decided (the hold-off, the plan). */
type Continuation = () => Promise<void>;

/** Ends a drive because this replica's term ended: the next leader picks the activation up. */
class TermEnded extends Error {}

/**
 * The leader's half of the pipeline: takes each activation the store holds through its gates
 * (hold-off probe, data-loss guard, approval) and its plan, recording every change in the store
 * under the leader's term before acting on it. Runs only while this replica leads; a new leader
 * (or a restarted process) picks up what the previous one left: gates without side effects
 * start again, a plan resumes from its first step not known to have completed if that step
 * never started or is idempotent, and otherwise the activation is marked interrupted and paged.
 */
export class Driver {
  private readonly stopping = new AbortController();
  private readonly abandoning = new AbortController();
  private readonly running = new Set<Promise<void>>();
  /** Activations this replica drives now, with what ends their waits (an operator's cancel). */
  private readonly driving = new Map<string, AbortController>();
  private readonly unsubscribe: (() => void)[] = [];
  private term: Term | undefined;

  constructor(private readonly options: DriverOptions) {}

  get closing(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Starts following the store; each term this replica leads begins with a look at everything
   * unfinished. When it leads already (the file backend always does), resolves once that look
   * has decided what to do with each activation found.
   */
  async start(): Promise<void> {
    const { coordination } = this.options;
    this.unsubscribe.push(coordination.watch((change) => this.changed(change)));
    this.unsubscribe.push(
      coordination.onTerm((term) => {
        if (term !== this.term) this.track(this.lead(term));
      }),
    );
    const current = coordination.currentTerm();
    if (current && current !== this.term) {
      this.term = current;
      await this.reconcile(current, true);
      this.track(this.keepReconciling(current));
    }
  }

  /**
   * Stops starting anything, lets the step in flight finish (abandoning it after the grace
   * period) and records cut-short plans as interrupted. Hold-offs are left as they are: they
   * start again with the next leader.
   */
  async close(): Promise<void> {
    this.stopping.abort();
    for (const off of this.unsubscribe) off();
    const timer = setTimeout(() => this.abandoning.abort(), this.options.closeGraceMs);
    try {
      while (this.running.size > 0) await Promise.all(this.running);
    } finally {
      clearTimeout(timer);
    }
  }

  private async lead(term: Term): Promise<void> {
    this.term = term;
    const { coordination, logger } = this.options;
    logger.info({ replica: coordination.replica, term: term.id }, 'leading: looking at every unfinished activation');
    await this.reconcile(term, true);
    await this.keepReconciling(term);
  }

  private async keepReconciling(term: Term): Promise<void> {
    const interval = this.options.reconcileIntervalMs;
    if (interval <= 0) return;
    const signal = AbortSignal.any([term.signal, this.stopping.signal]);
    while (!signal.aborted) {
      if (!(await pause(interval, signal))) return;
      await this.reconcile(term, false);
    }
  }

  private async reconcile(term: Term, takingOver: boolean): Promise<void> {
    let unfinished: Activation[];
    try {
      unfinished = (await this.options.coordination.unfinishedActivations()).reverse();
    } catch (err) {
      this.options.logger.warn({ err }, 'could not list unfinished activations; looking again later');
      return;
    }
    await Promise.all(unfinished.map((activation) => this.pickUp(activation.id, term, takingOver)));
  }

  private changed(change: Change): void {
    if (change.kind !== 'activation') return;
    const { activation } = change;
    if (FINAL.has(activation.status)) {
      // Cancelled by an operator (possibly on another replica): stop waiting for it.
      this.driving.get(activation.id)?.abort();
      return;
    }
    const term = this.term;
    if (term?.isValid() && !this.closing) void this.pickUp(activation.id, term, false);
  }

  /**
   * Drives one activation unless this replica already does; reads its current state first (a
   * change event may be old). Resolves once what to do is decided and recorded (e.g. marked
   * interrupted); the hold-off and the plan go on in the background.
   */
  private pickUp(id: string, term: Term, takingOver: boolean): Promise<void> {
    if (this.driving.has(id) || this.closing || !term.isValid()) return Promise.resolve();
    const wait = new AbortController();
    this.driving.set(id, wait);
    let decided!: () => void;
    const decision = new Promise<void>((resolve) => (decided = resolve));
    const work = async () => {
      const next = await this.drive(id, term, takingOver, wait.signal);
      decided();
      await next?.();
    };
    this.track(
      work()
        .catch((err: unknown) => {
          if (err instanceof TermEnded || err instanceof NotLeaderError) {
            this.options.logger.warn({ activationId: id, reason: (err as Error).message }, 'stopped driving an activation: this replica no longer leads; the next leader resumes it');
            return;
          }
          throw err;
        })
        .finally(() => {
          decided();
          if (this.driving.get(id) === wait) this.driving.delete(id);
        }),
    );
    return decision;
  }

  private async drive(id: string, term: Term, takingOver: boolean, cancelled: AbortSignal): Promise<Continuation | undefined> {
    const activation = await this.options.coordination.activation(id);
    if (!activation || FINAL.has(activation.status)) return undefined;
    const target = this.options.targets.get(activation.target);
    switch (activation.status) {
      case 'holding-off':
        if (!target) return void (await this.interrupt(term, activation, 'its target is no longer configured'));
        return () => this.advance(term, activation, target, cancelled);
      case 'awaiting-approval': {
        // Paged once: the request for approval is recorded with the page decision (a new leader, a stale event find it).
        const asked = (await this.options.coordination.auditOf(id)).some((r) => r.event === 'approval-requested');
        if (asked) return undefined;
        const reason = activation.approval?.reason ?? 'approval requested';
        return () => this.enter(term, activation, { kind: 'await-approval', reason });
      }
      case 'running':
        return this.continueRunning(term, activation, target, takingOver);
      default:
        return undefined;
    }
  }

  /** A running activation nobody drives: started afresh (just approved or created), or left by a previous leader. */
  private async continueRunning(term: Term, activation: Activation, target: TargetConfig | undefined, takingOver: boolean): Promise<Continuation | undefined> {
    const plan = target && this.planOf(activation, target);
    const last = activation.steps.at(-1);
    if (!plan) return void (await this.interrupt(term, activation, 'its target or plan is no longer configured'));
    if (!last) return takingOver ? this.resume(term, activation, plan, 0) : () => this.execute(term, activation, plan, 0);
    if (last.status === 'failed' && !last.continued) return void (await this.finish(term, activation.id, 'failed', `step ${last.name} failed`));
    // Step names are unique within a plan: the last record says where the plan stands.
    const position = plan.findIndex((step) => step.name === last.name);
    if (position === -1) return void (await this.interrupt(term, activation, `its plan no longer has step ${last.name}`));
    if (last.status === 'running') {
      const step = plan[position];
      if (!step?.idempotent) return void (await this.interrupt(term, activation, `the service stopped during step ${last.name}, which is not idempotent`));
      const index = activation.steps.length - 1;
      const ended: StepRecord = { ...last, status: 'failed', endedAt: iso(this.options.now()), output: 'the service stopped during this step; run again (idempotent)', continued: true };
      const marked = await this.updateActivation(term, activation.id, (a) => {
        if (a.steps.length !== index + 1 || a.steps[index]?.status !== 'running') return false;
        a.steps[index] = ended;
        return true;
      });
      if (!marked) return undefined;
      activation.steps[index] = ended;
      return this.resume(term, activation, plan, position);
    }
    // Every recorded step ended; the next one never started (its start is saved before it runs).
    return this.resume(term, activation, plan, position + 1);
  }

  /** Runs the gates of a freshly claimed (or taken over) activation, then acts on the stage they lead to. */
  private async advance(term: Term, activation: Activation, target: TargetConfig, cancelled: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([cancelled, this.stopping.signal, term.signal]);
    const primary = await this.probePrimary(term, activation, target, signal);
    if (signal.aborted) return this.stoppedWaiting(term);
    const lag = kindOf(activation) === 'failover' && target.dataLoss ? await this.checkDataLoss(term, activation, target) : undefined;
    if (signal.aborted) return this.stoppedWaiting(term);
    const stage = nextStage({ kind: kindOf(activation), mode: activation.mode ?? 'auto', ...(primary && { primary }), ...(lag && { dataLoss: lag }), approved: false });
    await this.enter(term, activation, stage);
  }

  /** A wait ended early: cancelled (already recorded), shutting down (the next leader starts it again), or the term ended. */
  private stoppedWaiting(term: Term): void {
    if (!term.isValid() && !this.closing) throw new TermEnded('the term ended during the hold-off');
  }

  private async enter(term: Term, activation: Activation, stage: Stage): Promise<void> {
    const now = iso(this.options.now());
    switch (stage.kind) {
      case 'cancel':
        await this.finish(term, activation.id, 'cancelled', stage.reason, { ...auditBase(activation, now), event: 'cancelled', operator: 'vigil', comment: stage.reason });
        return;
      case 'notify-only':
        await this.options.pager.page((await this.options.coordination.activation(activation.id)) ?? activation, 'critical', `${activation.target}: ${kindOf(activation)} needed but not run (${stage.reason})`);
        await this.finish(term, activation.id, 'notified', stage.reason);
        return;
      case 'await-approval': {
        const moved = await this.updateActivation(term, activation.id, (a, tx) => {
          if (a.status !== 'holding-off' && a.status !== 'awaiting-approval') return false;
          if (a.status !== 'awaiting-approval') {
            a.status = 'awaiting-approval';
            a.approval = { reason: stage.reason, requestedAt: now };
          }
          tx.appendAudit({ ...auditBase(a, now), event: 'approval-requested', reason: stage.reason });
          return true;
        });
        if (!moved) return;
        this.options.logger.warn({ activationId: activation.id, target: activation.target, reason: stage.reason }, 'activation waits for an operator to approve or cancel');
        await this.options.pager.page(moved, 'critical', `${activation.target}: ${kindOf(activation)} waits for approval — ${stage.reason}`, true);
        return;
      }
      case 'run': {
        const plan = this.planOf(activation, this.options.targets.get(activation.target));
        if (!plan) return this.interrupt(term, activation, 'its plan is no longer configured');
        const started = await this.updateActivation(term, activation.id, (a) => {
          if (a.status !== 'holding-off' && a.status !== 'running') return false;
          a.status = 'running';
          return true;
        });
        if (!started) return;
        return this.execute(term, activation, plan, 0);
      }
    }
  }

  /**
   * The direct probe of the primary: after the hold-off for a failover, throughout the healthy
   * period for a failback. Recorded in the activation and the audit log; undefined when there is
   * none, or when the wait was cancelled.
   */
  private async probePrimary(term: Term, activation: Activation, target: TargetConfig, signal: AbortSignal): Promise<StageInput['primary']> {
    const outcome = kindOf(activation) === 'failover' ? await this.confirmFailover(activation, target, signal) : await this.watchPrimary(target, signal);
    if (!outcome || signal.aborted) return undefined;
    this.options.logger.info(
      { activationId: activation.id, target: activation.target, probe: outcome.probe, status: outcome.status, attempts: outcome.attempts, output: outcome.output },
      `primary probed directly: ${outcome.status}`,
    );
    const recorded: PrimaryProbe = outcome;
    await this.updateActivation(term, activation.id, (a, tx) => {
      if (a.status !== 'holding-off') return false;
      a.confirmation = recorded;
      tx.appendAudit({ ...auditBase(a, iso(this.options.now())), event: 'primary-probed', ...outcome });
      return true;
    });
    return { status: outcome.status, probe: outcome.probe, ...(outcome.output !== undefined && { output: outcome.output }) };
  }

  /** Waits the hold-off, then probes the primary once (hedged). Without a probe there is nothing to do: that was recorded at creation. */
  private async confirmFailover(activation: Activation, target: TargetConfig, signal: AbortSignal): Promise<ProbeOutcome | undefined> {
    const request = await this.options.coordination.transact({ requests: [activation.requestId] }, (tx) => tx.request(activation.requestId));
    const confirmation = confirmationFor(target, parseRequestProbe(request?.probe));
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

  private async checkDataLoss(term: Term, activation: Activation, target: TargetConfig): Promise<{ lagMs?: number; maxMs: number }> {
    const reading = await readDataLoss(target.dataLoss!, this.stopping.signal);
    const lag = { ...(reading.lagMs !== undefined && { lagMs: reading.lagMs }), maxMs: reading.maxMs };
    await this.updateActivation(term, activation.id, (a, tx) => {
      if (a.status !== 'holding-off') return false;
      a.dataLoss = { ...lag, exceeded: !reading.withinLimit, output: reading.lagMs === undefined ? reading.output : describeDataLoss(lag) };
      tx.appendAudit({ ...auditBase(a, iso(this.options.now())), event: 'data-loss-checked', ...lag, output: reading.output });
      return true;
    });
    return lag;
  }

  /** Records that a plan resumes at `from`, and returns the run of the rest; or ends the activation when nothing is left. */
  private async resume(term: Term, activation: Activation, plan: readonly PlanStep[], from: number): Promise<Continuation | undefined> {
    const step = plan[from];
    if (!step) return void (await this.finish(term, activation.id, 'succeeded'));
    await this.options.coordination.appendAudit({ ...auditBase(activation, iso(this.options.now())), event: 'plan-resumed', fromStep: step.name });
    this.options.logger.warn({ activationId: activation.id, target: activation.target, step: step.name, replica: this.options.coordination.replica }, 'resuming an activation plan cut short by a restart or a change of leader');
    return () => this.execute(term, activation, plan, from);
  }

  private async interrupt(term: Term, activation: Activation, reason: string): Promise<void> {
    const finishedAt = iso(this.options.now());
    this.options.logger.error(
      { activationId: activation.id, target: activation.target, epoch: activation.epoch, reason },
      'found an activation interrupted by a restart; it will not be re-run, the target stays held until an operator acts',
    );
    const ended = await this.finish(term, activation.id, 'interrupted', reason, undefined, (a) => {
      a.steps = a.steps.map((step) => (step.status === 'running' ? { ...step, status: 'failed', endedAt: finishedAt, output: 'the service stopped during this step; its effect is unknown' } : step));
    });
    if (ended) await this.options.pager.page(ended, 'critical', `${activation.target}: ${kindOf(activation)} ${activation.id} was interrupted (${reason}); an operator must decide what comes next`);
  }

  private async execute(term: Term, activation: Activation, plan: readonly PlanStep[], startAt: number): Promise<void> {
    const { metrics, logger, now } = this.options;
    const replica = this.options.coordination.replica;
    // Records are appended (a step run again after a restart gets a second record): this drive expects this many.
    let records = activation.steps.length;
    let result: PlanResult;
    try {
      result = await runPlan(
        plan,
        {
          stepStarted: async (record) => {
            const at = records;
            const saved = await this.updateActivation(term, activation.id, (a, tx) => {
              // Someone else moved this activation on (another drive, an operator): do not run the step.
              if (a.status !== 'running' || a.steps.length !== at) return false;
              a.steps.push(record);
              tx.appendAudit({ ...auditBase(a, iso(now())), event: 'step-started', step: record });
              return true;
            });
            if (!saved) throw new TermEnded(`activation ${activation.id} changed under this drive`);
            records++;
            // The write may have landed after the deadline (a pause between send and answer): a step starts only inside the term.
            if (!term.isValid()) throw new TermEnded(`term ${term.id} ended before step ${record.name} could start`);
            logger.info({ activationId: activation.id, step: record.name, epoch: activation.epoch, replica, term: term.id }, 'activation step starting');
          },
          stepFinished: async (record, durationMs) => {
            const at = records - 1;
            metrics.stepDuration.observe({ target: activation.target, step: record.name }, durationMs / 1000);
            const fields = { activationId: activation.id, step: record.name, attempts: record.attempts, responseStatus: record.responseStatus, output: record.output };
            if (record.status === 'succeeded') logger.info(fields, 'activation step succeeded');
            else logger.error(fields, record.continued ? 'activation step failed; the plan goes on' : 'activation step failed');
            await this.updateActivation(term, activation.id, (a, tx) => {
              a.steps[at] = record;
              tx.appendAudit({ ...auditBase(a, iso(now())), event: 'step-finished', step: record });
              return true;
            });
          },
        },
        {
          now,
          stop: AbortSignal.any([this.stopping.signal, term.signal]),
          abort: this.abandoning.signal,
          startAt,
          context: {
            activationId: activation.id,
            target: activation.target,
            kind: kindOf(activation),
            epoch: activation.epoch,
            notify: (alert) => this.options.pager.send({ ...alert, target: activation.target, dedupKey: activation.id }),
          },
        },
      );
    } catch (err) {
      if (err instanceof TermEnded || err instanceof NotLeaderError) throw err;
      // A step could not be recorded: going on would act without a record, so the plan stops here.
      logger.error({ err, activationId: activation.id }, 'could not record an activation step; stopping the plan');
      result = { status: 'failed', step: (await this.options.coordination.activation(activation.id))?.steps.at(-1)?.name ?? '(none)' };
    }
    switch (result.status) {
      case 'succeeded':
        await this.finish(term, activation.id, 'succeeded');
        return;
      case 'failed':
        await this.finish(term, activation.id, 'failed', `step ${result.step} failed`);
        return;
      case 'stopped':
        if (!this.closing && !term.isValid()) throw new TermEnded(`term ${term.id} ended during the plan`);
        await this.finish(term, activation.id, 'interrupted', 'the service shut down during the plan');
    }
  }

  /** Ends an activation (one transaction with its target and audit record); the ended activation, or undefined if it had ended already. */
  private async finish(
    term: Term,
    id: string,
    status: FinalStatus,
    reason?: string,
    before?: Parameters<Tx['appendAudit']>[0],
    amend?: (activation: Activation) => void,
  ): Promise<Activation | undefined> {
    const { metrics, logger, coordination } = this.options;
    const found = await coordination.activation(id);
    if (!found || FINAL.has(found.status)) return undefined;
    const finishedAt = iso(this.options.now());
    const ended = await coordination.transact(
      { activations: [id], targets: [found.target] },
      (tx) => {
        const current = tx.activation(id);
        if (!current || FINAL.has(current.status)) return undefined;
        if (before) tx.appendAudit(before);
        if (amend) {
          amend(current);
          tx.putActivation(current);
        }
        return finishIn(tx, id, status, finishedAt, reason);
      },
      { term },
    );
    if (!ended) return undefined;
    metrics.activations.inc({ target: ended.target, outcome: status });
    const fields = { activationId: ended.id, target: ended.target, kind: kindOf(ended), epoch: ended.epoch, status, reason };
    if (status === 'succeeded') logger.warn(fields, kindOf(ended) === 'failback' ? 'failback succeeded: the primary side is active' : 'activation succeeded: the secondary side is active');
    else if (status === 'cancelled' || status === 'notified') logger.warn(fields, 'activation ended without running its plan');
    else logger.error(fields, 'activation did not complete');
    return ended;
  }

  /**
   * Changes an activation under the leader's term: `change` gets its current value (and the
   * transaction, for audit records) and returns false to leave it as it is. Resolves with the
   * changed activation, or undefined when it was left as it was.
   */
  private async updateActivation(term: Term, id: string, change: (activation: Activation, tx: Tx) => boolean): Promise<Activation | undefined> {
    return this.options.coordination.transact(
      { activations: [id] },
      (tx) => {
        const current = tx.activation(id);
        if (!current || FINAL.has(current.status) || !change(current, tx)) return undefined;
        tx.putActivation(current);
        return current;
      },
      { term },
    );
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
