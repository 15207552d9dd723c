import { parseConfigValue } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from './runner.js';
import { TcpCheckConfig, tcp } from './tcp.js';
import { closedPort, silentServer, type LocalServer } from './test-support/servers.js';

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const probe = (fields: Record<string, unknown>) => {
  const config = parseConfigValue(TcpCheckConfig, { kind: 'tcp', host: '127.0.0.1', ...fields }, 'test');
  return runCheck(tcp, config, config.timeout);
};

describe('tcp check', () => {
  it('passes when the port accepts a connection, and closes it', async () => {
    const server = await silentServer();
    servers.push(server);
    const result = await probe({ port: server.port });
    expect(result).toMatchObject({ status: 'pass', output: `connected to 127.0.0.1:${server.port}` });
    expect(server.connections).toBe(1);
  });

  it('fails with the reason when the connection is refused', async () => {
    const port = await closedPort();
    expect(await probe({ port })).toMatchObject({ status: 'fail', output: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('fails when the host does not resolve', async () => {
    const result = await probe({ host: 'vigil-test.invalid', port: 80 });
    expect(result.status).toBe('fail');
    expect(result.output).toContain('vigil-test.invalid');
  });

  it('fails within the timeout when no connection can be established', async () => {
    // 192.0.2.0/24 is reserved for documentation: connecting there hangs or fails at once, never succeeds.
    const result = await probe({ host: '192.0.2.1', port: 9, timeout: '200ms' });
    expect(result.status).toBe('fail');
    expect(result.durationMs).toBeLessThan(200 + 250);
  });
});
