import { generateSecret, parseConfigValue, Type } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { ChannelConfig, channels, createNotifier, createNotifiers } from './registry.js';

describe('channel registry', () => {
  it('has one channel per config type', () => {
    expect(Object.keys(channels)).toEqual(['webhook', 'slack', 'pagerduty', 'alertmanager']);
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

  it('decodes every channel type', () => {
    const raw = [
      { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T0/B0/abc' },
      { type: 'pagerduty', name: 'pager', routingKey: 'R0UT1NGKEYa1b2c3d4e5f6a7b8c9d0e1f' },
      { type: 'alertmanager', name: 'am', urls: ['http://127.0.0.1:9093', 'http://127.0.0.1:9094'] },
    ];
    const receivers = parseConfigValue(Type.Array(ChannelConfig), raw, 'test');
    expect(receivers.flatMap((config) => createNotifiers(config)).map((n) => [n.channel, n.name])).toEqual([
      ['slack', 'chat'],
      ['pagerduty', 'pager'],
      ['alertmanager', 'am#1'],
      ['alertmanager', 'am#2'],
    ]);
    expect(() => createNotifier(receivers[2]!)).toThrow('createNotifiers');
  });
});
