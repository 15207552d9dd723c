import { describe, expect, it } from 'vitest';
import { decodeReply, encodeCommand, RespError } from './resp.js';

describe('RESP', () => {
  it('encodes a command as an array of bulk strings', () => {
    expect(encodeCommand('AUTH', 'pässword').toString()).toBe('*2\r\n$4\r\nAUTH\r\n$9\r\npässword\r\n');
  });

  it('decodes each reply type, and waits for a whole reply', () => {
    expect(decodeReply(Buffer.from('+PONG\r\n'))).toEqual({ value: 'PONG', next: 7 });
    expect(decodeReply(Buffer.from(':42\r\n'))?.value).toBe(42);
    expect(decodeReply(Buffer.from('$-1\r\n'))?.value).toBeNull();
    const error = decodeReply(Buffer.from('-NOAUTH Authentication required.\r\n'))?.value;
    expect(error).toBeInstanceOf(RespError);
    expect((error as RespError).message).toBe('NOAUTH Authentication required.');
    const role = Buffer.from('*3\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n');
    expect(decodeReply(role)?.value).toEqual(['slave', '127.0.0.1', 6379]);
    for (let cut = 1; cut < role.length; cut++) expect(decodeReply(role.subarray(0, cut))).toBeUndefined();
  });
});
