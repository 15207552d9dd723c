import { describe, expect, it } from 'vitest';
import type { Vote } from '@vigil/core';
import { confirmationOf, decide, nextStage, type DecisionInput, type RequestedProbe, type StageInput } from './decide.js';
import type { RequestRecord, TargetState } from './store.js';

const free: TargetState = { active: 'primary', epoch: 3 };
const held: TargetState = { active: 'secondary', epoch: 4, since: '2026-11-22T10:05:00Z', activationId: 'act_held' };
const NOW = Date.parse('2026-11-22T10:10:00Z');

const seen = (extra: Partial<RequestRecord> = {}): RequestRecord => ({
  target: 'primary',
  voter: 'watchdog-1',
  incidentId: 'inc-1',
  bodyHash: 'body-a',
  signatureHashes: ['sig-1'],
  receivedAt: '2026-11-22T10:00:00Z',
  ...extra,
});

const vote = (voter: string, secondsAgo: number): Vote => ({ voter, requestId: `msg-${voter}`, incidentId: `inc-${voter}`, receivedAt: new Date(NOW - secondsAgo * 1000).toISOString() });

const input = (extra: Partial<DecisionInput> = {}): DecisionInput => ({
  previous: undefined,
  signatureHash: 'sig-1',
  bodyHash: 'body-a',
  target: free,
  voter: 'watchdog-1',
  votes: [],
  quorum: { votes: 1, windowMs: 300_000 },
  now: NOW,
  ...extra,
});

describe('decide', () => {
  it('activates a free target with the next epoch', () => {
    expect(decide(input())).toEqual({ kind: 'activate', epoch: 4, voters: ['watchdog-1'] });
  });

  it('refuses a held target, naming the holder and its epoch', () => {
    expect(decide(input({ target: held }))).toEqual({ kind: 'already-active', activationId: 'act_held', epoch: 4 });
  });

  it('tells a replay, a retry and a reused id apart', () => {
    const previous = seen({ activationId: 'act_held' });
    expect(decide(input({ previous, target: held }))).toEqual({ kind: 'replayed' });
    expect(decide(input({ previous, signatureHash: 'sig-2', target: held }))).toEqual({ kind: 'retry', activationId: 'act_held' });
    expect(decide(input({ previous, signatureHash: 'sig-2', bodyHash: 'body-b', target: held }))).toEqual({ kind: 'conflict' });
  });

  it('decides afresh on a retry of a request that created nothing', () => {
    const previous = seen();
    expect(decide(input({ previous, signatureHash: 'sig-2', target: held }))).toMatchObject({ kind: 'already-active' });
    expect(decide(input({ previous, signatureHash: 'sig-2' }))).toEqual({ kind: 'activate', epoch: 4, voters: ['watchdog-1'] });
  });

  const twoOfThree = { votes: 2, windowMs: 60_000 };
  it.each<[string, string, Vote[], ReturnType<typeof decide>]>([
    ['a first vote records it', 'watchdog-1', [], { kind: 'vote-recorded', votes: 1, quorum: 2 }],
    ['the same voter twice counts once', 'watchdog-1', [vote('watchdog-1', 10)], { kind: 'vote-recorded', votes: 1, quorum: 2 }],
    ['a second distinct voter activates', 'watchdog-2', [vote('watchdog-1', 10)], { kind: 'activate', epoch: 4, voters: ['watchdog-1', 'watchdog-2'] }],
    ['a vote outside the window does not count', 'watchdog-2', [vote('watchdog-1', 61)], { kind: 'vote-recorded', votes: 1, quorum: 2 }],
    ['a vote at the window edge counts', 'watchdog-3', [vote('watchdog-1', 60)], { kind: 'activate', epoch: 4, voters: ['watchdog-1', 'watchdog-3'] }],
  ])('quorum 2 of 3: %s', (_name, voter, votes, expected) => {
    expect(decide(input({ voter, votes, quorum: twoOfThree }))).toEqual(expected);
  });

  it('checks the holder before counting votes', () => {
    expect(decide(input({ voter: 'watchdog-2', votes: [vote('watchdog-1', 1)], quorum: twoOfThree, target: held }))).toMatchObject({ kind: 'already-active' });
  });
});

