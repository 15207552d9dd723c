import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from './config.js';
import { collectConfigProblems, Duration, repeatedKeys, HttpUrl, configPathFrom, formatPath, loadConfigFile, parseConfigText } from './config.js';

const Schema = Type.Object(
  {
    server: Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65535, default: 8082 }) }, { default: {}, additionalProperties: false }),
    monitors: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          url: HttpUrl(),
          interval: Duration({ default: '10s' }),
          failureThreshold: Type.Integer({ minimum: 1, default: 3 }),
          mode: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('approval')])),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    secret: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const problems = (text: string, env: Record<string, string> = {}) => collectConfigProblems(() => parseConfigText(Schema, text, 'test.yaml', env));

describe('config', () => {
  it('applies defaults and decodes durations to milliseconds', () => {
    const config = parseConfigText(Schema, 'monitors:\n  - { name: a, url: "http://127.0.0.1:1/health", interval: 250ms }\n', 't', {});
    expect(config).toEqual({
      server: { port: 8082 },
      monitors: [{ name: 'a', url: 'http://127.0.0.1:1/health', interval: 250, failureThreshold: 3 }],
    });
  });

  it('reports every problem at once, each naming its path', () => {
    const found = problems(
      [
        'server: { port: 70000 }',
        'monitors:',
        '  - { name: a, url: "http://x/health", interval: ten }',
        '  - { url: "ftp://x", failureThreshold: 0, mode: yolo, extra: 1 }',
      ].join('\n'),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: .*65535.*70000/),
        'monitors[0].interval: expected a duration such as "10s", got "ten"',
        'monitors[1].name: is required',
        expect.stringMatching(/^monitors\[1\]\.url: expected an http\(s\) URL .*got "ftp:\/\/x"/),
        expect.stringMatching(/^monitors\[1\]\.failureThreshold: .*1.*got 0/),
        'monitors[1].mode: expected one of "auto", "approval", got "yolo"',
        expect.stringMatching(/^monitors\[1\]\.extra: unknown key/),
      ]),
    );
    expect(found.length).toBeGreaterThanOrEqual(7);
  });

  it('names the line and column of a YAML syntax error', () => {
    expect(problems('monitors: [\n  { name: a\n')[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('interpolates ${VAR} and ${VAR:-default}, and converts numbers', () => {
    const config = parseConfigText(Schema, 'server: { port: "${PORT:-9000}" }\nsecret: "${S}-x $${LITERAL}"\n', 't', { S: 'abc' });
    expect(config.server.port).toBe(9000);
    expect(config.secret).toBe('abc-x ${LITERAL}');
  });

  it('reads VAR_FILE when VAR is unset, for secrets mounted as files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    writeFileSync(join(dir, 'secret'), 'from-file\n');
    const config = parseConfigText(Schema, 'secret: ${TOKEN}\n', 't', { TOKEN_FILE: join(dir, 'secret') });
    expect(config.secret).toBe('from-file');
    expect(problems('secret: ${TOKEN}\n', { TOKEN_FILE: join(dir, 'missing') })[0]).toMatch(/^secret: cannot read TOKEN_FILE .*ENOENT/);
  });

  it('names an unset variable without a default', () => {
    expect(problems('secret: ${NOPE}\n')).toEqual(['secret: environment variable NOPE is not set (write ${NOPE:-default} for a default)']);
  });

  it('reports an unreadable file', () => {
    expect(() => loadConfigFile(Schema, '/nonexistent/vigil.yaml', {})).toThrow(/cannot read the file: ENOENT/);
  });

  it('finds the config path from --config or VIGIL_CONFIG', () => {
    expect(configPathFrom(['--config', 'a.yaml'], {})).toBe('a.yaml');
    expect(configPathFrom(['--config=b.yaml'], { VIGIL_CONFIG: 'c.yaml' })).toBe('b.yaml');
    expect(configPathFrom([], { VIGIL_CONFIG: 'c.yaml' })).toBe('c.yaml');
    expect(configPathFrom([], {})).toBeUndefined();
  });

  it('formats paths the way a person reads YAML', () => {
    expect(formatPath(['monitors', 0, 'interval'])).toBe('monitors[0].interval');
    expect(formatPath(['checks', '2'])).toBe('checks[2]');
    expect(formatPath([])).toBe('(top level)');
  });
});

describe('config unions', () => {
  const Check = Type.Union([
    Type.Object({ kind: Type.Literal('http'), url: HttpUrl() }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('tcp'), host: Type.String(), port: Type.Integer() }, { additionalProperties: false }),
  ]);
  const Checks = Type.Object({ checks: Type.Array(Check) });

  it('reports the errors of the branch the kind selects', () => {
    try {
      parseConfigText(Checks, 'checks:\n  - { kind: tcp, host: db }\n  - { kind: http, url: nope }\n  - { kind: smtp }\n', 't', {});
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'checks[0].port: is required',
        'checks[1].url: expected an http(s) URL such as "http://127.0.0.1:8090/health", got "nope"',
        'checks[2].kind: expected one of "http", "tcp", got "smtp"',
      ]);
    }
  });
});

