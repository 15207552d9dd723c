import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from './logger.js';

describe('logger', () => {
  it('writes JSON with the service name and redacts secrets', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: 'test', destination });
    logger.info({ req: { headers: { authorization: 'Bearer abc' } }, voter: { secret: 'whsec_x', id: 'w1' } }, 'hello');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'test', level: 'info', msg: 'hello', voter: { secret: 'REDACTED', id: 'w1' } });
    expect(lines[0]).not.toContain('Bearer abc');
    expect(lines[0]).not.toContain('whsec_x');
  });

  it('masks credentials in URLs', () => {
    expect(redactUrl('https://user:pw@example.test/a?token=t1&x=1')).toBe('https://user:REDACTED@example.test/a?token=REDACTED&x=1');
    expect(redactUrl('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com/services/T0/REDACTED');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});