describe('nextStage', () => {
  const base: StageInput = { kind: 'failover', mode: 'auto', approved: false };
  const low = { lagMs: 2_000, maxMs: 30_000 };
  const high = { lagMs: 45_000, maxMs: 30_000 };
  const unknown = { maxMs: 30_000 };
  it.each<[string, Partial<StageInput>, ReturnType<typeof nextStage>['kind'], string?]>([
    ['auto runs', {}, 'run'],
    ['approval waits', { mode: 'approval' }, 'await-approval', 'approval mode'],
    ['approval, approved, runs', { mode: 'approval', approved: true }, 'run'],
    ['notify-only never runs', { mode: 'notify-only' }, 'notify-only', 'notify-only'],
    ['notify-only even when approved', { mode: 'notify-only', approved: true }, 'notify-only'],
    ['a recovered primary cancels after the hold-off', { primary: { status: 'pass', output: 'HTTP 200' } }, 'cancel', 'HTTP 200'],
    ['the cancel says what answered', { primary: { status: 'pass', probe: 'http GET http://primary/health', output: 'HTTP 200' } }, 'cancel', '(http GET http://primary/health: HTTP 200)'],
    ['a recovered primary cancels even in approval mode', { mode: 'approval', primary: { status: 'pass' } }, 'cancel'],
    ['a primary still down goes on', { primary: { status: 'fail' } }, 'run'],
    ['lag within the limit runs', { dataLoss: low }, 'run'],
    ['lag over the limit waits even in auto', { dataLoss: high }, 'await-approval', 'up to 45s of writes would be lost'],
    ['unknown lag waits', { dataLoss: unknown }, 'await-approval', 'unknown'],
    ['lag over the limit, approved, runs', { dataLoss: high, approved: true }, 'run'],
    ['notify-only states the data at risk', { mode: 'notify-only', dataLoss: high }, 'notify-only', '45s'],
    ['failback: an unhealthy primary cancels', { kind: 'failback', primary: { status: 'fail' } }, 'cancel', 'not healthy'],
    ['failback: a healthy primary runs', { kind: 'failback', primary: { status: 'pass' } }, 'run'],
    ['failback: approval waits', { kind: 'failback', mode: 'approval', primary: { status: 'pass' } }, 'await-approval', 'failback'],
  ])('%s', (_name, extra, kind, reason) => {
    const stage = nextStage({ ...base, ...extra });
    expect(stage.kind).toBe(kind);
    if (reason !== undefined) expect('reason' in stage ? stage.reason : '').toContain(reason);
  });
});

describe('confirmationOf', () => {
  const on = { enabled: true };
  const pinned = { enabled: true, probe: 'pinned' };
  const valid: RequestedProbe<string> = { kind: 'valid', probe: 'requested' };
  const absent: RequestedProbe<string> = { kind: 'absent' };
  const refused: RequestedProbe<string> = { kind: 'refused', problems: ['incident.probe.kind: a request may describe an http, tcp or dns probe, not "postgres"'] };
  it.each<[string, { enabled: boolean; probe?: string }, RequestedProbe<string>, ReturnType<typeof confirmationOf<string>>]>([
    ['by default, the probe the request describes', on, valid, { kind: 'probe', source: 'request', probe: 'requested' }],
    ['a pinned probe wins over the request', pinned, valid, { kind: 'probe', source: 'config', probe: 'pinned' }],
    ['a pinned probe needs nothing from the request', pinned, refused, { kind: 'probe', source: 'config', probe: 'pinned' }],
    ['turned off, nothing is probed', { enabled: false, probe: 'pinned' }, valid, { kind: 'off' }],
  ])('%s', (_name, holdOff, requested, expected) => {
    expect(confirmationOf(holdOff, requested)).toEqual(expected);
  });

  it('goes on unconfirmed, saying why, when there is nothing to probe with', () => {
    expect(confirmationOf(on, absent)).toEqual({ kind: 'none', reason: expect.stringMatching(/^no probe to confirm with: the request describes none/) as unknown });
  });

  it('goes on unconfirmed when the probe of the request is refused, naming the path and the problem', () => {
    const confirmation = confirmationOf(on, refused);
    expect(confirmation.kind).toBe('none');
    expect(confirmation.kind === 'none' && confirmation.reason).toContain('incident.probe.kind: a request may describe an http, tcp or dns probe, not "postgres"');
  });
});
