import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run, tokenArgument } from './cli.js';
import { sinceOf } from './commands/history.js';

function sink(): Writable & { text: string; isTTY?: boolean } {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stream.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string };
  stream.text = '';
  return stream;
}

async function vigil(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = sink();
  const err = sink();
  const code = await run(args, { out, err, env });
  return { code, out: out.text, err: err.text };
}

describe('vigil command line', () => {
  it('refuses a token as an argument, saying why, before anything else', async () => {
    expect(tokenArgument(['status', '--token', 'x'])).toBe('--token');
    expect(tokenArgument(['--token=x', 'status'])).toBe('--token');
    expect(tokenArgument(['status', '--', '--token'])).toBeUndefined();
    expect(tokenArgument(['status', '--token-file', 'f'])).toBeUndefined();
    const result = await vigil(['approve', 'a1', '--reason', 'r', '--token', 'secret-token']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--token is refused: .*visible to every user.*VIGIL_TOKEN or use --token-file/);
    expect(result.err).not.toContain('secret-token');
    expect(result.out).toBe('');
  });

  it('usage errors exit 2 on stderr; help exits 0 on stdout with the exit codes', async () => {
    const help = await vigil(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Exit codes:');
    expect((await vigil(['nope'])).code).toBe(2);
    expect((await vigil(['show'])).code).toBe(2);
    expect((await vigil(['approve', 'x'])).code).toBe(2);
    expect((await vigil(['-o', 'xml', 'status'])).code).toBe(2);
    expect((await vigil(['status', '--until-switch'])).code).toBe(2);
    expect((await vigil(['--timeout', 'soon', 'status'])).code).toBe(2);
    expect((await vigil(['failback', 't', '--reason', 'r', '--wait', 'forever'], { VIGIL_TOKEN: 't' })).code).toBe(2);
    expect((await vigil(['history', '--since', 'yesterday'])).code).toBe(2);
    const noToken = await vigil(['approve', 'x', '--reason', 'r']);
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/VIGIL_TOKEN or give --token-file/);
    expect((await vigil(['approve', 'x', '--reason', 'r', '--token-file', '/nonexistent/token'])).code).toBe(1);
  });

  it('--since takes a duration back from now or a time', () => {
    const now = Date.parse('2026-12-03T10:00:00Z');
    expect(sinceOf(undefined, now)).toBeUndefined();
    expect(sinceOf('1h', now)).toBe(now - 3_600_000);
    expect(sinceOf('2026-12-01T00:00:00Z', now)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(() => sinceOf('yesterday', now)).toThrow(/--since/);
  });
});
