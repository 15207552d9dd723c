import { describe, expect, it } from 'vitest';
import { crossCheck, detectKind, type ActivationFacts, type WatchdogFacts } from './check-config.js';

const S1 = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const S2 = 'whsec_c2Vjb25kLXdhdGNoZG9nLXNlY3JldC0xMjM0';

const watchdog = (overrides: Partial<WatchdogFacts> = {}): WatchdogFacts => ({
  path: 'w1.yaml',
  voter: { id: 'watchdog-1', secret: S1 },
  monitors: [{ name: 'shop', intervalMs: 2_000, failureThreshold: 3, timeoutMs: 1_000, detectionMs: 7_000, target: 'shop' }],
  ...overrides,
});
const activation = (overrides: Partial<ActivationFacts> = {}): ActivationFacts => ({
  path: 'a.yaml',
  voters: [{ id: 'watchdog-1', secret: S1 }],
  targets: [{ name: 'shop', quorumVotes: 1, holdOffMs: 0, holdOffEnabled: true, planBudgetMs: 5_000, rtoMs: 60_000 }],
  ...overrides,
});
const errors = (checks: ReturnType<typeof crossCheck>) => checks.filter((c) => c.level === 'error').map((c) => c.text);

describe('check-config across files', () => {
  it('tells a file\'s service by its keys', () => {
    expect(detectKind({ monitors: [], voter: {} })).toBe('watchdog');
    expect(detectKind({ targets: [], voters: [] })).toBe('activation');
    expect(detectKind({ checks: [], serviceId: 'x' })).toBe('health-check');
    expect(detectKind({ server: {}, dataDir: 'x' })).toBeUndefined();
    expect(detectKind(null)).toBeUndefined();
    expect(detectKind(['x'])).toBeUndefined();
  });

  it('matching voters, existing targets and a budget within the rto pass', () => {
    const checks = crossCheck([watchdog()], [activation()]);
    expect(errors(checks)).toEqual([]);
    expect(checks.filter((c) => c.level === 'warning')).toEqual([]);
    const rto = checks.find((c) => c.check === 'rto')!;
    // 2s × 3 + 1s detection, hold-off 0 + the confirmation probe (the monitor's timeout 1s), plan 5s.
    expect(rto.text).toContain('= 13s within rto 1m');
  });

  it('an unknown voter, or a known one with another secret, is an error that never shows the secret', () => {
    const unknown = errors(crossCheck([watchdog({ voter: { id: 'watchdog-9', secret: S1 } })], [activation()]));
    expect(unknown.join()).toMatch(/voter "watchdog-9" of w1.yaml is not among the voters of a.yaml/);
    const secret = errors(crossCheck([watchdog({ voter: { id: 'watchdog-1', secret: S2 } })], [activation()]));
    expect(secret.join()).toMatch(/secret in w1.yaml differs from the one in a.yaml/);
    expect(secret.join()).not.toContain(S1);
    expect(secret.join()).not.toContain(S2);
  });

  it('quorum k above the voters is an error; fewer voting watchdogs given than k is a warning', () => {
    const impossible = crossCheck([], [activation({ voters: [], targets: [{ name: 'shop', quorumVotes: 1, holdOffMs: 0, holdOffEnabled: false, planBudgetMs: 1 }] })]);
    expect(errors(impossible).join()).toMatch(/quorum 1 > 0 voter\(s\)/);
    const two = activation({ voters: [{ id: 'watchdog-1', secret: S1 }, { id: 'watchdog-2', secret: S2 }], targets: [{ name: 'shop', quorumVotes: 2, holdOffMs: 0, holdOffEnabled: false, planBudgetMs: 1 }] });
    const checks = crossCheck([watchdog()], [two]);
    expect(errors(checks)).toEqual([]);
    expect(checks.filter((c) => c.level === 'warning').map((c) => c.text)).toEqual([
      'voter "watchdog-2" of a.yaml is not the voter of any watchdog file given',
      'target shop: quorum 2, but 1 of the watchdog files given vote for it',
    ]);
    const both = crossCheck([watchdog(), watchdog({ path: 'w2.yaml', voter: { id: 'watchdog-2', secret: S2 } })], [two]);
    expect(both.filter((c) => c.level !== 'ok')).toEqual([]);
  });

  it('a monitor activating a target the activation service lacks is an error', () => {
    const checks = crossCheck([watchdog({ monitors: [{ name: 'm', intervalMs: 1_000, failureThreshold: 1, timeoutMs: 100, detectionMs: 1_100, target: 'nowhere' }] })], [activation()]);
    expect(errors(checks).join()).toMatch(/monitor m of w1.yaml activates target "nowhere", which a.yaml does not define \(targets: shop\)/);
  });

  it('worst-case detection + hold-off + plan over the rto is an error naming every term', () => {
    const slow = watchdog({ monitors: [{ name: 'shop', intervalMs: 20_000, failureThreshold: 3, timeoutMs: 5_000, detectionMs: 65_000, target: 'shop' }] });
    const text = errors(crossCheck([slow], [activation({ targets: [{ name: 'shop', quorumVotes: 1, holdOffMs: 10_000, holdOffEnabled: true, planBudgetMs: 5_000, rtoMs: 60_000 }] })])).join();
    expect(text).toContain('detection 20s × 3 + 5s = 1m5s + hold-off 15s + plan budget 5s = 1m25s exceeds rto 1m');
    // Without a watchdog file the detection is not counted: a warning, or an error when the rest alone is over.
    const alone = crossCheck([], [activation({ targets: [{ name: 'shop', quorumVotes: 1, holdOffMs: 0, holdOffEnabled: false, planBudgetMs: 90_000, rtoMs: 60_000 }] })]);
    expect(alone.find((c) => c.check === 'rto')).toMatchObject({ level: 'error' });
  });

  it('activation replicas that disagree on voters are a warning', () => {
    const checks = crossCheck([], [activation(), activation({ path: 'b.yaml', voters: [{ id: 'watchdog-1', secret: S2 }] })]);
    expect(checks.some((c) => c.check === 'replicas' && c.level === 'warning')).toBe(true);
  });
});
