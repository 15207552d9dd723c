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
      signatureTolerance: 300_000,
      voters: [],
      targets: [],
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
    });
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
