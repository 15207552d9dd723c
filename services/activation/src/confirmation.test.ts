import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_DEFAULTS, type CheckConfig } from '@vigil/checks';
import { describeProbe, hedgePolicy, parseRequestProbe, probeHedged } from './confirmation.js';
import { closedPort } from './test-support/fixtures.js';

/** What a watchdog sends for an http monitor (services/watchdog/src/monitor.ts, probeDescription). */
const fromWatchdog = { kind: 'http', url: 'http://primary.example/health', method: 'GET', expectStatus: ['2xx'], timeout: '1s900ms', attempts: 4, hedgeDelay: '250ms' };

const problemsOf = (raw: unknown) => {
  const parsed = parseRequestProbe(raw);
  return parsed.kind === 'refused' ? parsed.problems : [];
};

describe('parseRequestProbe', () => {
  it('reads what a watchdog sends: durations decoded, hedging kept beside the check', () => {
    expect(parseRequestProbe(fromWatchdog)).toEqual({
      kind: 'valid',
      probe: { check: { ...fromWatchdog, timeout: 1_900, hedgeDelay: 250 }, attempts: 4, hedgeDelay: 250 },
    });
    expect(parseRequestProbe({ kind: 'tcp', host: '10.0.0.5', port: 5432, timeout: '1s' })).toEqual({
      kind: 'valid',
      probe: { check: { kind: 'tcp', host: '10.0.0.5', port: 5432, timeout: 1_000 } },
    });
    expect(parseRequestProbe({ kind: 'dns', host: 'primary.example', timeout: '500ms' })).toMatchObject({ kind: 'valid', probe: { check: { kind: 'dns', type: 'A', timeout: 500 } } });
  });

  it('lists a few problems, not thousands', () => {
    const misspelt = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`field${i}`, i]));
    const problems = problemsOf({ ...fromWatchdog, ...misspelt });
    expect(problems).toHaveLength(6);
    expect(problems.at(-1)).toBe('… and 995 more');
  });

  it('says when there is none', () => {
    expect(parseRequestProbe(undefined)).toEqual({ kind: 'absent' });
  });

  it.each(['postgres', 'redis', 'disk', 'process'])('refuses a %s probe: only http, tcp and dns may come from a request', (kind) => {
    expect(problemsOf({ kind, url: 'postgres://vigil@primary/app', path: '/', measure: 'heapUsed' })).toEqual([
      `incident.probe.kind: a request may describe an http, tcp or dns probe, not "${kind}" (pin any other kind in holdOff.probe)`,
    ]);
  });

  it.each<[string, unknown, string]>([
    ['no kind', { url: 'http://primary.example/health' }, 'incident.probe.kind: a request may describe an http, tcp or dns probe, not nothing'],
    ['a URL that is not one', { ...fromWatchdog, url: 'primary.example/health' }, 'incident.probe.url: expected an http(s) URL'],
    ['a misspelt field', { ...fromWatchdog, expectStatuses: [200] }, 'incident.probe.expectStatuses: unknown key'],
    ['a timeout that is not a duration', { ...fromWatchdog, timeout: 1900 }, 'incident.probe.timeout: '],
    ['attempts out of range', { ...fromWatchdog, attempts: 50 }, 'incident.probe.attempts: '],
    ['a port out of range', { kind: 'tcp', host: 'primary.example', port: 70_000 }, 'incident.probe.port: '],
    ['a timeout the failover should not wait for', { ...fromWatchdog, timeout: '10m' }, 'incident.probe.timeout: 10m is longer than the failover may wait (at most 1m)'],
    ['thresholds in the wrong order', { ...fromWatchdog, thresholds: { warn: 500, fail: 100 } }, 'incident.probe.thresholds: warn 500 must be at most fail 100'],
    ['not an object', ['http'], 'incident.probe: expected an object'],
    ['a value nested thousands deep', { ...fromWatchdog, expectBody: { json: { '$.a': JSON.parse(`${'['.repeat(5_000)}${']'.repeat(5_000)}`) as unknown } } }, 'incident.probe: nested more than 16 levels deep'],
  ])('refuses %s, naming the path and the problem', (_name, raw, problem) => {
    const problems = problemsOf(raw);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(problem);
  });

  it('takes its text literally: nothing is expanded from this service\'s environment', () => {
    process.env.VIGIL_TEST_SECRET = 'from-the-environment';
    try {
      const parsed = parseRequestProbe({ ...fromWatchdog, url: 'http://primary.example/${VIGIL_TEST_SECRET}' });
      expect(parsed).toMatchObject({ kind: 'valid', probe: { check: { url: 'http://primary.example/${VIGIL_TEST_SECRET}' } } });
    } finally {
      delete process.env.VIGIL_TEST_SECRET;
    }
  });
});

