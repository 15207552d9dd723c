import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../../packages/core/src/test-support/components.js';
import { startDnsServer } from '../../../packages/checks/src/test-support/dns-server.js';
import { createProbe, probeAgent, probeTarget, type Probe, type ProbeConfig } from './probe.js';
import { closedPort, healthTarget } from './test-support/servers.js';

const probeOnce = (probe: Probe, url: string) => probe({ kind: 'http', url, method: 'GET', expectStatus: ['2xx'], timeout: 2000 }, AbortSignal.timeout(5000));

describe('probe kinds', () => {
  const signal = () => AbortSignal.timeout(5000);

  it('probes http with the check\'s assertions, over the shared pool', async () => {
    const target = await healthTarget();
    const { agent } = probeAgent();
    try {
      const probe = createProbe(agent);
      const http = { kind: 'http', url: `${target.url}/health`, method: 'GET', timeout: 2000 } as const;
      expect(await probe({ ...http, expectStatus: ['2xx'], expectBody: { json: { '$.status': 'pass' } } }, signal())).toMatchObject({ status: 'pass' });
      expect(await probe({ ...http, expectStatus: [204] }, signal())).toMatchObject({ status: 'fail', output: expect.stringContaining('expected 204') as string });
      expect(await probe({ ...http, expectStatus: ['2xx'], expectBody: { contains: 'degraded' } }, signal())).toMatchObject({
        status: 'fail',
        output: expect.stringContaining('body does not contain "degraded"') as string,
      });
    } finally {
      await agent.close();
      await target.close();
    }
  });

  it('probes tcp: a listening port passes, a closed one fails', async () => {
    const target = await healthTarget();
    const port = Number(new URL(target.url).port);
    const { agent } = probeAgent();
    try {
      const probe = createProbe(agent);
      expect(await probe({ kind: 'tcp', host: '127.0.0.1', port, timeout: 1000 }, signal())).toMatchObject({ status: 'pass', output: `connected to 127.0.0.1:${port}` });
      expect(await probe({ kind: 'tcp', host: '127.0.0.1', port: await closedPort(), timeout: 1000 }, signal())).toMatchObject({ status: 'fail' });
    } finally {
      await agent.close();
      await target.close();
    }
  });

  it('probes dns against a given resolver, with an expected answer', async () => {
    const server = await startDnsServer({ 'primary.vigil.test A': ['10.0.0.5'] });
    const { agent } = probeAgent();
    try {
      const probe = createProbe(agent);
      const dns = { kind: 'dns', host: 'primary.vigil.test', type: 'A', server: server.address, timeout: 1000 } as const;
      expect(await probe({ ...dns, expect: '10.0.0.5' }, signal())).toMatchObject({ status: 'pass', output: 'primary.vigil.test A: 10.0.0.5' });
      expect(await probe({ ...dns, expect: '10.0.0.6' }, signal())).toMatchObject({ status: 'fail' });
      expect(await probe({ ...dns, host: 'gone.vigil.test' }, signal())).toMatchObject({ status: 'fail' });
    } finally {
      await agent.close();
      await server.close();
    }
  });

  it('masks the secrets of a probe\'s configuration in its output', async () => {
    const { agent } = probeAgent();
    try {
      const port = await closedPort();
      const result = await createProbe(agent)(
        { kind: 'http', url: `http://user:s3cret-pass@127.0.0.1:${port}/health`, method: 'GET', expectStatus: ['2xx'], timeout: 1000 },
        signal(),
      );
      expect(result.status).toBe('fail');
      expect(result.output).not.toContain('s3cret-pass');
    } finally {
      await agent.close();
    }
  });

  it.each<[ProbeConfig, string]>([
    [{ kind: 'http', url: 'https://user:pw@api.example/ready', method: 'GET', expectStatus: ['2xx'], timeout: 1 }, 'https://user:REDACTED@api.example/ready'],
    [{ kind: 'tcp', host: 'db.internal', port: 5432, timeout: 1 }, 'db.internal:5432'],
    [{ kind: 'tcp', host: 'fd00::5', port: 5432, timeout: 1 }, '[fd00::5]:5432'],
    [{ kind: 'dns', host: 'primary.example', type: 'A', timeout: 1 }, 'primary.example'],
  ])('names the target of %j for people', (config, target) => {
    expect(probeTarget(config)).toBe(target);
  });
});

