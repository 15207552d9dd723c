import { randomBytes } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { ActivationMode, type Activation } from '@vigil/core';
import { stepBudgetMs } from './budget.js';
import type { TargetConfig } from './config.js';
import { hedgePolicy, outcomeOf, probeHedged } from './confirmation.js';
import type { Coordination } from './coordination/coordination.js';
import { describeDataLoss } from './decide.js';
import { iso, kindOf } from './lifecycle.js';
import { readDataLoss } from './precondition.js';

export const DrillKind = Type.Union([Type.Literal('failover'), Type.Literal('failback')]);
export type DrillKind = Static<typeof DrillKind>;

/** What a failover or failback of a target would do now, found without any effect. */
export const DrillReport = Type.Object({
  /** `drill_…`: the key of the drill's audit record (`GET /v1/activations/:id/audit`). */
  id: Type.String(),
  target: Type.String(),
  kind: DrillKind,
  dryRun: Type.Literal(true),
  mode: ActivationMode,
  wouldWaitForApproval: Type.Boolean(),
  approvalReasons: Type.Array(Type.String()),
  holdOff: Type.Object({
    /** The wait before the direct probe (failover), or the healthy period the primary must pass (failback). */
    durationMs: Type.Number(),
    /** The direct probe of the primary, run once now (read-only); absent when none is configured. */
    probe: Type.Optional(
      Type.Object({ status: Type.Union([Type.Literal('pass'), Type.Literal('fail')]), durationMs: Type.Number(), probe: Type.Optional(Type.String()), output: Type.Optional(Type.String()) }),
    ),
  }),
  dataLoss: Type.Optional(Type.Object({ lagMs: Type.Optional(Type.Number()), maxMs: Type.Number(), withinLimit: Type.Boolean(), output: Type.Optional(Type.String()) })),
  steps: Type.Array(Type.Object({ name: Type.String(), kind: Type.String(), budgetMs: Type.Number(), lastDurationMs: Type.Optional(Type.Number()) })),
  planBudgetMs: Type.Number(),
  rtoMs: Type.Optional(Type.Number()),
  /** holdOff.durationMs + planBudgetMs ≤ rtoMs (the watchdog's detection is not counted here). */
  withinRto: Type.Optional(Type.Boolean()),
  /** What the readings mean for a real activation now, in words. */
  notes: Type.Array(Type.String()),
});
export type DrillReport = Static<typeof DrillReport>;

export type DrillResult = { kind: 'ok'; report: DrillReport } | { kind: 'unknown-target' } | { kind: 'conflict'; error: string; message: string };

export interface DrillInput {
  target: TargetConfig | undefined;
  name: string;
  kind: DrillKind;
  operator: string;
  reason?: string | undefined;
  coordination: Coordination;
  now: () => number;
  /** Aborts the read-only probes (the service is closing). */
  signal: AbortSignal;
}

/**
 * A rehearsal: evaluates the gates a real activation of `target` would pass (mode, data-loss
 * guard, failback approval), runs the read-only probes they use (the hold-off's direct probe of
 * the primary, the replication-lag measurement) and sets the plan's worst case against the RTO.
 * No plan step is called, nothing is written but one `drill` audit record.
 */