describe('hedgePolicy', () => {
  const check = { kind: 'tcp', host: 'primary.example', port: 80, timeout: 1_500 } as const;
  it('takes the target\'s setting, else the request\'s, else the shared defaults; the timeout is the check\'s', () => {
    expect(hedgePolicy({ check })).toEqual({ timeoutMs: 1_500, attempts: PROBE_DEFAULTS.attempts, hedgeDelayMs: PROBE_DEFAULTS.hedgeDelayMs });
    expect(hedgePolicy({ check, attempts: 2, hedgeDelay: 100 })).toEqual({ timeoutMs: 1_500, attempts: 2, hedgeDelayMs: 100 });
    expect(hedgePolicy({ check, attempts: 2, hedgeDelay: 100 }, { attempts: 6, hedgeDelay: 50 })).toEqual({ timeoutMs: 1_500, attempts: 6, hedgeDelayMs: 50 });
  });
});

describe('describeProbe', () => {
  it('names the kind and the target, never a password', () => {
    const http = parseRequestProbe({ ...fromWatchdog, url: 'https://vigil:hunter2@primary.example/health?token=t0k3n' });
    expect(http.kind === 'valid' && describeProbe(http.probe.check)).toBe('http GET https://vigil:REDACTED@primary.example/health?token=REDACTED');
    expect(describeProbe({ kind: 'postgres', url: 'postgres://vigil:hunter2@primary:5432/app', replicationLag: false, timeout: 1_000 })).toBe(
      'postgres postgres://vigil:REDACTED@primary:5432/app',
    );
    expect(describeProbe({ kind: 'tcp', host: '::1', port: 5432, timeout: 1_000 })).toBe('tcp [::1]:5432');
    expect(describeProbe({ kind: 'dns', host: 'primary.example', type: 'A', server: '10.0.0.2', timeout: 1_000 })).toBe('dns A primary.example via 10.0.0.2');
  });
});

describe('probeHedged', () => {
  const servers: { close(): void }[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  /**
   * An HTTP server that never answers on the first connection it accepts (a connection stuck in
   * retransmissions, as the prober sees it) and answers 200 on any other. Connections are
   * accepted in the order they were opened, so the first is the first attempt's.
   */
  async function firstConnectionLost(): Promise<{ url: string; requests(): number }> {
    let requests = 0;
    let lost: Socket | undefined;
    const stuck: ServerResponse[] = [];
    const server = createServer((req, res) => {
      requests++;
      if (req.socket === lost) stuck.push(res);
      else res.end('ok');
    });
    server.on('connection', (socket) => (lost ??= socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        for (const res of stuck) res.destroy();
        server.closeAllConnections();
        server.close();
      },
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, requests: () => requests };
  }

  it('survives a first attempt that gets no answer: the next one, on its own connection, decides', async () => {
    const primary = await firstConnectionLost();
    const check: CheckConfig = { kind: 'http', url: primary.url, method: 'GET', expectStatus: ['2xx'], timeout: 5_000 };
    // The second attempt starts 50ms after the first; the whole probe may take 5s. Two attempts
    // only: with a third, a loaded machine could start it before the second answers.
    const result = await probeHedged(check, { timeoutMs: 5_000, attempts: 2, hedgeDelayMs: 50 }, new AbortController().signal);
    expect(result).toMatchObject({ status: 'pass', attempts: 2 });
    expect(primary.requests()).toBe(2);
  });

  it('fails fast on a refused primary, after every attempt, without waiting for the timeout', async () => {
    const check: CheckConfig = { kind: 'tcp', host: '127.0.0.1', port: await closedPort(), timeout: 60_000 };
    const result = await probeHedged(check, { timeoutMs: 60_000, attempts: 4, hedgeDelayMs: 30_000 }, new AbortController().signal);
    expect(result).toMatchObject({ status: 'fail', attempts: 4 });
    expect(result.timedOut).toBeUndefined();
    expect(result.output).toContain('ECONNREFUSED');
  });

  it('ends when its caller gives up', async () => {
    const controller = new AbortController();
    controller.abort(new Error('the activation was cancelled'));
    const check: CheckConfig = { kind: 'tcp', host: '127.0.0.1', port: 9, timeout: 1_000 };
    expect(await probeHedged(check, { timeoutMs: 1_000, attempts: 4, hedgeDelayMs: 250 }, controller.signal)).toMatchObject({
      status: 'fail',
      output: 'the activation was cancelled',
    });
  });
});
