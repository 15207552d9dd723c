import { generateSecret, parseConfigValue, Type } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { ChannelConfig, channels, createNotifier } from './registry.js';

describe('channel registry', () => {
  it('has one channel per config type', () => {
    expect(Object.keys(channels)).toEqual(['webhook']);
    for (const [type, channel] of Object.entries(channels)) expect(channel.type).toBe(type);
  });

  it('decodes a receiver list and builds a notifier per receiver', () => {
    const raw = [{ type: 'webhook', name: 'ops', url: 'https://hooks.example.com/vigil', secret: generateSecret(), timeout: '2s' }];
    const receivers = parseConfigValue(Type.Array(ChannelConfig), raw, 'test');
    expect(receivers[0]).toMatchObject({ type: 'webhook', timeout: 2_000 });

    const notifiers = receivers.map((config) => createNotifier(config));
    expect(notifiers.map((n) => [n.channel, n.name])).toEqual([['webhook', 'ops']]);
  });

  it('rejects an unknown channel type', () => {
    expect(() => parseConfigValue(ChannelConfig, { type: 'carrier-pigeon', name: 'x' }, 'test')).toThrow('type');
  });
});
