import { describe, expect, it } from 'vitest';
import { EventParser } from './sse.js';

describe('EventParser', () => {
  it('reads events split anywhere across chunks, with ids, comments and multi-line data', () => {
    const parser = new EventParser();
    const text = ': hello\n\nid: 1.2\nevent: active\ndata: {"a":\ndata: 1}\n\n: keep-alive\n\nevent: activation\r\ndata: x\r\n\r\n';
    const events = [];
    for (let i = 0; i < text.length; i += 3) events.push(...parser.push(text.slice(i, i + 3)));
    expect(events).toEqual([
      { event: 'active', data: '{"a":\n1}', id: '1.2' },
      { event: 'activation', data: 'x', id: '1.2' },
    ]);
  });

  it('an event without a name is a message', () => {
    expect(new EventParser().push('data: y\n\n')).toEqual([{ event: 'message', data: 'y' }]);
  });
});
