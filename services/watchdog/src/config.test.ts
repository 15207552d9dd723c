import { collectConfigProblems, parseConfigText, parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { WatchdogConfig, detectionBudget } from './config.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const monitor = { name: 'primary', url: 'http://127.0.0.1:8081/health', interval: '2s' };

const DAY = 86_400_000;
/** What a monitor written before probe kinds decodes to besides its own fields: an http probe, GET, 2xx. */
const HTTP_DEFAULTS = { kind: 'http', method: 'GET', expectStatus: ['2xx'], certificateExpiryWarning: 14 * DAY };
/** How every monitor probes unless told otherwise: four attempts 250 ms apart (README, "Detection under loss"). */
const PROBING = { attempts: 4, hedgeDelay: 250 };

const problems = (raw: unknown) => collectConfigProblems(() => parseConfigValue(WatchdogConfig, raw, 'watchdog.yaml', {}));

describe('watchdog configuration', () => {
  it('starts from an empty document with defaults and no monitors', () => {
    expect(parseConfigValue(WatchdogConfig, {}, 'defaults', {})).toEqual({
      server: { host: '127.0.0.1', port: 8082 },
      dataDir: './.vigil-data/watchdog',
      activation: { urls: ['http://127.0.0.1:8083'], timeout: 5000, retries: 5 },
      alerts: {
        webhooks: [],
        receivers: [],
        routes: [],
        delivery: { maxAttempts: 20, maxAge: 3_600_000, initialBackoff: 1_000, maxBackoff: 300_000, maxRetryAfter: 600_000 },
      },
      controlTargets: [],
      maintenance: [],
      monitors: [],
    });
  });

  it('decodes the documented example', () => {
    const yaml = `
server: { host: 0.0.0.0, port: 9082 }
voter: { id: watchdog-eu, secret: "\${VIGIL_VOTER_SECRET}" }
activation: { url: http://activation:8083, timeout: 3s, retries: 2 }
alerts:
  webhooks: [{ name: sink, url: http://127.0.0.1:8099/alerts, secret: ${secret} }]
monitors:
  - name: primary
    url: http://127.0.0.1:8081/health
    interval: 2s
    timeout: 1s
    failureThreshold: 3
    successThreshold: 2
    activate: { target: primary }
  - name: db
    url: http://127.0.0.1:8081/health
    cron: "*/2 * * * * *"
`;
    const config = parseConfigText(WatchdogConfig, yaml, 'watchdog.yaml', { VIGIL_VOTER_SECRET: secret });
    expect(config.voter).toEqual({ id: 'watchdog-eu', secret });
    expect(config.activation).toEqual({ urls: ['http://activation:8083'], timeout: 3000, retries: 2 });
    expect(config.alerts.webhooks).toEqual([{ name: 'sink', url: 'http://127.0.0.1:8099/alerts', secret, timeout: 5000 }]);
    expect(config.monitors).toEqual([
      { ...monitor, ...HTTP_DEFAULTS, ...PROBING, interval: 2000, timeout: 1000, failureThreshold: 3, successThreshold: 2, activate: { target: 'primary' } },
      { ...HTTP_DEFAULTS, ...PROBING, name: 'db', url: 'http://127.0.0.1:8081/health', cron: '*/2 * * * * *', timeout: 1900, failureThreshold: 3, successThreshold: 2 },
    ]);
  });

  it.each([
    ['a timeout not shorter than the interval', { monitors: [{ ...monitor, timeout: '2s' }] }, 'monitors[0]: `timeout` (2s) must be shorter than `interval` (2s)'],
    ['both interval and cron', { monitors: [{ ...monitor, cron: '* * * * * *' }] }, 'monitors[0]: give exactly one of `interval` or `cron`'],
    ['neither interval nor cron', { monitors: [{ name: 'primary', url: monitor.url }] }, 'monitors[0]: give exactly one of `interval` or `cron`'],
    ['an invalid cron expression', { monitors: [{ name: 'p', url: monitor.url, cron: '61 * * * * *' }] }, 'monitors[0].cron: expected a cron expression'],
    ['repeated monitor names', { monitors: [monitor, { ...monitor, interval: '5s' }] }, 'monitors: monitor names must be unique; repeated: primary'],
    ['an activating monitor without a voter', { monitors: [{ ...monitor, activate: { target: 'primary' } }] }, '(top level): `voter` (id and secret) is required to sign activation requests; monitors that activate: primary'],
    ['a malformed voter secret', { voter: { secret: 'hunter2' } }, 'voter.secret: expected a Standard Webhooks secret'],
    ['a zero failure threshold', { monitors: [{ ...monitor, failureThreshold: 0 }] }, 'monitors[0].failureThreshold:'],
    ['a bad url', { monitors: [{ ...monitor, url: 'localhost:8081' }] }, 'monitors[0].url: expected an http(s) URL'],
    ['a misspelt key', { monitors: [{ ...monitor, intervall: '2s' }] }, 'monitors[0].intervall: unknown key'],
    ['a webhook without secret', { alerts: { webhooks: [{ name: 'sink', url: 'http://127.0.0.1:8099/alerts' }] } }, 'alerts.webhooks[0].secret: is required'],
    ['a name unfit for ids and labels', { monitors: [{ ...monitor, name: 'primary region' }] }, 'monitors[0].name: expected a name of letters'],
    ['a warning threshold not below the failure threshold', { monitors: [{ ...monitor, warningThreshold: 3 }] }, 'monitors[0]: `warningThreshold` (3) must be below `failureThreshold` (3)'],
    ['an unknown time zone', { monitors: [{ name: 'p', url: monitor.url, cron: '* * * * * *', timezone: 'Mars/Olympus' }] }, 'monitors[0].timezone: expected an IANA time zone'],
    ['a short api token', { api: { token: 'short' } }, 'api.token:'],
    ['an api section without any token', { api: {} }, 'api: give `token` or at least one of `operators`'],
    ['a short operator token', { api: { operators: [{ name: 'alice', token: 'short' }] } }, 'api.operators[0].token:'],
    [
      'one operator named twice',
      { api: { operators: [{ name: 'alice', token: 'alice-token-0123456789' }, { name: 'alice', token: 'other-token-0123456789' }] } },
      'api: operator name alice is given more than once',
    ],
    [
      'two operators sharing a token',
      { api: { token: 'shared-token-0123456789', operators: [{ name: 'alice', token: 'shared-token-0123456789' }] } },
      'api: each operator (and `token`) needs a token of its own',
    ],
    [
      'both activation.url and activation.urls',
      { activation: { url: 'http://a:8083', urls: ['http://b:8083'] } },
      'activation: give either `url` (one activation service) or `urls` (one base URL per activation replica), not both',
    ],
    ['an empty activation.urls', { activation: { urls: [] } }, 'activation: `urls` is empty: list one base URL per activation replica'],
    ['a malformed activation URL, by index', { activation: { urls: ['http://a:8083', 'b:8083'] } }, 'activation.urls[1]: expected an http(s) URL'],
    [
      'one activation replica listed twice',
      { activation: { urls: ['http://a:8083', 'http://b:8083', 'http://a:8083/v1'] } },
      'activation: `urls[2]` (http://a:8083) is the same replica as `urls[0]`',
    ],
    ['more activation URLs than metric labels should hold', { activation: { urls: Array.from({ length: 17 }, (_, i) => `http://a${i}:8083`) } }, 'activation: `urls` lists 17 URLs; at most 16'],
    [
      'a worst-case detection beyond the rto',
      { activation: { budget: '2s' }, monitors: [{ ...monitor, timeout: '1s', rto: '8s' }] },
      '(top level): monitor primary: worst-case detection and activation interval 2s × (failureThreshold 3 − 1) + timeout 1s + schedule granularity 2s + confirmation probe 1s + activation budget 2s = 10s exceeds rto 8s; shorten interval or timeout, lower failureThreshold or activation.budget, or raise rto',
    ],
  ])('rejects %s, naming the path', (_what, raw, expected) => {
    expect(problems(raw).join('\n')).toContain(expected);
  });

  it('decodes activation.url and activation.urls alike, to the list of replicas', () => {
    const activation = (raw: unknown) => parseConfigValue(WatchdogConfig, { activation: raw }, 'test', {}).activation;
    expect(activation({ url: 'http://activation:8083' })).toEqual({ urls: ['http://activation:8083'], timeout: 5000, retries: 5 });
    expect(activation({ urls: ['http://activation-a:8083', 'https://activation-b.example'], retries: 2 })).toEqual({
      urls: ['http://activation-a:8083', 'https://activation-b.example'],
      timeout: 5000,
      retries: 2,
    });
    const yaml = parseConfigText(WatchdogConfig, 'activation:\n  urls:\n    - http://activation-a:8083\n    - http://activation-b:8083\n', 'watchdog.yaml', {});
    expect(yaml.activation.urls).toEqual(['http://activation-a:8083', 'http://activation-b:8083']);
  });

  it('takes receivers of every channel, routes and delivery limits under alerts, beside the webhooks', () => {
    const config = parseConfigText(
      WatchdogConfig,
      `
alerts:
  webhooks: [{ name: sink, url: http://127.0.0.1:8099/alerts, secret: ${secret} }]
  receivers:
    - { type: pagerduty, name: pager, routingKey: R0UT1NGKEYa1b2c3d4e5f6a7b8c9d0e1f }
    - { type: alertmanager, name: am, urls: [http://127.0.0.1:9093, http://127.0.0.1:9094] }
  routes:
    - { monitors: [primary], severities: [critical], receivers: [pager, am, sink], repeatInterval: 1h }
  delivery: { maxAttempts: 10, maxAge: 30m }
`,
      'watchdog.yaml',
      {},
    );
    expect(config.alerts.receivers.map((r) => r.name)).toEqual(['pager', 'am']);
    expect(config.alerts.routes[0]).toMatchObject({ receivers: ['pager', 'am', 'sink'], repeatInterval: 3_600_000, sendResolved: true });
    expect(config.alerts.delivery).toMatchObject({ maxAttempts: 10, maxAge: 1_800_000 });
  });

  it('rejects a receiver name used twice and a route to an unknown receiver, naming the path', () => {
    const found = problems({
      alerts: {
        webhooks: [{ name: 'ops', url: 'http://127.0.0.1:8099/alerts', secret }],
        receivers: [{ type: 'slack', name: 'ops', url: 'https://hooks.slack.com/services/T0/B0/abc' }],
        routes: [{ receivers: ['pagr'] }],
      },
    }).join('\n');
    expect(found).toContain('alerts: receiver name "ops" is used twice');
    expect(found).toContain('routes[0] names receiver "pagr", which is not configured');
  });

  it('names the missing environment variable of the voter secret', () => {
    expect(() => parseConfigText(WatchdogConfig, 'voter: { secret: "${VIGIL_VOTER_SECRET}" }', 'watchdog.yaml', {})).toThrow(
      /voter\.secret: environment variable VIGIL_VOTER_SECRET is not set/,
    );
  });

  it('accepts an rto the worst case fits in, and decodes control targets, windows, api and heartbeat', () => {
    const config = parseConfigValue(
      WatchdogConfig,
      {
        activation: { budget: '2s' },
        controlTargets: [{ name: 'activation', url: 'http://127.0.0.1:8083/livez' }],
        maintenance: [{ name: 'sunday', cron: '0 2 * * 0', duration: '1h', timezone: 'Europe/Paris', monitors: ['primary'] }],
        api: { token: 'a-long-enough-token' },
        heartbeat: { url: 'https://hc.example/ping/abc' },
        monitors: [{ ...monitor, timeout: '1s', rto: '10s', warningThreshold: 2 }],
      },
      'test',
      {},
    );
    expect(config.controlTargets).toEqual([{ name: 'activation', url: 'http://127.0.0.1:8083/livez', timeout: 1000 }]);
    expect(config.maintenance[0]).toMatchObject({ duration: 3_600_000, timezone: 'Europe/Paris' });
    expect(config.heartbeat).toEqual({ url: 'https://hc.example/ping/abc', timeout: 5000, minInterval: 10_000 });
    expect(config.monitors[0]).toMatchObject({ rto: 10_000, warningThreshold: 2 });
    expect(config.api).toEqual({ token: 'a-long-enough-token', operators: [] });
  });

  it('decodes named operators, with or without the shared token', () => {
    const operators = [{ name: 'alice', token: 'alice-token-0123456789' }, { name: 'bob@example.com', token: 'bob-token-0123456789' }];
    expect(parseConfigValue(WatchdogConfig, { api: { operators } }, 'test', {}).api).toEqual({ operators });
  });

  describe('probe kinds', () => {
    const schedule = { interval: '2s', timeout: '500ms' };

    it('decodes an http monitor with the http check\'s method, headers and assertions', () => {
      const config = parseConfigText(
        WatchdogConfig,
        `
monitors:
  - name: api
    kind: http
    url: https://api.example/ready
    method: HEAD
    headers: { authorization: "Bearer \${API_TOKEN}" }
    expectStatus: [200, 3xx]
    expectBody: { contains: ok, json: { "$.db.status": up } }
    interval: 10s
`,
        'watchdog.yaml',
        { API_TOKEN: 'abc' },
      );
      expect(config.monitors[0]).toMatchObject({
        kind: 'http',
        method: 'HEAD',
        headers: { authorization: 'Bearer abc' },
        expectStatus: [200, '3xx'],
        expectBody: { contains: 'ok', json: { '$.db.status': 'up' } },
        timeout: 1900,
        ...PROBING,
      });
    });

    it('decodes tcp and dns monitors with their check fields', () => {
      const config = parseConfigValue(
        WatchdogConfig,
        {
          monitors: [
            { name: 'db', kind: 'tcp', host: 'db.internal', port: 5432, ...schedule },
            { name: 'zone', kind: 'dns', host: 'primary.example', type: 'AAAA', server: '10.0.0.2:53', expect: 'fd00::1', ...schedule },
          ],
        },
        'test',
        {},
      );
      expect(config.monitors).toEqual([
        { name: 'db', kind: 'tcp', host: 'db.internal', port: 5432, interval: 2000, timeout: 500, ...PROBING, failureThreshold: 3, successThreshold: 2, certificateExpiryWarning: 14 * DAY },
        {
          name: 'zone',
          kind: 'dns',
          host: 'primary.example',
          type: 'AAAA',
          server: '10.0.0.2:53',
          expect: 'fd00::1',
          interval: 2000,
          timeout: 500,
          ...PROBING,
          failureThreshold: 3,
          successThreshold: 2,
          certificateExpiryWarning: 14 * DAY,
        },
      ]);
    });

    it.each([
      ['an unknown kind', { name: 'p', kind: 'smtp', host: 'h', ...schedule }, 'monitors[0].kind: expected one of'],
      ['a tcp monitor without a port', { name: 'p', kind: 'tcp', host: 'h', ...schedule }, 'monitors[0].port: is required'],
      ['a field of another kind', { name: 'p', kind: 'tcp', host: 'h', port: 1, url: 'http://h/', ...schedule }, 'monitors[0].url: unknown key'],
      ['a bad http assertion', { name: 'p', url: 'http://h/', expectStatus: ['2xy'], ...schedule }, 'monitors[0].expectStatus[0]:'],
      ['a dns record type the check does not know', { name: 'p', kind: 'dns', host: 'h', type: 'MX', ...schedule }, 'monitors[0].type: expected one of'],
      ['a tcp timeout not shorter than the interval', { name: 'p', kind: 'tcp', host: 'h', port: 1, interval: '1s', timeout: '1s' }, 'monitors[0]: `timeout` (1s) must be shorter'],
      ['an interval the default timeout does not fit in', { name: 'p', url: 'http://h/', interval: '1s' }, 'monitors[0]: `timeout` (1900ms) must be shorter than `interval` (1s)'],
      ['more than ten attempts', { name: 'p', url: 'http://h/', attempts: 11, ...schedule }, 'monitors[0].attempts:'],
    ])('rejects %s, naming the path', (_name, m, expected) => {
      expect(problems({ monitors: [m] })).toEqual([expect.stringContaining(expected) as string]);
    });

    it('reports the problems of every monitor in one pass', () => {
      expect(problems({ monitors: [{ ...monitor, intervall: '2s' }, { ...monitor, name: 'second' }, { name: 'q', kind: 'tcp', host: 'h', port: 0, ...schedule }] })).toEqual([
        expect.stringContaining('monitors[0].intervall: unknown key') as string,
        expect.stringContaining('monitors[2].port:') as string,
      ]);
    });

    it('interpolates placeholders once: an escaped "$${" stays literal', () => {
      const config = parseConfigValue(WatchdogConfig, { monitors: [{ ...monitor, headers: { 'x-literal': '$${NOT_A_VAR}' } }] }, 'test', {});
      expect(config.monitors[0]).toMatchObject({ headers: { 'x-literal': '${NOT_A_VAR}' } });
    });
  });

  it('decodes the certificate expiry warning window, in days', () => {
    const config = parseConfigValue(WatchdogConfig, { monitors: [{ ...monitor, certificateExpiryWarning: '30d' }] }, 'test', {});
    expect(config.monitors[0]!.certificateExpiryWarning).toBe(30 * DAY);
    expect(problems({ monitors: [{ ...monitor, certificateExpiryWarning: 'two weeks' }] })).toEqual([
      expect.stringContaining('monitors[0].certificateExpiryWarning: expected a duration') as string,
    ]);
  });

  it('computes the worst-case detection of a cron schedule from its longest gap', () => {
    expect(detectionBudget({ cron: '*/5 * * * * *', timeout: 1000, failureThreshold: 3 }).worstCaseMs).toBe(5000 * 2 + 1000 + 5000 + 1000);
    expect(detectionBudget({ interval: 2000, timeout: 1000, failureThreshold: 3 }, 500).worstCaseMs).toBe(8500);
  });
});
