import Type, { type Static } from 'typebox';
import { Activation, ActiveSide, ActivationMode } from '@vigil/core';
import { StepView, stepView } from './budget.js';
import type { TargetConfig } from './config.js';
import type { Coordination } from './coordination/coordination.js';
import { votesWithin } from './decide.js';
import { FINAL } from './lifecycle.js';

/** A configured target as operators see it: where it stands, how it decides and what it would run. */
export const TargetView = Type.Object({
  name: Type.String(),
  /** As `GET /v1/active` answers. */
  active: ActiveSide,
  mode: ActivationMode,
  rtoMs: Type.Optional(Type.Number()),
  quorum: Type.Object({ votes: Type.Integer(), windowMs: Type.Number() }),
  /** The configured voters (watchdog ids). */
  voters: Type.Array(Type.String()),
  /** Votes counting towards the quorum now (inside the window), one per voter. */
  votes: Type.Array(Type.Object({ voter: Type.String(), at: Type.String(), incidentId: Type.String() })),
  /** `probe`: whether a direct probe of the primary follows the hold-off (the pinned `holdOff.probe`, else the one the request describes). */
  holdOff: Type.Object({ durationMs: Type.Number(), probe: Type.Boolean() }),
  dataLoss: Type.Optional(Type.Object({ kind: Type.Union([Type.Literal('http'), Type.Literal('postgres')]), maxMs: Type.Number() })),
  plan: Type.Array(StepView),
  failback: Type.Optional(Type.Object({ approval: Type.Boolean(), plan: Type.Array(StepView) })),
  /** The activation of this target not yet final, if any (the newest). */
  pending: Type.Optional(Activation),
});
export type TargetView = Static<typeof TargetView>;

export const TargetList = Type.Object({ targets: Type.Array(TargetView) });

/** Reads what `GET /v1/targets` shows of each configured target, in configuration order. */
export async function targetViews(targets: readonly TargetConfig[], voters: readonly string[], coordination: Coordination, now: number): Promise<TargetView[]> {
  const unfinished = await coordination.unfinishedActivations();
  return Promise.all(
    targets.map(async (target): Promise<TargetView> => {
      const state = await coordination.targetState(target.name);
      // A read-only transaction: it writes nothing, so it commits nothing.
      const votes = await coordination.transact({ votes: [target.name] }, (tx) => tx.votes(target.name));
      const pending = unfinished.find((a) => a.target === target.name && !FINAL.has(a.status));
      return {
        name: target.name,
        active: { target: target.name, ...state },
        mode: target.mode,
        ...(target.rto !== undefined && { rtoMs: target.rto }),
        quorum: { votes: target.quorum.votes, windowMs: target.quorum.window },
        voters: [...voters],
        votes: votesWithin(votes, now, target.quorum.window).map((v) => ({ voter: v.voter, at: v.receivedAt, incidentId: v.incidentId })),
        holdOff: { durationMs: target.holdOff.enabled ? target.holdOff.duration : 0, probe: target.holdOff.enabled },
        ...(target.dataLoss && { dataLoss: { kind: target.dataLoss.kind, maxMs: target.dataLoss.maxDataLoss } }),
        plan: target.plan.map(stepView),
        ...(target.failback && { failback: { approval: target.failback.approval, plan: target.failback.plan.map(stepView) } }),
        ...(pending && { pending }),
      };
    }),
  );
}
