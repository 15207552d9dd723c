import { Type, type TSchema } from '@vigil/core';
import type { Notifier } from './alert.js';

/**
 * One kind of alert channel: the schema of its receiver configuration (whose `type` literal
 * is the channel's name) and how to build a notifier from a decoded configuration.
 */
export interface Channel<Config extends { type: string }> {
  readonly type: Config['type'];
  readonly schema: TSchema;
  create(config: Config): Notifier;
  /**
   * For channels that send to several destinations (every Alertmanager of a cluster), each its
   * own delivery: splits the configuration into one per destination, each with its own name.
   * Without it, the configuration is one destination.
   */
  destinations?(config: Config): Config[];
}

/** Every receiver's `name`: shown in logs and metrics, never a secret. */
export const ReceiverName = Type.String({ minLength: 1, maxLength: 100, description: 'receiver name shown in logs and metrics' });
