import { Type, type StaticDecode } from '@vigil/core';
import type { Notifier } from './alert.js';
import type { Channel } from './channel.js';
import { webhook, WebhookConfig } from './channels/webhook.js';

/** A receiver's configuration: one member per channel, told apart by `type`. */
export const ChannelConfig = Type.Union([WebhookConfig]);
export type ChannelConfig = StaticDecode<typeof ChannelConfig>;
export type ChannelType = ChannelConfig['type'];

type ConfigOf<T extends ChannelType> = Extract<ChannelConfig, { type: T }>;

/**
 * Every channel, by type. Typed from the union above, so a channel missing on either side
 * (schema without entry, or entry without schema) is a compile error.
 */
export const channels: { readonly [T in ChannelType]: Channel<ConfigOf<T>> } = { webhook };

/** Builds the notifier for one configured receiver. */
export function createNotifier<T extends ChannelType>(config: ConfigOf<T>): Notifier {
  const channel: Channel<ConfigOf<T>> = channels[config.type];
  return channel.create(config);
}