describe('config secrets', () => {
  it('never echoes a value found under a secret-looking key', () => {
    const S = Type.Object({ voter: Type.Object({ secret: Type.String({ pattern: '^whsec_' }) }) });
    try {
      parseConfigText(S, 'voter: { secret: hunter2-plaintext }\n', 't', {});
      expect.unreachable();
    } catch (err) {
      const text = (err as ConfigError).message;
      expect(text).toContain('voter.secret: expected');
      expect(text).not.toContain('hunter2');
    }
  });
});

describe('config union defaults', () => {
  it('does not report fields that have defaults as required when the member has a typo', () => {
    const S = Type.Object({
      checks: Type.Array(
        Type.Union([
          Type.Object({ kind: Type.Literal('tcp'), port: Type.Integer(), timeout: Duration({ default: '1s' }) }, { additionalProperties: false }),
          Type.Object({ kind: Type.Literal('http'), url: Type.String() }, { additionalProperties: false }),
        ]),
      ),
    });
    try {
      parseConfigText(S, 'checks:\n  - { kind: tcp, prot: 5432 }\n', 't', {});
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(['checks[0].port: is required', 'checks[0].prot: unknown key (check its spelling and indentation)']);
    }
  });
});

describe('config union default member', () => {
  const Check = Type.Union([
    Type.Object({ kind: Type.Literal('http', { default: 'http' }), url: HttpUrl(), timeout: Duration({ default: '1s' }) }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('tcp'), host: Type.String(), port: Type.Integer() }, { additionalProperties: false }),
  ]);
  const S = Type.Object({ port: Type.Integer({ default: 1 }), checks: Type.Array(Check) }, { additionalProperties: false });

  it('treats an entry without `kind` as the member whose kind has a default, with its defaults', () => {
    expect(parseConfigText(S, 'checks:\n  - { url: "http://127.0.0.1:1/h" }\n', 't', {}).checks).toEqual([
      { kind: 'http', url: 'http://127.0.0.1:1/h', timeout: 1000 },
    ]);
  });

  it('reports its errors together with every other error in the file', () => {
    expect(problems2('port: x\nchecks:\n  - { url: nope }\n  - { kind: tcp, host: h }\n')).toEqual([
      'port: expected integer, got "x"',
      'checks[0].url: expected an http(s) URL such as "http://127.0.0.1:8090/health", got "nope"',
      'checks[1].port: is required',
    ]);
  });

  const problems2 = (text: string) => collectConfigProblems(() => parseConfigText(S, text, 't', {}));
});

describe('repeatedKeys', () => {
  it('names each later entry whose key an earlier one used, with the first index', () => {
    expect(repeatedKeys(['a', 'b', 'a', 'c', 'b', 'a'], (x) => x)).toEqual([
      { index: 2, first: 0, key: 'a' },
      { index: 4, first: 1, key: 'b' },
      { index: 5, first: 0, key: 'a' },
    ]);
    expect(repeatedKeys([], String)).toEqual([]);
  });
});