describe('http probes over the shared pool', () => {
  it('probes plain http without a certificate expiry', async () => {
    const target = await healthTarget();
    const { agent, certificates } = probeAgent();
    try {
      const probe = createProbe(agent, certificates);
      expect(await probeOnce(probe, `${target.url}/health`)).toMatchObject({ status: 'pass', httpStatus: 200 });
      expect((await probeOnce(probe, `${target.url}/health`)).tlsEarliestCertExpiry).toBeUndefined();
    } finally {
      await agent.close();
      await target.close();
    }
  });

  const openssl = findBinary('openssl', 'openssl');
  describe.skipIf(!openssl)('https with a certificate expiring in 3 days', () => {
    let dir: string;
    let pem: string;
    let server: Server;
    let url: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-watchdog-tls-'));
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync(openssl!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
        stdio: 'ignore',
      });
      pem = readFileSync(cert, 'utf8');
      server = createHttpsServer({ key: readFileSync(key), cert: pem }, (_req, res) => res.writeHead(200, { 'content-type': 'application/health+json' }).end('{"status":"pass"}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    });

    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports the earliest certificate expiry on new and reused connections alike', async () => {
      const { agent, certificates } = probeAgent({ connect: { ca: pem } });
      try {
        const probe = createProbe(agent, certificates);
        const expected = new X509Certificate(pem).validToDate.getTime() / 1000;
        const first = await probeOnce(probe, url);
        expect(first).toMatchObject({ status: 'pass', tlsEarliestCertExpiry: expected });
        // kept alive: no new handshake, the expiry seen when the connection was opened
        const second = await probeOnce(probe, url);
        expect(second).toMatchObject({ status: 'pass', tlsEarliestCertExpiry: expected });
        expect(expected * 1000 - Date.now()).toBeLessThan(3 * 86_400_000 + 60_000);
      } finally {
        await agent.close();
      }
    });

    it('sees a renewed certificate once its connection is replaced', async () => {
      const renewedKey = join(dir, 'renewed-key.pem');
      const renewedCert = join(dir, 'renewed-cert.pem');
      execFileSync(openssl!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', renewedKey, '-out', renewedCert, '-days', '90', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
        stdio: 'ignore',
      });
      const renewed = readFileSync(renewedCert, 'utf8');
      const { agent, certificates } = probeAgent({ connect: { ca: [pem, renewed] }, connectionTtlMs: 100 });
      const original = { key: readFileSync(join(dir, 'key.pem')), cert: pem };
      try {
        const probe = createProbe(agent, certificates);
        expect((await probeOnce(probe, url)).tlsEarliestCertExpiry).toBe(new X509Certificate(pem).validToDate.getTime() / 1000);
        server.setSecureContext({ key: readFileSync(renewedKey), cert: renewed });
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect((await probeOnce(probe, url)).tlsEarliestCertExpiry).toBe(new X509Certificate(renewed).validToDate.getTime() / 1000);
      } finally {
        server.setSecureContext(original);
        await agent.close();
      }
    });

    it('honours a monitor\'s own TLS trust (tls.ca) on a connection of its own, and reports the expiry', async () => {
      const { agent, certificates } = probeAgent();
      try {
        const probe = createProbe(agent, certificates);
        const result = await probe({ kind: 'http', url, method: 'GET', expectStatus: ['2xx'], tls: { ca: pem }, timeout: 2000 }, AbortSignal.timeout(5000));
        expect(result).toMatchObject({ status: 'pass', tlsEarliestCertExpiry: new X509Certificate(pem).validToDate.getTime() / 1000 });
      } finally {
        await agent.close();
      }
    });

    it('reports no expiry when the certificate is not trusted (the probe fails)', async () => {
      const { agent, certificates } = probeAgent();
      try {
        const result = await probeOnce(createProbe(agent, certificates), url);
        expect(result).toMatchObject({ status: 'fail' });
        expect(result.tlsEarliestCertExpiry).toBeUndefined();
      } finally {
        await agent.close();
      }
    });
  });
});


describe('hedged probes', () => {
  /** Answers health+json pass, except on the connections listed in `stalled` (1-based, in accept order), which never get an answer. */
  async function stallingTarget(stalled: readonly number[]) {
    const { createServer } = await import('node:http');
    let accepted = 0;
    const connections = new WeakMap<object, number>();
    const server = createServer((req, res) => {
      if (stalled.includes(connections.get(req.socket) ?? 0)) return;
      res.writeHead(200, { 'content-type': 'application/health+json' }).end('{"status":"pass"}');
    });
    server.on('connection', (socket) => connections.set(socket, ++accepted));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/health`,
      connections: () => accepted,
      close: () => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    };
  }

  const config = (url: string, attempts: number): ProbeConfig => ({ kind: 'http', url, method: 'GET', expectStatus: ['2xx'], timeout: 1500, attempts, hedgeDelay: 100 });

  it('answers through a fresh connection when the kept-alive one is stuck', async () => {
    const target = await stallingTarget([1]);
    const { agent } = probeAgent();
    try {
      const probe = createProbe(agent);
      const result = await probe(config(target.url, 4), AbortSignal.timeout(5000));
      expect(result).toMatchObject({ status: 'pass', attempts: 2 });
      // Hedged at 100 ms and answered within a few ms on loopback: about 100 ms, far from the 1.5 s timeout.
      expect(result.durationMs).toBeGreaterThanOrEqual(90);
      expect(result.durationMs).toBeLessThan(1000);
      expect(target.connections()).toBe(2);
    } finally {
      await agent.close();
      await target.close();
    }
  });

  it('with one attempt, waits out the stuck connection and fails', async () => {
    const target = await stallingTarget([1]);
    const { agent } = probeAgent();
    try {
      const result = await createProbe(agent)(config(target.url, 1), AbortSignal.timeout(5000));
      expect(result).toMatchObject({ status: 'fail', output: 'timed out after 1500ms', attempts: 1 });
      expect(target.connections()).toBe(1);
    } finally {
      await agent.close();
      await target.close();
    }
  });

  it('fails a refused target at once, every attempt refused', async () => {
    const { agent } = probeAgent();
    try {
      const result = await createProbe(agent)(config(`http://127.0.0.1:${await closedPort()}/health`, 4), AbortSignal.timeout(5000));
      expect(result).toMatchObject({ status: 'fail', attempts: 4, output: expect.stringMatching(/^4 attempts failed: .*ECONNREFUSED/) as string });
      expect(result.durationMs).toBeLessThan(1000);
    } finally {
      await agent.close();
    }
  });
});
