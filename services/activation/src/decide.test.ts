import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { RequestRecord, TargetState } from './store.js';

const free: TargetState = { active: 'primary', epoch: 3 };
const held: TargetState = { active: 'secondary', epoch: 4, since: '2026-11-22T10:05:00Z', activationId: 'act_held' };

const seen = (extra: Partial<RequestRecord> = {}): RequestRecord => ({
  target: 'primary',
  voter: 'watchdog-1',
  incidentId: 'inc-1',
  bodyHash: 'body-a',
  signatureHashes: ['sig-1'],
  receivedAt: '2026-11-22T10:00:00Z',
  ...extra,
});

describe('decide', () => {
  it('activates a free target with the next epoch', () => {
    expect(decide({ previous: undefined, signatureHash: 'sig-1', bodyHash: 'body-a', target: free })).toEqual({ kind: 'activate', epoch: 4 });
  });

  it('refuses a held target, naming the holder and its epoch', () => {
    expect(decide({ previous: undefined, signatureHash: 'sig-1', bodyHash: 'body-a', target: held })).toEqual({
      kind: 'already-active',
      activationId: 'act_held',
      epoch: 4,
    });
  });

  it('tells a replay, a retry and a reused id apart', () => {
    const previous = seen({ activationId: 'act_held' });
    expect(decide({ previous, signatureHash: 'sig-1', bodyHash: 'body-a', target: held })).toEqual({ kind: 'replayed' });
    expect(decide({ previous, signatureHash: 'sig-2', bodyHash: 'body-a', target: held })).toEqual({ kind: 'retry', activationId: 'act_held' });
    expect(decide({ previous, signatureHash: 'sig-2', bodyHash: 'body-b', target: held })).toEqual({ kind: 'conflict' });
  });

  it('decides afresh on a retry of a request that created nothing', () => {
    const previous = seen();
    expect(decide({ previous, signatureHash: 'sig-2', bodyHash: 'body-a', target: held })).toMatchObject({ kind: 'already-active' });
    expect(decide({ previous, signatureHash: 'sig-2', bodyHash: 'body-a', target: free })).toEqual({ kind: 'activate', epoch: 4 });
  });
});
