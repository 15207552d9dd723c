import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, defaultIncidentId, next, type DecisionEvent, type MonitorState, type Policy, type ProbeVerdict } from './decision.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const policy: Policy = { monitor: 'primary', failureThreshold: 3, successThreshold: 2, activate: true };

// Compact notation: F fail, S success, f/s the same but not counted.
const VERDICTS: Record<string, ProbeVerdict> = {
  F: { ok: false },
  S: { ok: true },
  f: { ok: false, counted: false },
  s: { ok: true, counted: false },
};

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
    // uncounted results change nothing: not the failure count, not the success count
    ['FFfF', ['degraded', 'degraded', 'degraded', 'down'], ['3:alert-firing', '3:activate']],
    ['FFsF', ['degraded', 'degraded', 'degraded', 'down'], ['3:alert-firing', '3:activate']],
    ['fff', ['unknown', 'unknown', 'unknown'], []],
    ['FFFSsS', ['degraded', 'degraded', 'down', 'down', 'down', 'up'], ['2:alert-firing', '2:activate', '5:alert-resolved']],
    ['FFFSfS', ['degraded', 'degraded', 'down', 'down', 'down', 'up'], ['2:alert-firing', '2:activate', '5:alert-resolved']],
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
    expect(all.map((e) => e.incident.id)).toEqual([state.incident!.id, state.incident!.id]);
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

  it('returns the very same state for an uncounted result', () => {
    const before = run('FF').state;
    expect(next(before, { ok: false, counted: false }, policy, T0 + 99_000)).toEqual({ state: before, events: [] });
  });

  it('resumes from a persisted state without repeating the alert or the activation', () => {
    const down = JSON.parse(JSON.stringify(run('FFF').state)) as MonitorState;
    expect(run('FFFF', policy, down).events).toEqual([]);
    expect(run('SS', policy, down).events).toEqual(['1:alert-resolved']);
  });
});

describe('decision properties', () => {
  const verdict = fc.record({ ok: fc.boolean(), counted: fc.boolean() });
  const policies = fc.record({
    monitor: fc.constantFrom('primary', 'db'),
    failureThreshold: fc.integer({ min: 1, max: 6 }),
    successThreshold: fc.integer({ min: 1, max: 6 }),
    activate: fc.boolean(),
  });
  const scenario = fc.record({
    policy: policies,
    verdicts: fc.array(verdict, { maxLength: 80 }),
    // where a restart reloads the state from its JSON snapshot
    restarts: fc.array(fc.nat(80), { maxLength: 4 }),
  });

  it('follows the specification: fire and activate exactly at the Nth consecutive counted failure, once per incident; resolve after M successes', () => {
    fc.assert(
      fc.property(scenario, ({ policy: p, verdicts, restarts }) => {
        let state = INITIAL_STATE;
        // an independent, spec-level model of the counts
        let failures = 0;
        let successes = 0;
        let open: string | undefined;
        const seen = new Map<string, { firing: number; activate: number; resolved: number }>();
        verdicts.forEach((v, i) => {
          if (restarts.includes(i)) state = JSON.parse(JSON.stringify(state)) as MonitorState;
          const { state: after, events } = next(state, v, p, T0 + i * 1000);
          const types = events.map((e) => e.type);

          if (!v.counted) {
            expect(after).toBe(state);
            expect(events).toEqual([]);
            return;
          }
          if (v.ok) {
            successes++;
            failures = 0;
          } else {
            failures++;
            successes = 0;
          }
          const shouldFire = !v.ok && open === undefined && failures === p.failureThreshold;
          const shouldResolve = v.ok && open !== undefined && successes === p.successThreshold;
          expect(types).toEqual(shouldFire ? (p.activate ? ['alert-firing', 'activate'] : ['alert-firing']) : shouldResolve ? ['alert-resolved'] : []);

          for (const e of events) {
            const counts = seen.get(e.incident.id) ?? { firing: 0, activate: 0, resolved: 0 };
            counts[e.type === 'alert-firing' ? 'firing' : e.type === 'activate' ? 'activate' : 'resolved']++;
            seen.set(e.incident.id, counts);
          }
          if (shouldFire) open = after.incident!.id;
          if (shouldResolve) {
            expect(events[0]!.incident.id).toBe(open);
            open = undefined;
          }

          expect(after.consecutiveFailures).toBe(failures);
          expect(after.consecutiveSuccesses).toBe(successes);
          expect(after.incident?.id).toBe(open);
          expect(after.status === 'down').toBe(open !== undefined);
          expect(after.status).toBe(open !== undefined ? 'down' : v.ok ? 'up' : 'degraded');
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

  it('never produces an event from uncounted results alone', () => {
    fc.assert(
      fc.property(policies, fc.array(fc.boolean(), { maxLength: 50 }), (p, oks) => {
        let state = INITIAL_STATE;
        oks.forEach((ok, i) => {
          const decision = next(state, { ok, counted: false }, p, T0 + i);
          expect(decision.events).toEqual([]);
          state = decision.state;
        });
        expect(state).toBe(INITIAL_STATE);
      }),
    );
  });
});
