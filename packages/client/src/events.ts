import diagnostics from 'node:diagnostics_channel';
import type { ActiveState, Side } from './state.js';

/** Where a state came from: the event stream, the slow poll, or a re-check a failed request asked for. */
export type StateSource = 'stream' | 'poll' | 'recheck';

/** One side of a target as the client routes to it. */
export interface SideInfo {
  side: Side;
  origin: string;
  epoch: number;
}

/** What both switch events say: which target moves from which side to which, and why. */
export interface SwitchInfo {
  target: string;
  previous: SideInfo;
  next: SideInfo;
  epoch: number;
  reason: 'failover' | 'failback';
  activationId?: string;
  source: StateSource;
}

/**
 * The client is about to move a target's traffic to the other side. Listeners may hold the move
 * for preparations (flush a buffer, warm a cache) with `waitUntil(promise)`, up to
 * `switchTimeoutMs`; requests arriving meanwhile wait too.
 */
export interface SwitchRequiredEvent extends SwitchInfo {
  waitUntil(promise: Promise<unknown>): void;
}

/** Traffic of `target` now goes to `next.origin`: no request is sent to the previous side after this. */
export interface SwitchedEvent extends SwitchInfo {
  /** From `switchRequired` to `switched` (the listeners' `waitUntil` included). */
  durationMs: number;
}

/** A newer state was accepted (every one: the first, an epoch raised on the same side, a switch). */
export interface StateEvent {
  target: string;
  state: ActiveState;
  previous?: ActiveState;
  source: StateSource;
}

/** No activation-service URL has confirmed the target's state for longer than `staleAfterMs`; the last one is kept. */
export interface StaleEvent {
  target: string;
  /** The state still used, if one was ever known. */
  state?: ActiveState;
  ageMs: number;
  staleAfterMs: number;
}

/** A target that was stale has a confirmed state again. */
export interface RecoveredEvent {
  target: string;
  state: ActiveState;
  staleForMs: number;
}

/** A request to the activation service failed; the client goes on with the next URL or later. */
export interface ControlPlaneErrorEvent {
  target: string;
  url: string;
  operation: StateSource;
  error: Error;
}

/** An answer older than the state held (a replayed or lagging event) was ignored. */
export interface IgnoredEvent {
  target: string;
  state: ActiveState;
  held: ActiveState;
  source: StateSource;
}

export interface VigilClientEvents {
  state: [StateEvent];
  switchRequired: [SwitchRequiredEvent];
  switched: [SwitchedEvent];
  stale: [StaleEvent];
  recovered: [RecoveredEvent];
  controlPlaneError: [ControlPlaneErrorEvent];
  ignored: [IgnoredEvent];
}

/**
 * The same events on `node:diagnostics_channel`, for tracing and logging code that does not hold
 * the client: `vigil:client:switchRequired`, `vigil:client:switched`, and so on.
 */
export const channels: { [K in keyof VigilClientEvents]: diagnostics.Channel } = {
  state: diagnostics.channel('vigil:client:state'),
  switchRequired: diagnostics.channel('vigil:client:switchRequired'),
  switched: diagnostics.channel('vigil:client:switched'),
  stale: diagnostics.channel('vigil:client:stale'),
  recovered: diagnostics.channel('vigil:client:recovered'),
  controlPlaneError: diagnostics.channel('vigil:client:controlPlaneError'),
  ignored: diagnostics.channel('vigil:client:ignored'),
};
