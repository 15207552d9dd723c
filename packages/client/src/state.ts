/** The two sides of a target. */
export type Side = 'primary' | 'secondary';

/**
 * What the activation service says of a target (`GET /v1/active`): the side taking traffic and
 * the fencing epoch. `revision` orders two states within one epoch (an activation raises the
 * epoch when it starts; traffic moves in that same epoch once its plan has succeeded).
 */
export interface ActiveState {
  target: string;
  active: Side;
  epoch: number;
  revision: number;
  since?: string;
  activationId?: string;
}

/** Of two states of one target, which is newer: the higher epoch, then the higher revision. */
export function compareStates(a: Pick<ActiveState, 'epoch' | 'revision'>, b: Pick<ActiveState, 'epoch' | 'revision'>): number {
  return a.epoch - b.epoch || a.revision - b.revision;
}

/** The event stream's id for a state: what a reconnecting client sends as `Last-Event-ID`. */
export function stateId(state: Pick<ActiveState, 'epoch' | 'revision'>): string {
  return `${state.epoch}.${state.revision}`;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads an answer of the activation service, which this client does not trust blindly: anything
 * that is not a state of `target` is refused with what was wrong, and nothing is taken from it.
 */
export function parseActiveState(value: unknown, target: string): ActiveState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const v = value as Record<string, unknown>;
  if (v.target !== target) throw new Error(`"target" is ${JSON.stringify(v.target)}, expected "${target}"`);
  if (v.active !== 'primary' && v.active !== 'secondary') throw new Error(`"active" is ${JSON.stringify(v.active)}, expected "primary" or "secondary"`);
  if (!isCount(v.epoch)) throw new Error(`"epoch" is ${JSON.stringify(v.epoch)}, expected a whole number ≥ 0`);
  if (v.revision !== undefined && !isCount(v.revision)) throw new Error(`"revision" is ${JSON.stringify(v.revision)}, expected a whole number ≥ 0`);
  const state: ActiveState = { target, active: v.active, epoch: v.epoch, revision: (v.revision) ?? 0 };
  if (typeof v.since === 'string') state.since = v.since;
  if (typeof v.activationId === 'string') state.activationId = v.activationId;
  return state;
}
