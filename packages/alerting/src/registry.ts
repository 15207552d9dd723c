import { Type, type StaticDecode } from '@vigil/core';
import type { Notifier } from './alert.js';
import type { Channel } from './channel.js';
import { alertmanager, AlertmanagerConfig } from './channels/alertmanager.js';
import { pagerduty, PagerDutyConfig } from './channels/pagerduty.js';
import { slack, SlackConfig } from './channels/slack.js';
import { webhook, WebhookConfig } from './channels/webhook.js';

/** A receiver's configuration: one member per channel, told apart by `type`. */
export const ChannelConfig = Type.Union([WebhookConfig, SlackConfig, PagerDutyConfig, AlertmanagerConfig]);
export type ChannelConfig = StaticDecode<typeof ChannelConfig>;
export type ChannelType = ChannelConfig['type'];

type ConfigOf<T extends ChannelType> = Extract<ChannelConfig, { type: T }>;

/**
 * Every channel, by type. Typed from the union above, so a channel missing on either side
 * (schema without entry, or entry without schema) is a compile error.
 */
export const channels: { readonly [T in ChannelType]: Channel<ConfigOf<T>> } = { webhook, slack, pagerduty, alertmanager };

/**
 * Builds the notifier for one configured receiver with a single destination. A receiver with
 * several (an Alertmanager cluster) needs createNotifiers.
 */
export function createNotifier<T extends ChannelType>(config: ConfigOf<T>): Notifier {
  const notifiers = createNotifiers(config);
  if (notifiers.length !== 1) throw new Error(`receiver "${config.name}" has ${notifiers.length} destinations; use createNotifiers`);
  return notifiers[0]!;
}

/** Builds one notifier per destination of a configured receiver, each its own delivery. */
export function createNotifiers<T extends ChannelType>(config: ConfigOf<T>): Notifier[] {
  const channel: Channel<ConfigOf<T>> = channels[config.type];
  return (channel.destinations?.(config) ?? [config]).map((destination) => channel.create(destination));
}
