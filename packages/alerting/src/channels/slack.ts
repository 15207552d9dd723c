import { Duration, Type, type StaticDecode } from '@vigil/core';
import type { Alert, DeliveryResult, Notifier } from '../alert.js';
import { ReceiverName, type Channel } from '../channel.js';
import { postJson } from '../http.js';

export const SlackConfig = Type.Object(
  {
    type: Type.Literal('slack'),
    name: ReceiverName,
    // The incoming-webhook URL is the credential: errors and logs name its origin only.
    url: Type.String({
      pattern: '^https?://[^\\s/]+/\\S*$',
      description: 'Slack incoming-webhook URL (a secret: write ${ENV_VAR} to keep it out of the file)',
      'x-expected': 'a Slack incoming-webhook URL such as "https://hooks.slack.com/services/T…/B…/…"',
    }),
    timeout: Duration({ default: '5s', description: 'limit for one delivery attempt' }),
  },
  { additionalProperties: false },
);
export type SlackConfig = StaticDecode<typeof SlackConfig>;

const ICON = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' } as const;
/** Slack truncates a section's text at 3000 characters; cut it ourselves so the message stays valid. */
const MAX_TEXT = 3000;

/** The Slack message for an alert: a plain-text fallback (notifications, old clients) and blocks. */
export function slackMessage(alert: Alert): Record<string, unknown> {
  const resolved = alert.status === 'resolved';
  const headline = `${resolved ? ':white_check_mark: RESOLVED' : `${ICON[alert.severity]} FIRING`} [${alert.severity}] ${alert.monitor}`;
  const time = resolved && alert.endsAt ? `${alert.startsAt} – ${alert.endsAt}` : `since ${alert.startsAt}`;
  const links = Object.entries(alert.annotations).filter(([, value]) => /^https?:\/\//.test(value));
  const fields = [
    { type: 'mrkdwn', text: `*Monitor*\n${escape(alert.monitor)}` },
    { type: 'mrkdwn', text: `*Severity*\n${alert.severity}` },
    { type: 'mrkdwn', text: `*Status*\n${alert.status}` },
    { type: 'mrkdwn', text: `*Time*\n${escape(time)}` },
  ];
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: cut(`*${escape(headline)}*\n${escape(alert.summary)}`) } },
    { type: 'section', fields },
  ];
  if (links.length > 0) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: cut(links.map(([name, href]) => `<${href}|${escape(name)}>`).join(' · ')) }] });
  }
  return { text: cut(`${headline}: ${alert.summary}`), blocks };
}

/**
 * Slack incoming webhook. The body depends on the alert only, so a retry is the same message.
 * Slack answers 200 "ok"; 4xx (invalid_payload, no_service, channel_is_archived) are final.
 */
export const slack: Channel<SlackConfig> = {
  type: 'slack',
  schema: SlackConfig,
  create(config: SlackConfig): Notifier {
    return {
      channel: 'slack',
      name: config.name,
      notify(alert: Alert, signal: AbortSignal): Promise<DeliveryResult> {
        return postJson({ url: config.url, body: JSON.stringify(slackMessage(alert)), timeoutMs: config.timeout, signal });
      },
    };
  },
};

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}
