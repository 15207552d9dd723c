import { parseConfigValue } from '@vigil/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckConfig, runConfiguredCheck } from './registry.js';
import { startDnsServer } from './test-support/dns-server.js';

let server: Awaited<ReturnType<typeof startDnsServer>>;
let silent: Awaited<ReturnType<typeof startDnsServer>>;
beforeAll(async () => {
  server = await startDnsServer({
    'db.vigil.test A': ['10.0.0.5', '10.0.0.6'],
    'db.vigil.test AAAA': ['fd00::5'],
    'www.vigil.test CNAME': ['lb.vigil.test'],
    '_pg._tcp.vigil.test SRV': ['db.vigil.test:5432'],
  });
  silent = await startDnsServer({}, true);
});
afterAll(async () => {
  await server.close();
  await silent.close();
});

const probe = (fields: Record<string, unknown>) =>
  runConfiguredCheck(parseConfigValue(CheckConfig, { kind: 'dns', server: server.address, ...fields }, 'test'));

describe('dns check', () => {
  it.each([
    ['A', 'db.vigil.test', 'db.vigil.test A: 10.0.0.5, 10.0.0.6'],
    ['AAAA', 'db.vigil.test', 'db.vigil.test AAAA: fd00::5'],
    ['CNAME', 'www.vigil.test', 'www.vigil.test CNAME: lb.vigil.test'],
    ['SRV', '_pg._tcp.vigil.test', '_pg._tcp.vigil.test SRV: db.vigil.test:5432'],
  ])('resolves %s records', async (type, host, output) => {
    expect(await probe({ host, type })).toMatchObject({ status: 'pass', output, observedUnit: 'ms' });
  });

  it('passes when an answer equals the expected value, and fails otherwise', async () => {
    expect(await probe({ host: 'db.vigil.test', expect: '10.0.0.6' })).toMatchObject({ status: 'pass' });
    expect(await probe({ host: 'db.vigil.test', expect: '10.0.0.9' })).toMatchObject({
      status: 'fail',
      output: 'db.vigil.test A: 10.0.0.5, 10.0.0.6 (expected 10.0.0.9)',
    });
  });

  it('fails on a name that does not exist', async () => {
    const result = await probe({ host: 'nope.vigil.test' });
    expect(result.status).toBe('fail');
    expect(result.output).toContain('ENOTFOUND');
  });

  it('fails at its timeout when the resolver never answers', async () => {
    const result = await probe({ host: 'db.vigil.test', server: silent.address, timeout: '300ms' });
    expect(result.status).toBe('fail');
    expect(result.durationMs).toBeLessThan(300 + 500);
  });
});