export async function drill({ target, name, kind, operator, reason, coordination, now, signal }: DrillInput): Promise<DrillResult> {
  if (!target) return { kind: 'unknown-target' };
  const failback = target.failback;
  if (kind === 'failback' && !failback) return { kind: 'conflict', error: 'no-failback-plan', message: `target "${name}" has no failback configured` };
  const plan = kind === 'failback' ? failback!.plan : target.plan;
  const mode = kind === 'failback' ? (failback!.approval ? 'approval' : 'auto') : target.mode;
  const notes: string[] = [];

  const probeCheck = kind === 'failback' ? failback!.primaryHealthy.probe : target.holdOff.enabled ? target.holdOff.probe : undefined;
  const probing = probeCheck
    ? (async () => {
        const started = performance.now();
        const policy = kind === 'failback' ? hedgePolicy({ check: probeCheck }) : hedgePolicy({ check: probeCheck }, target.holdOff);
        const outcome = outcomeOf(await probeHedged(probeCheck, policy, signal), probeCheck, 'config');
        return { status: outcome.status, durationMs: Math.round(performance.now() - started), probe: outcome.probe, ...(outcome.output !== undefined && { output: outcome.output }) };
      })()
    : Promise.resolve(undefined);
  const measuring = kind === 'failover' && target.dataLoss ? readDataLoss(target.dataLoss, signal) : Promise.resolve(undefined);
  const [probe, dataLoss] = await Promise.all([probing, measuring]);

  const approvalReasons: string[] = [];
  if (kind === 'failover') {
    if (mode === 'approval') approvalReasons.push('approval mode: an operator must approve the failover');
    if (dataLoss && !dataLoss.withinLimit) {
      approvalReasons.push(`data-loss guard: ${describeDataLoss({ ...(dataLoss.lagMs !== undefined && { lagMs: dataLoss.lagMs }), maxMs: dataLoss.maxMs })}`);
    }
  } else if (failback!.approval) {
    approvalReasons.push('failback.approval: an operator must approve the failback once the primary proved healthy');
  }
  const wouldWaitForApproval = mode !== 'notify-only' && approvalReasons.length > 0;
  if (mode === 'notify-only') notes.push('notify-only mode: a real failover pages and ends as notified; the plan never runs');

  if (kind === 'failover') {
    if (!target.holdOff.enabled) notes.push('the hold-off is off: the plan runs as soon as the other gates allow');
    else if (!probe) notes.push('no holdOff.probe is pinned: a real failover probes the primary with the probe its request describes, so nothing was probed now');
    else if (probe.status === 'pass') notes.push('the primary answers the direct probe now: a real failover now would be cancelled after the hold-off');
    else notes.push('the primary fails the direct probe now: a real failover now would go on after the hold-off');
  } else if (probe?.status === 'fail') {
    notes.push('the primary fails its health probe now: a failback now would be cancelled');
  }

  const last = await lastSucceeded(coordination, name, kind);
  const steps = plan.map((step) => {
    const lastDurationMs = last && lastDuration(last, step.name);
    return { name: step.name, kind: step.kind, budgetMs: stepBudgetMs(step), ...(lastDurationMs !== undefined && { lastDurationMs }) };
  });
  const planBudgetMs = steps.reduce((sum, s) => sum + s.budgetMs, 0);
  const holdOffMs = kind === 'failback' ? failback!.primaryHealthy.for : target.holdOff.enabled ? target.holdOff.duration : 0;
  const rto = target.rto;
  const withinRto = rto === undefined ? undefined : holdOffMs + planBudgetMs <= rto;

  const id = `drill_${randomBytes(12).toString('base64url')}`;
  const report: DrillReport = {
    id,
    target: name,
    kind,
    dryRun: true,
    mode,
    wouldWaitForApproval,
    approvalReasons,
    holdOff: { durationMs: holdOffMs, ...(probe && { probe }) },
    ...(dataLoss && { dataLoss }),
    steps,
    planBudgetMs,
    ...(rto !== undefined && { rtoMs: rto, withinRto: withinRto! }),
    notes,
  };
  const state = await coordination.targetState(name);
  const time = iso(now());
  await coordination.appendAudit({
    time,
    activationId: id,
    target: name,
    epoch: state.epoch,
    event: 'drill',
    operator,
    ...(reason !== undefined && reason !== '' && { reason }),
    kind,
    mode,
    wouldWaitForApproval,
    approvalReasons,
    planBudgetMs,
    ...(rto !== undefined && { rtoMs: rto, withinRto: withinRto! }),
  });
  return { kind: 'ok', report };
}

async function lastSucceeded(coordination: Coordination, target: string, kind: DrillKind): Promise<Activation | undefined> {
  return (await coordination.activations(target)).find((a) => a.status === 'succeeded' && kindOf(a) === kind);
}

/** How long the step took when it last ran to success in that activation (a step run again after a restart: its last record). */
function lastDuration(activation: Activation, step: string): number | undefined {
  const record = activation.steps.findLast((s) => s.name === step && s.status === 'succeeded' && s.endedAt !== undefined);
  if (!record?.endedAt) return undefined;
  const ms = Date.parse(record.endedAt) - Date.parse(record.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
