import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, defaultIncidentId, next, type DecisionEvent, type MonitorState, type Policy, type Verdict } from './decision.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const policy: Policy = { monitor: 'primary', failureThreshold: 3, successThreshold: 2, activate: true };

// Compact notation: F fail, S pass, I inconclusive, M maintenance.
const VERDICTS: Record<string, Verdict> = { F: 'fail', S: 'pass', I: 'inconclusive', M: 'maintenance' };

/** Runs a sequence one second apart; returns every state and the events as "step:type". */
function run(sequence: string, p: Policy = policy, start: MonitorState = INITIAL_STATE) {
  let state = start;
  const statuses: string[] = [];
  const events: string[] = [];
  const all: DecisionEvent[] = [];
  [...sequence].forEach((c, i) => {
    const decision = next(state, VERDICTS[c]!, p, T0 + i * 1000);
    state = decision.state;
    statuses.push(state.status);
    for (const e of decision.events) events.push(`${i}:${e.type}`);
    all.push(...decision.events);
  });
  return { state, statuses, events, all };
}

describe('decision table', () => {
  it.each([
    // sequence, statuses after each step, events
    ['S', ['up'], []],
    ['F', ['degraded'], []],
    ['FF', ['degraded', 'degraded'], []],
    ['FFF', ['degraded', 'degraded', 'down'], ['2:alert-firing', '2:activate']],
    ['FFFFFF', ['degraded', 'degraded', 'down', 'down', 'down', 'down'], ['2:alert-firing', '2:activate']],
    ['FFS', ['degraded', 'degraded', 'up'], []],
    ['FFSFF', ['degraded', 'degraded', 'up', 'degraded', 'degraded'], []],
    ['FFFS', ['degraded', 'degraded', 'down', 'down'], ['2:alert-firing', '2:activate']],
    ['FFFSS', ['degraded', 'degraded', 'down', 'down', 'up'], ['2:alert-firing', '2:activate', '4:alert-resolved']],
    // a failure during recovery restarts the count of successes, within the same incident
    ['FFFSFSS', ['degraded', 'degraded', 'down', 'down', 'down', 'down', 'up'], ['2:alert-firing', '2:activate', '6:alert-resolved']],
    // failing again during recovery, even past the threshold, raises nothing new
    ['FFFSFFFSS', ['degraded', 'degraded', 'down', 'down', 'down', 'down', 'down', 'down', 'up'], ['2:alert-firing', '2:activate', '8:alert-resolved']],
    // after a resolution, a new outage is a new incident
    ['FFFSSFFF', ['degraded', 'degraded', 'down', 'down', 'up', 'degraded', 'degraded', 'down'], ['2:alert-firing', '2:activate', '4:alert-resolved', '7:alert-firing', '7:activate']],
    // inconclusive results are not counted: not the failure count, not the success count; they open an isolation
    ['FFIF', ['degraded', 'degraded', 'inconclusive', 'down'], ['2:isolated', '3:isolation-ended', '3:alert-firing', '3:activate']],
    ['FFIIIIF', ['degraded', 'degraded', 'inconclusive', 'inconclusive', 'inconclusive', 'inconclusive', 'down'], ['2:isolated', '6:isolation-ended', '6:alert-firing', '6:activate']],
    ['III', ['inconclusive', 'inconclusive', 'inconclusive'], ['0:isolated']],
    ['FFFSIS', ['degraded', 'degraded', 'down', 'down', 'inconclusive', 'up'], ['2:alert-firing', '2:activate', '4:isolated', '5:isolation-ended', '5:alert-resolved']],
    // maintenance: nothing counted, nothing sent; counting resumes where it was
    ['FFMMMF', ['degraded', 'degraded', 'maintenance', 'maintenance', 'maintenance', 'down'], ['5:alert-firing', '5:activate']],
    ['MMM', ['maintenance', 'maintenance', 'maintenance'], []],
    ['FFFSMS', ['degraded', 'degraded', 'down', 'down', 'maintenance', 'up'], ['2:alert-firing', '2:activate', '5:alert-resolved']],
  ])('%s', (sequence, statuses, events) => {
    const result = run(sequence);
    expect(result.statuses).toEqual(statuses);
    expect(result.events).toEqual(events);
  });

  it('does not ask for activation when the policy does not activate', () => {
    const { events, state } = run('FFF', { ...policy, activate: false });
    expect(events).toEqual(['2:alert-firing']);
    expect(state.incident?.activationRequested).toBe(false);
  });

  it('fires on the first failure with a threshold of 1 and resolves on the first success with a threshold of 1', () => {
    expect(run('FS', { ...policy, failureThreshold: 1, successThreshold: 1 }).events).toEqual(['0:alert-firing', '0:activate', '1:alert-resolved']);
  });

  it('dates the incident from the first failure of the streak and derives its id from it', () => {
    const { state, all } = run('SFFF');
    const startedAt = new Date(T0 + 1000).toISOString();
    expect(state.incident).toEqual({ id: 'primary-20261122T100001.000Z', startedAt, activationRequested: true });
    expect(defaultIncidentId('primary', T0 + 1000)).toBe('primary-20261122T100001.000Z');
    expect(all.map((e) => ('incident' in e ? e.incident.id : undefined))).toEqual([state.incident!.id, state.incident!.id]);
  });

  it('lets the caller choose incident ids', () => {
    const { state } = run('FFF', { ...policy, incidentId: (monitor, ms) => `${monitor}/${ms}` });
    expect(state.incident?.id).toBe(`primary/${T0}`);
  });

  it('carries the incident and counts on the events', () => {
    const { all } = run('FFFSS');
    expect(all[0]).toMatchObject({ type: 'alert-firing', consecutiveFailures: 3 });
    expect(all[2]).toMatchObject({ type: 'alert-resolved', consecutiveSuccesses: 2, resolvedAt: new Date(T0 + 4000).toISOString() });
  });

  it('moves lastChange only when the status changes', () => {
    const { state } = run('FFFFF');
    expect(state.lastChange).toBe(new Date(T0 + 2000).toISOString());
    expect(run('SSS').state.lastChange).toBe(new Date(T0).toISOString());
  });

  it('keeps counts, incident and warning unchanged through inconclusive and maintenance results', () => {
    const before = run('FF', { ...policy, warningThreshold: 2 }).state;
    for (const verdict of ['inconclusive', 'maintenance'] as const) {
      const { state } = next(before, verdict, policy, T0 + 99_000);
      expect(state).toMatchObject({ consecutiveFailures: 2, consecutiveSuccesses: 0, warning: before.warning, failingSince: before.failingSince, status: verdict });
    }
  });

  it('opens one isolation per stretch of inconclusive results and ends it at the next conclusive one', () => {
    const { all } = run('IIFIS');
    expect(all).toEqual([
      { type: 'isolated', since: new Date(T0).toISOString() },
      { type: 'isolation-ended', since: new Date(T0).toISOString(), endedAt: new Date(T0 + 2000).toISOString() },
      { type: 'isolated', since: new Date(T0 + 3000).toISOString() },
      { type: 'isolation-ended', since: new Date(T0 + 3000).toISOString(), endedAt: new Date(T0 + 4000).toISOString() },
    ]);
  });

  describe('early warning', () => {
    const warned: Policy = { ...policy, failureThreshold: 4, warningThreshold: 2 };
    it.each([
      ['F', []],
      ['FF', ['1:warning-firing']],
      ['FFFS', ['1:warning-firing', '3:warning-resolved']],
      // the incident's critical alert supersedes the warning
      ['FFFF', ['1:warning-firing', '3:warning-resolved', '3:alert-firing', '3:activate']],
      ['FFSFF', ['1:warning-firing', '2:warning-resolved', '4:warning-firing']],
      ['FIF', ['1:isolated', '2:isolation-ended', '2:warning-firing']],
    ])('%s', (sequence, events) => {
      expect(run(sequence, warned).events).toEqual(events);
    });
  });
});

