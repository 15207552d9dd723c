import { describe, expect, it } from 'vitest';
import { collectConfigProblems, parseConfigValue } from '@vigil/core';
import { ActivationConfig } from './config.js';
import { SECRET_1, SECRET_2 } from './test-support/fixtures.js';

const parse = (raw: unknown) => parseConfigValue(ActivationConfig, raw, 'test.yaml', {});

const problemsOf = (raw: unknown) => collectConfigProblems(() => parse(raw));

const step = (extra: Record<string, unknown> = {}) => ({ name: 'enable-standby', kind: 'http', url: 'http://127.0.0.1:8091/admin/enable', ...extra });

describe('ActivationConfig', () => {
  it('starts from an empty configuration with defaults and no targets', () => {
    expect(parse({})).toEqual({
      server: { host: '127.0.0.1', port: 8083 },
      dataDir: './.vigil-data/activation',
      coordination: { kind: 'file', endpoints: [], prefix: '/vigil', ttl: 8_000, margin: 2_000, requestTimeout: 2_000 },
      signatureTolerance: 300_000,
      voters: [],
      operators: [],
      alerts: { webhooks: [] },
      targets: [],
      console: { watchdogs: [] },
    });
  });

  it('fills step defaults and decodes durations', () => {
    const config = parse({ targets: [{ name: 'primary', plan: [step()] }] });
    expect(config.targets[0]!.plan[0]).toEqual({
      ...step(),
      method: 'POST',
      expectStatus: [200, 299],
      timeout: 5_000,
      retries: 0,
      retryDelay: 1_000,
      onFailure: 'abort',
      idempotent: false,
    });
    // Without quorum or mode a target behaves as before: one vote, run at once.
    expect(config.targets[0]).toMatchObject({ quorum: { votes: 1, window: 300_000 }, mode: 'auto' });
    // The direct probe of the primary is on by default, at once, with the probe the request describes.
    expect(config.targets[0]!.holdOff).toEqual({ enabled: true, duration: 0 });
  });

  it('reads a hold-off: turned off, or pinned to a probe with its own hedging', () => {
    const target = (holdOff: unknown) => ({ targets: [{ name: 'primary', holdOff, plan: [step()] }] });
    expect(parse(target({ enabled: false })).targets[0]!.holdOff).toEqual({ enabled: false, duration: 0 });
    expect(
      parse(target({ duration: '30s', probe: { kind: 'tcp', host: 'primary.example', port: 5432, timeout: '2s' }, attempts: 3, hedgeDelay: '400ms' })).targets[0]!.holdOff,
    ).toEqual({ enabled: true, duration: 30_000, probe: { kind: 'tcp', host: 'primary.example', port: 5432, timeout: 2_000 }, attempts: 3, hedgeDelay: 400 });
    expect(problemsOf(target({ attempts: 11 }))).toEqual([expect.stringMatching(/^targets\[0\]\.holdOff\.attempts: /)]);
    expect(problemsOf(target({ hedgeDelay: 'soon' }))).toEqual([expect.stringMatching(/^targets\[0\]\.holdOff\.hedgeDelay: expected a duration/)]);
    expect(problemsOf(target(false))).toEqual([expect.stringMatching(/^targets\[0\]\.holdOff: /)]);
    expect(problemsOf(target({ probe: { kind: 'http', url: 'http://primary.example/health', thresholds: { warn: 500, fail: 100 } } }))).toEqual([
      'targets[0].holdOff.probe.thresholds: warn 500 must be at most fail 100 (a responseTime gets worse as it gets higher)',
    ]);
  });

  it('gives each step kind its own defaults: fence and notify are best effort', () => {
    const config = parse({
      targets: [
        {
          name: 'primary',
          plan: [
            step(),
            { name: 'fence', kind: 'fence', url: 'http://127.0.0.1:9/fence' },
            { name: 'healthy', kind: 'wait-healthy', url: 'http://127.0.0.1:9/health' },
            { name: 'tell', kind: 'notify', message: 'failed over' },
          ],
        },
      ],
    });
    expect(config.targets[0]!.plan.map((s) => [s.kind, s.onFailure, s.timeout])).toEqual([
      ['http', 'abort', 5_000],
      ['fence', 'continue', 5_000],
      ['wait-healthy', 'abort', 120_000],
      ['notify', 'continue', 30_000],
    ]);
  });

  it('refuses an unreachable quorum, and approvals without operators', () => {
    expect(
      problemsOf({
        voters: [{ id: 'watchdog-1', secret: SECRET_1 }],
        targets: [{ name: 'primary', mode: 'approval', quorum: { votes: 2 }, plan: [step()] }],
      }),
    ).toEqual([
      'targets[0].quorum.votes: 2 votes can never be reached by 1 voter(s)',
      'targets[0].name: this target may wait for an approval, so `operators` needs at least one token',
    ]);
  });

  it('rejects a malformed secret without showing it', () => {
    const problems = problemsOf({ voters: [{ id: 'watchdog-1', secret: 'hunter2-not-a-secret' }] });
    expect(problems).toEqual([expect.stringMatching(/^voters\[0\]\.secret: expected a Standard Webhooks secret "whsec_<base64>"/)]);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('rejects repeated voter ids, secrets, target names and step names, naming each path', () => {
    const problems = problemsOf({
      voters: [
        { id: 'watchdog-1', secret: SECRET_1 },
        { id: 'watchdog-1', secret: SECRET_2 },
        { id: 'watchdog-3', secret: SECRET_1 },
      ],
      targets: [
        { name: 'primary', plan: [step(), step()] },
        { name: 'primary', plan: [step()] },
      ],
    });
    expect(problems).toEqual([
      'voters[1].id: the id "watchdog-1" is already used by voters[0].id',
      'voters[2].secret: this secret is already used by voters[0].secret',
      'targets[1].name: the name "primary" is already used by targets[0].name',
      'targets[0].plan[1].name: the step name "enable-standby" is already used by targets[0].plan[0].name',
    ]);
    expect(problems.join('\n')).not.toContain(SECRET_1);
  });

  it('reports schema errors by path, and step rules the schema cannot express', () => {
    expect(problemsOf({ targets: [{ name: 'primary', plan: [step({ kind: 'ftp' })] }] })).toEqual([
      expect.stringMatching(/^targets\[0\]\.plan\[0\]/),
    ]);
    expect(problemsOf({ targets: [{ name: 'primary', plan: [step({ expectStatus: [299, 200] })] }] })).toEqual([
      'targets[0].plan[0].expectStatus: the range [299, 200] is empty; write the lower status first',
    ]);
    expect(problemsOf({ targets: [{ name: 'primary', plan: [] }] })).toEqual([expect.stringMatching(/^targets\[0\]\.plan: /)]);
  });
});
