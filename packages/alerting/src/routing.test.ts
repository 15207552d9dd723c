import { collectConfigProblems, generateSecret, parseConfigText, parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { AlertingConfig, routeAlert, type RouteConfig } from './routing.js';

const receivers = ['hook', 'chat', 'pager', 'am'];
const alert = (monitor: string, severity: 'info' | 'warning' | 'critical', status: 'firing' | 'resolved' = 'firing') => ({ monitor, severity, status });
const route = (r: Partial<RouteConfig> & Pick<RouteConfig, 'receivers'>): RouteConfig => ({ sendResolved: true, ...r });

describe('routeAlert', () => {
  it('sends every alert to every receiver when there are no routes', () => {
    expect(routeAlert(alert('db', 'info', 'resolved'), [], receivers)).toEqual(receivers.map((receiver) => ({ receiver })));
  });

  it('applies every matching route, each receiver once, in configured order', () => {
    const routes = [route({ receivers: ['am', 'hook'] }), route({ monitors: ['primary'], receivers: ['pager', 'am'] })];
    expect(routeAlert(alert('primary', 'critical'), routes, receivers)).toEqual([{ receiver: 'hook' }, { receiver: 'pager' }, { receiver: 'am' }]);
    expect(routeAlert(alert('db', 'critical'), routes, receivers)).toEqual([{ receiver: 'hook' }, { receiver: 'am' }]);
  });

  it('filters by severity', () => {
    const routes = [route({ severities: ['critical'], receivers: ['pager'] }), route({ severities: ['warning', 'info'], receivers: ['chat'] })];
    expect(routeAlert(alert('x', 'critical'), routes, receivers)).toEqual([{ receiver: 'pager' }]);
    expect(routeAlert(alert('x', 'warning'), routes, receivers)).toEqual([{ receiver: 'chat' }]);
    expect(routeAlert(alert('x', 'info'), routes, receivers)).toEqual([{ receiver: 'chat' }]);
  });

  it('sends resolutions only where a matching route asks for them', () => {
    const routes = [route({ receivers: ['chat'], sendResolved: false }), route({ receivers: ['pager'] })];
    expect(routeAlert(alert('x', 'critical', 'resolved'), routes, receivers)).toEqual([{ receiver: 'pager' }]);
    expect(routeAlert(alert('x', 'critical', 'firing'), routes, receivers)).toEqual([{ receiver: 'chat' }, { receiver: 'pager' }]);
  });

  it('takes the shortest reminder interval of the matching routes', () => {
    const routes = [
      route({ receivers: ['chat'], repeatInterval: 3_600_000 }),
      route({ receivers: ['chat', 'pager'], severities: ['critical'], repeatInterval: 600_000 }),
      route({ receivers: ['pager'] }),
    ];
    expect(routeAlert(alert('x', 'critical'), routes, receivers)).toEqual([
      { receiver: 'chat', repeatIntervalMs: 600_000 },
      { receiver: 'pager', repeatIntervalMs: 600_000 },
    ]);
    expect(routeAlert(alert('x', 'warning'), routes, receivers)).toEqual([{ receiver: 'chat', repeatIntervalMs: 3_600_000 }, { receiver: 'pager' }]);
  });

  it('sends nowhere when no route matches', () => {
    expect(routeAlert(alert('x', 'info'), [route({ monitors: ['y'], receivers: ['chat'] })], receivers)).toEqual([]);
  });
});

describe('AlertingConfig', () => {
  const secret = generateSecret();

  it('decodes receivers of every channel, routes and delivery limits from YAML', () => {
    const config = parseConfigText(
      AlertingConfig,
      `
receivers:
  - { type: webhook, name: hook, url: "https://hooks.example.com/vigil", secret: "\${SECRET}" }
  - { type: slack, name: chat, url: "https://hooks.slack.com/services/T0/B0/abc" }
  - { type: pagerduty, name: pager, routingKey: R0UT1NGKEYa1b2c3d4e5f6a7b8c9d0e1f }
  - { type: alertmanager, name: am, urls: ["http://am-0:9093", "http://am-1:9093"], resendInterval: 30s }
routes:
  - { monitors: [primary], severities: [critical], receivers: [pager, am], repeatInterval: 4h }
  - { receivers: [chat, hook], sendResolved: false }
delivery: { maxAttempts: 8, maxAge: 30m }
`,
      'alerting.yaml',
      { SECRET: secret },
    );
    expect(config.receivers.map((r) => r.type)).toEqual(['webhook', 'slack', 'pagerduty', 'alertmanager']);
    expect(config.routes[0]).toMatchObject({ repeatInterval: 14_400_000, sendResolved: true });
    expect(config.delivery).toEqual({ maxAttempts: 8, maxAge: 1_800_000, initialBackoff: 1_000, maxBackoff: 300_000, maxRetryAfter: 600_000 });
  });

  it('defaults to no receivers and no routes', () => {
    expect(parseConfigValue(AlertingConfig, {}, 'test')).toMatchObject({ receivers: [], routes: [] });
  });

  it('rejects duplicate receiver names and routes to unknown receivers', () => {
    const problems = collectConfigProblems(() =>
      parseConfigValue(
        AlertingConfig,
        {
          receivers: [
            { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T0/B0/abc' },
            { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T0/B0/def' },
          ],
          routes: [{ receivers: ['chat', 'pagr'] }],
        },
        'test',
      ),
    );
    expect(problems.join('\n')).toContain('receiver name "chat" is used twice');
    expect(problems.join('\n')).toContain('routes[0] names receiver "pagr"');
  });

  it('reports a bad receiver by its path, never echoing its secret', () => {
    const problems = collectConfigProblems(() =>
      parseConfigValue(AlertingConfig, { receivers: [{ type: 'pagerduty', name: 'pager', routingKey: 'short key!', colour: 'red' }] }, 'test'),
    );
    expect(problems).toContain('receivers[0].colour: unknown key (check its spelling and indentation)');
    expect(problems.join('\n')).toContain('receivers[0].routingKey');
    expect(problems.join('\n')).not.toContain('short key!');
  });
});
