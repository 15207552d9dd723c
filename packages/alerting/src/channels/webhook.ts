import { Duration, HttpUrl, Type, WebhookSecret, signedHeaders, type StaticDecode } from '@vigil/core';
import type { Alert, DeliveryResult, Notifier } from '../alert.js';
import { ReceiverName, type Channel } from '../channel.js';
import { postJson } from '../http.js';

/** An HTTP header name (RFC 9110 token); anything else would fail every delivery instead of the config load. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const WebhookConfig = Type.Object(
  {
    type: Type.Literal('webhook'),
    name: ReceiverName,
    url: HttpUrl({ description: 'where alerts are POSTed' }),
    secret: WebhookSecret({ description: 'Standard Webhooks signing secret shared with the receiver' }),
    timeout: Duration({ default: '5s', description: 'limit for one delivery attempt' }),
    headers: Type.Optional(
      Type.Refine(
        Type.Record(Type.String(), Type.String({ pattern: '^[^\\r\\n]*$' }), {
          description: 'extra request headers; the content type and signature headers cannot be overridden',
        }),
        (headers) => Object.keys(headers).every((name) => HEADER_NAME.test(name)),
        () => 'expected HTTP header names (letters, digits and !#$%&\'*+.^_`|~-)',
      ),
    ),
  },
  { additionalProperties: false },
);
export type WebhookConfig = StaticDecode<typeof WebhookConfig>;

/**
 * Generic signed webhook: the alert as JSON, signed per Standard Webhooks. `webhook-id` is the
 * alert id so a receiver can drop retried duplicates; timestamp and signature are fresh per
 * attempt so a retry is never mistaken for a replay.
 */
export const webhook: Channel<WebhookConfig> = {
  type: 'webhook',
  schema: WebhookConfig,
  create(config: WebhookConfig): Notifier {
    // Lower-cased so a configured "Content-Type" cannot ride alongside ours.
    const extraHeaders = Object.fromEntries(Object.entries(config.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      channel: 'webhook',
      name: config.name,
      notify(alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
        const body = JSON.stringify(alert);
        return postJson({
          url: config.url,
          body,
          headers: { ...extraHeaders, ...signedHeaders(config.secret, body, alert.id) },
          timeoutMs: config.timeout,
          signal,
        });
      },
    };
  },
};
