import { collectConfigProblems, parseConfigText, parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { WatchdogConfig } from './config.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const monitor = { name: 'primary', url: 'http://127.0.0.1:8081/health', interval: '2s' };

const problems = (raw: unknown) => collectConfigProblems(() => parseConfigValue(WatchdogConfig, raw, 'watchdog.yaml', {}));

describe('watchdog configuration', () => {
  it('starts from an empty document with defaults and no monitors', () => {
    expect(parseConfigValue(WatchdogConfig, {}, 'defaults', {})).toEqual({
      server: { host: '127.0.0.1', port: 8082 },
      dataDir: './.vigil-data/watchdog',
      activation: { url: 'http://127.0.0.1:8083', timeout: 5000, retries: 5 },
      alerts: { webhooks: [] },
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
    expect(config.alerts.webhooks).toEqual([{ name: 'sink', url: 'http://127.0.0.1:8099/alerts', secret, timeout: 5000 }]);
    expect(config.monitors).toEqual([
      { ...monitor, interval: 2000, timeout: 1000, failureThreshold: 3, successThreshold: 2, activate: { target: 'primary' } },
      { name: 'db', url: 'http://127.0.0.1:8081/health', cron: '*/2 * * * * *', timeout: 1000, failureThreshold: 3, successThreshold: 2 },
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
  ])('rejects %s, naming the path', (_what, raw, expected) => {
    expect(problems(raw).join('\n')).toContain(expected);
  });

  it('names the missing environment variable of the voter secret', () => {
    expect(() => parseConfigText(WatchdogConfig, 'voter: { secret: "${VIGIL_VOTER_SECRET}" }', 'watchdog.yaml', {})).toThrow(
      /voter\.secret: environment variable VIGIL_VOTER_SECRET is not set/,
    );
  });
});