describe('decision properties', () => {
  const verdict = fc.constantFrom<Verdict>('pass', 'fail', 'inconclusive', 'maintenance');
  const policies = fc
    .record({
      monitor: fc.constantFrom('primary', 'db'),
      failureThreshold: fc.integer({ min: 1, max: 6 }),
      successThreshold: fc.integer({ min: 1, max: 6 }),
      warningThreshold: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      activate: fc.boolean(),
    })
    .map(({ warningThreshold, ...p }): Policy => (warningThreshold === undefined ? p : { ...p, warningThreshold }));
  const scenario = fc.record({
    policy: policies,
    verdicts: fc.array(verdict, { maxLength: 80 }),
    // where a restart reloads the state from its JSON snapshot
    restarts: fc.array(fc.nat(80), { maxLength: 4 }),
  });

  it('follows the specification: activate exactly at the Nth consecutive counted failure, once per incident, never on inconclusive or maintenance; resolve after M successes', () => {
    fc.assert(
      fc.property(scenario, ({ policy: p, verdicts, restarts }) => {
        let state = INITIAL_STATE;
        // an independent, spec-level model of the counts
        let failures = 0;
        let successes = 0;
        let open: string | undefined;
        let isolated = false;
        const seen = new Map<string, { firing: number; activate: number; resolved: number }>();
        verdicts.forEach((v, i) => {
          if (restarts.includes(i)) state = JSON.parse(JSON.stringify(state)) as MonitorState;
          const { state: after, events } = next(state, v, p, T0 + i * 1000);
          const incidentEvents = events.filter((e) => e.type === 'alert-firing' || e.type === 'activate' || e.type === 'alert-resolved');
          const types = incidentEvents.map((e) => e.type);

          if (v === 'inconclusive' || v === 'maintenance') {
            expect(types).toEqual([]);
            expect(events.map((e) => e.type)).toEqual(v === 'inconclusive' && !isolated ? ['isolated'] : []);
            if (v === 'inconclusive') isolated = true;
            expect(after.status).toBe(v);
            expect(after.consecutiveFailures).toBe(failures);
            expect(after.consecutiveSuccesses).toBe(successes);
            expect(after.incident?.id).toBe(open);
            state = after;
            return;
          }
          expect(events.some((e) => e.type === 'isolation-ended')).toBe(isolated);
          isolated = false;
          if (v === 'pass') {
            successes++;
            failures = 0;
          } else {
            failures++;
            successes = 0;
          }
          const shouldFire = v === 'fail' && open === undefined && failures === p.failureThreshold;
          const shouldResolve = v === 'pass' && open !== undefined && successes === p.successThreshold;
          expect(types).toEqual(shouldFire ? (p.activate ? ['alert-firing', 'activate'] : ['alert-firing']) : shouldResolve ? ['alert-resolved'] : []);

          for (const e of incidentEvents) {
            if (!('incident' in e)) continue;
            const counts = seen.get(e.incident.id) ?? { firing: 0, activate: 0, resolved: 0 };
            counts[e.type === 'alert-firing' ? 'firing' : e.type === 'activate' ? 'activate' : 'resolved']++;
            seen.set(e.incident.id, counts);
          }
          if (shouldFire) open = after.incident!.id;
          if (shouldResolve) {
            const [resolved] = incidentEvents;
            expect(resolved?.type === 'alert-resolved' && resolved.incident.id).toBe(open);
            open = undefined;
          }

          expect(after.consecutiveFailures).toBe(failures);
          expect(after.consecutiveSuccesses).toBe(successes);
          expect(after.incident?.id).toBe(open);
          expect(after.status).toBe(open !== undefined ? 'down' : v === 'pass' ? 'up' : 'degraded');
          state = after;
        });
        for (const counts of seen.values()) {
          expect(counts.firing).toBe(1);
          expect(counts.activate).toBe(p.activate ? 1 : 0);
          expect(counts.resolved).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never alerts or activates from inconclusive or maintenance results alone', () => {
    fc.assert(
      fc.property(policies, fc.array(fc.constantFrom<Verdict>('inconclusive', 'maintenance'), { maxLength: 50 }), (p, verdicts) => {
        let state = INITIAL_STATE;
        verdicts.forEach((v, i) => {
          const decision = next(state, v, p, T0 + i);
          expect(decision.events.every((e) => e.type === 'isolated')).toBe(true);
          state = decision.state;
        });
        expect(state).toMatchObject({ consecutiveFailures: 0, consecutiveSuccesses: 0 });
        expect(state.incident).toBeUndefined();
      }),
    );
  });

  it('sends every warning at most once and always resolves it before or with the end of its streak', () => {
    fc.assert(
      fc.property(policies, fc.array(verdict, { maxLength: 80 }), (p, verdicts) => {
        let state = INITIAL_STATE;
        const fired = new Set<string>();
        const resolved = new Set<string>();
        verdicts.forEach((v, i) => {
          const decision = next(state, v, p, T0 + i * 1000);
          for (const e of decision.events) {
            if (e.type === 'warning-firing') {
              expect(fired.has(e.warning.id)).toBe(false);
              fired.add(e.warning.id);
            }
            if (e.type === 'warning-resolved') {
              expect(fired.has(e.warning.id)).toBe(true);
              resolved.add(e.warning.id);
            }
          }
          state = decision.state;
          // an open warning means a failure streak below the threshold, with no incident
          if (state.warning) expect(state.incident).toBeUndefined();
        });
        const open = [...fired].filter((id) => !resolved.has(id));
        expect(open).toEqual(state.warning ? [state.warning.id] : []);
      }),
      { numRuns: 300 },
    );
  });
});
