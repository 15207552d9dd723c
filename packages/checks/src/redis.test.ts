import { parseConfigValue } from '@vigil/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../core/src/test-support/components.js';
import { CheckConfig, runConfiguredCheck } from './registry.js';
import { startRedis, type RedisServer } from './test-support/components.js';
import { closedPort, silentServer } from './test-support/servers.js';

const redisServer = findBinary('redis-server', 'redis-server');
const configure = (fields: Record<string, unknown>) => parseConfigValue(CheckConfig, { kind: 'redis', timeout: '2s', ...fields }, 'test');

describe('redis check', () => {
  it('fails when the connection is refused', async () => {
    const port = await closedPort();
    expect(await runConfiguredCheck(configure({ url: `redis://127.0.0.1:${port}` }))).toMatchObject({
      status: 'fail',
      output: `connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('fails at its timeout against a server that never answers', async () => {
    const silent = await silentServer();
    try {
      const result = await runConfiguredCheck(configure({ url: `redis://127.0.0.1:${silent.port}`, timeout: '300ms' }));
      expect(result).toMatchObject({ status: 'fail', output: 'timed out after 300ms', timedOut: true });
    } finally {
      await silent.close();
    }
  });
});

describe.skipIf(!redisServer)('redis check against a real Redis', () => {
  let master: RedisServer;
  let replica: RedisServer;
  beforeAll(async () => {
    master = await startRedis(redisServer!);
    replica = await startRedis(redisServer!, master);
  }, 60_000);
  afterAll(async () => {
    await replica?.stop();
    await master?.stop();
  });

  it('passes on PING after AUTH', async () => {
    expect(await runConfiguredCheck(configure({ url: master.url }))).toMatchObject({ status: 'pass', output: 'PONG', observedUnit: 'ms' });
  });

  it('fails without the password, and never shows a wrong one', async () => {
    const anonymous = await runConfiguredCheck(configure({ url: `redis://127.0.0.1:${master.port}` }));
    expect(anonymous).toMatchObject({ status: 'fail', output: 'PING failed: NOAUTH Authentication required.' });
    const wrong = await runConfiguredCheck(configure({ url: `redis://:wrong-pass-123@127.0.0.1:${master.port}` }));
    expect(wrong.status).toBe('fail');
    expect(wrong.output).toMatch(/^AUTH failed: WRONGPASS/);
    expect(wrong.output).not.toContain('wrong-pass-123');
  });

  it('checks the expected role: master and replica', async () => {
    expect(await runConfiguredCheck(configure({ url: master.url, role: 'master' }))).toMatchObject({ status: 'pass', output: 'PONG, role master' });
    expect(await runConfiguredCheck(configure({ url: replica.url, role: 'replica' }))).toMatchObject({ status: 'pass', output: 'PONG, role replica' });
    expect(await runConfiguredCheck(configure({ url: replica.url, role: 'master' }))).toMatchObject({ status: 'fail', output: 'role is replica, expected master' });
    expect(await runConfiguredCheck(configure({ url: master.url, role: 'replica' }))).toMatchObject({ status: 'fail', output: 'role is master, expected replica' });
  });
});
