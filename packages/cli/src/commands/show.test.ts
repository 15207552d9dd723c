import { describe, expect, it } from 'vitest';
import type { Activation } from '@vigil/core';
import { timeline, voteEvidence } from './show.js';

const activation: Activation = {
  id: 'act_1',
  requestId: 'req',
  target: 'shop',
  voter: 'watchdog-2',
  incidentId: 'inc',
  status: 'succeeded',
  epoch: 3,
  createdAt: '2026-12-03T10:00:01.000Z',
  finishedAt: '2026-12-03T10:00:05.000Z',
  kind: 'failover',
  mode: 'approval',
  votes: [
    {
      voter: 'watchdog-1',
      requestId: 'r1',
      incidentId: 'inc',
      receivedAt: '2026-12-03T10:00:00.000Z',
      monitor: 'shop',
      incidentStartedAt: '2026-12-03T09:59:55.000Z',
      consecutiveFailures: 3,
      evidence: [
        { time: '2026-12-03T09:59:58.000Z', status: 'fail', durationMs: 1000, output: 'timed out' },
        { time: '2026-12-03T09:59:59.000Z', status: 'fail', durationMs: 12, output: 'connection refused' },
      ],
    },
    { voter: 'watchdog-2', requestId: 'r2', incidentId: 'inc', receivedAt: '2026-12-03T10:00:01.000Z' },
  ],
  steps: [],
};

describe('show: the timeline of an activation', () => {
  it('evidence → votes → decision → approval → steps with durations and output → outcome', () => {
    const step = { name: 'enable', kind: 'http', status: 'succeeded', startedAt: '2026-12-03T10:00:03.000Z', endedAt: '2026-12-03T10:00:04.250Z', attempts: 2, output: 'answered 200' };
    const entries = timeline(
      activation,
      [
        { time: '2026-12-03T10:00:01.000Z', event: 'activation-created', voter: 'watchdog-2', epoch: 3 },
        { time: '2026-12-03T10:00:01.500Z', event: 'approval-requested', reason: 'approval mode' },
        { time: '2026-12-03T10:00:02.000Z', event: 'approved', operator: 'alice', comment: 'confirmed down' },
        { time: '2026-12-03T10:00:03.000Z', event: 'step-started', step: { ...step, status: 'running' } },
        { time: '2026-12-03T10:00:04.250Z', event: 'step-finished', step },
        { time: '2026-12-03T10:00:05.000Z', event: 'activation-finished', status: 'succeeded' },
      ],
      voteEvidence(activation),
    );
    expect(entries.map((e) => e.phase)).toEqual(['evidence', 'evidence', 'evidence', 'vote', 'vote', 'decision', 'decision', 'approval', 'step', 'step', 'outcome']);
    // From the vote's record, not from the watchdog: the page tells the incident after it ended.
    expect(entries[0]!.text).toBe('watchdog watchdog-1: monitor shop failing since 2026-12-03T09:59:55.000Z (incident inc, 3 consecutive failure(s))');
    expect(entries[2]).toMatchObject({ text: 'probe by watchdog-1: fail in 12ms', output: 'connection refused' });
    expect(entries[7]!.text).toBe('approved by alice: confirmed down');
    expect(entries[9]).toMatchObject({ text: 'step enable succeeded in 1s250ms after 2 attempt(s)', durationMs: 1_250, output: 'answered 200' });
    expect(entries[10]!.text).toBe('succeeded after 4s');
  });

  it('an activation not final ends with "still …", never with a failure', () => {
    const entries = timeline({ ...activation, status: 'running', finishedAt: undefined }, []);
    expect(entries.at(-1)).toMatchObject({ phase: 'outcome', text: 'still running (not final)' });
  });
});
