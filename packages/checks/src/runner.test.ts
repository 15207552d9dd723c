import { describe, expect, it } from 'vitest';
import type { Check } from './check.js';
import { pass } from './outcome.js';
import { runCheck } from './runner.js';

const check = (run: Check<null>['run']): Check<null> => ({ kind: 'test', componentType: 'component', run });
const never = check(() => new Promise(() => undefined));

describe('runCheck', () => {
  it('returns what the check found, timed', async () => {
    const result = await runCheck(
      check(async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return pass('fine', { observedValue: 7 });
      }),
      null,
      1_000,
    );
    expect(result).toMatchObject({ status: 'pass', output: 'fine', observedValue: 7 });
    expect(result.durationMs).toBeGreaterThanOrEqual(45);
    expect(result.durationMs).toBeLessThan(500);
  });

  it('turns a throw into a fail that says why', async () => {
    const throwing = check(() => {
      throw new Error('boom');
    });
    expect(await runCheck(throwing, null, 1_000)).toMatchObject({ status: 'fail', output: 'boom' });
    const rejecting = check(() => Promise.reject(new Error('bang')));
    expect(await runCheck(rejecting, null, 1_000)).toMatchObject({ status: 'fail', output: 'bang' });
  });

  it('fails at the timeout even when the check ignores its signal', async () => {
    const started = performance.now();
    const result = await runCheck(never, null, 200);
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ status: 'fail', output: 'timed out after 200ms' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 150);
  });

  it('aborts the check at the timeout', async () => {
    let seen: AbortSignal | undefined;
    await runCheck(
      check((_config, signal) => {
        seen = signal;
        return new Promise(() => undefined);
      }),
      null,
      50,
    );
    expect(seen?.aborted).toBe(true);
  });

  it('prefers the timeout to the check reporting its own abort', async () => {
    const reportsAbort = check(
      (_config, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ status: 'fail', durationMs: 0, output: 'AbortError' }))),
    );
    expect(await runCheck(reportsAbort, null, 50)).toMatchObject({ status: 'fail', output: 'timed out after 50ms' });
  });

  it('fails with the parent signal’s reason when it aborts first', async () => {
    const parent = new AbortController();
    setTimeout(() => parent.abort(new Error('did not finish within the 100ms deadline')), 100);
    const result = await runCheck(never, null, 5_000, parent.signal);
    expect(result).toMatchObject({ status: 'fail', output: 'did not finish within the 100ms deadline' });
    expect(result.durationMs).toBeLessThan(1_000);
  });

  it('fails at once under an already-aborted parent', async () => {
    expect(await runCheck(never, null, 5_000, AbortSignal.abort())).toMatchObject({ status: 'fail', output: 'This operation was aborted' });
    expect(await runCheck(never, null, 5_000, AbortSignal.abort('stop'))).toMatchObject({ status: 'fail', output: 'aborted' });
  });
});

describe('runConfiguredCheck', () => {
  it('reports the response time as the observed value, and applies thresholds to it', async () => {
    const { runConfiguredCheck } = await import('./registry.js');
    const { silentServer } = await import('./test-support/servers.js');
    const server = await silentServer();
    try {
      const config = { kind: 'tcp', host: '127.0.0.1', port: server.port, timeout: 1_000 } as const;
      const passed = await runConfiguredCheck(config);
      expect(passed).toMatchObject({ status: 'pass', observedUnit: 'ms' });
      expect(passed.observedValue).toBe(Math.round(passed.durationMs * 10) / 10);
      const slow = await runConfiguredCheck({ ...config, thresholds: { warn: 0 } });
      expect(slow.status).toBe('warn');
      expect(slow.output).toMatch(/^connected to 127\.0\.0\.1:\d+; responseTime [\d.]+ms ≥ warn threshold 0ms$/);
    } finally {
      await server.close();
    }
  });

  it('marks a result that hit its timeout', async () => {
    expect(await runCheck(never, null, 50)).toMatchObject({ status: 'fail', timedOut: true });
    expect((await runCheck(check(() => Promise.resolve(pass())), null, 50)).timedOut).toBeUndefined();
  });
});
