import { describe, expect, it } from 'vitest';
import { age, colourEnabled, duration, painter, render, renderEvent, short, stripAnsi, table, when } from './output.js';
import { parse } from 'yaml';

describe('output', () => {
  it('colours only on a terminal and without NO_COLOR', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
    expect(painter(false)('red', 'down')).toBe('down');
    const red = painter(true)('red', 'down');
    expect(red).not.toBe('down');
    expect(stripAnsi(red)).toBe('down');
  });

  it('tables pad to the visible width, colour codes excluded', () => {
    const paint = painter(true);
    const text = table(['A', 'BB'], [[paint('red', 'x'), 'y'], ['long', 'z']]);
    const lines = stripAnsi(text).split('\n');
    expect(lines[0]).toBe('A     BB');
    expect(lines[1]).toBe('x     y');
    expect(lines[2]).toBe('long  z');
  });

  it('json and yaml are the data alone; stream events are one line of JSON or one YAML document', () => {
    const data = { a: 1, b: ['x'] };
    expect(JSON.parse(render('json', data))).toEqual(data);
    expect(parse(render('yaml', data))).toEqual(data);
    expect(renderEvent('json', data)).toBe('{"a":1,"b":["x"]}\n');
    expect(renderEvent('yaml', data).startsWith('---\n')).toBe(true);
  });

  it('durations and ages for people', () => {
    const now = Date.parse('2026-12-03T10:00:00Z');
    expect(duration(undefined)).toBe('-');
    expect(duration(1_500)).toBe('1s500ms');
    expect(duration(90_000)).toBe('1m30s');
    expect(age('2026-12-03T09:59:58Z', now)).toBe('2s ago');
    expect(age('2026-12-03T09:58:00Z', now)).toBe('2m ago');
    expect(age('2026-12-03T10:00:00.300Z', now)).toBe('0s ago'); // a clock slightly ahead
    expect(age('2026-12-03T10:05:00Z', now)).toBe('in 5m');
    expect(age(undefined, now)).toBe('-');
    expect(when('2026-12-03T09:59:00.123Z', now)).toBe('2026-12-03 09:59:00Z (1m ago)');
    expect(short('a\n b   c')).toBe('a b c');
    expect(short('x'.repeat(100), 10)).toHaveLength(10);
  });
});
