import type { Activation, ActiveSide, Logger } from '@vigil/core';
import type { TargetConfig } from './config.js';
import type { Coordination } from './coordination/coordination.js';
import { Driver } from './driver.js';
import { drill, type DrillKind, type DrillResult } from './drill.js';
import { FINAL } from './lifecycle.js';
import { Intake, type OperatorResult, type SubmitResult, type VerifiedRequest } from './intake.js';
import type { ActivationMetrics } from './metrics.js';
import type { Pager } from './pager.js';
import { readDataLoss, type DataLossReading } from './precondition.js';
import type { AuditRecord } from './store.js';
import { targetViews, type TargetView } from './views.js';

export type { OperatorResult, SubmitResult, VerifiedRequest } from './intake.js';

export interface ActivationsOptions {
  targets: readonly TargetConfig[];
  coordination: Coordination;
  logger: Logger;
  metrics: ActivationMetrics;
  now: () => number;
  /** How long `close()` lets the step in flight finish before abandoning it. */
  closeGraceMs: number;
  pager: Pager;
  /** How often a leader looks at every unfinished activation besides the change feed; 0: never. */
  reconcileIntervalMs: number;
  /** The configured voters' ids, shown with each target. */
  voters?: readonly string[];
}

/**
 * What the routes see of the service: the pipeline request → pure decision (decide.ts) →
 * coordination store (Intake, any replica) → gates and plan runner (Driver, the leader) → pager
 * and event stream (changes the store reports).
 */
export class Activations {
  private readonly targets: Map<string, TargetConfig>;
  private readonly intake: Intake;
  private readonly driver: Driver;
  private closed = false;
  /** Ends read-only probes in flight (drills, data-loss readings) when the service closes. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: ActivationsOptions) {
    this.targets = new Map(options.targets.map((t) => [t.name, t]));
    const { coordination, logger, metrics, now } = options;
    this.intake = new Intake({ targets: this.targets, coordination, logger, metrics, now });
    this.driver = new Driver({ ...options, targets: this.targets });
  }

  get closing(): boolean {
    return this.closed;
  }

  /** Starts driving activations when this replica leads; resolves once what a previous process left is decided. */
  start(): Promise<void> {
    return this.driver.start();
  }

  get(id: string): Promise<Activation | undefined> {
    return this.options.coordination.activation(id);
  }

  list(target?: string): Promise<Activation[]> {
    return this.options.coordination.activations(target);
  }

  audit(id: string): Promise<AuditRecord[]> {
    return this.options.coordination.auditOf(id);
  }

  /** Which side of a configured target is active (a linearizable read); undefined for an unknown target. */
  async activeSide(target: string): Promise<ActiveSide | undefined> {
    if (!this.targets.has(target)) return undefined;
    return { target, ...(await this.options.coordination.targetState(target)) };
  }

  isTarget(target: string): boolean {
    return this.targets.has(target);
  }

  /** Calls `listener` with a configured target's side each time it changes (once durable, whichever replica changed it); returns the unsubscribe. */
  subscribe(listener: (side: ActiveSide) => void): () => void {
    return this.options.coordination.watch((change) => {
      if (change.kind === 'target' && this.targets.has(change.name)) listener({ target: change.name, ...change.state });
    });
  }

  /**
   * Calls `listener` with every change of an activation (created, each step started or finished,
   * each status change), once durable, whichever replica made it; returns the unsubscribe.
   */
  subscribeActivations(listener: (activation: Activation) => void): () => void {
    return this.options.coordination.watch((change) => {
      if (change.kind === 'activation') listener(change.activation);
    });
  }

  /** The activations not yet final and the newest one of each target, oldest first; of one target when given. */
  async current(target?: string): Promise<Activation[]> {
    const all = await this.options.coordination.activations(target);
    const seen = new Set<string>();
    const picked = all.filter((a) => {
      const newest = !seen.has(a.target);
      seen.add(a.target);
      return newest || !FINAL.has(a.status);
    });
    return picked.reverse();
  }

  /** Every configured target with its state, votes, gates, plans and pending activation. */
  targetViews(): Promise<TargetView[]> {
    return targetViews(this.options.targets, this.options.voters ?? [], this.options.coordination, this.options.now());
  }

  /** The data-loss guard's reading now (read-only); undefined for an unknown target, `configured: false` without a guard. */
  async dataLoss(name: string): Promise<({ configured: boolean } & Partial<DataLossReading>) | undefined> {
    const target = this.targets.get(name);
    if (!target) return undefined;
    if (!target.dataLoss) return { configured: false };
    return { configured: true, ...(await readDataLoss(target.dataLoss, this.stopping.signal)) };
  }

  /** A dry run of a failover or failback of `target`: see drill.ts. Runs no plan step. */
  drill(target: string, kind: DrillKind, operator: string, reason?: string): Promise<DrillResult | { kind: 'closing' }> {
    if (this.closed) return Promise.resolve({ kind: 'closing' });
    const { coordination, now } = this.options;
    return drill({ target: this.targets.get(target), name: target, kind, operator, reason, coordination, now, signal: this.stopping.signal });
  }

  submit(request: VerifiedRequest): Promise<SubmitResult> {
    if (this.closed) return Promise.resolve({ kind: 'closing' });
    return this.intake.submit(request);
  }

  approve(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    if (this.closed) return Promise.resolve({ kind: 'closing' });
    return this.intake.approve(id, operator, comment);
  }

  cancel(id: string, operator: string, comment?: string): Promise<OperatorResult> {
    return this.intake.cancel(id, operator, comment);
  }

  failback(target: string, operator: string, comment?: string): Promise<OperatorResult> {
    if (this.closed) return Promise.resolve({ kind: 'closing' });
    return this.intake.failback(target, operator, comment);
  }

  /** Stops taking requests and lets the driver finish what is in flight (bounded by the grace period). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    await this.driver.close();
  }
}
