import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigValue } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, Dispatcher } from 'undici';
import { HttpCheckConfig, MAX_BODY_BYTES, createHttpCheck, http } from './http.js';
import { runCheck } from './runner.js';
import { findBinary } from '../../core/src/test-support/components.js';
import { closedPort, httpServer, silentServer, type LocalServer } from './test-support/servers.js';

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(...args: Parameters<typeof httpServer>): Promise<LocalServer> {
  const server = await httpServer(...args);
  servers.push(server);
  return server;
}

const config = (fields: Record<string, unknown>) => parseConfigValue(HttpCheckConfig, { kind: 'http', ...fields }, 'test');
const probe = (fields: Record<string, unknown>) => {
  const c = config(fields);
  return runCheck(http, c, c.timeout);
};

describe('http check', () => {
  it('passes on a 2xx response and records the status', async () => {
    const server = await serve((_req, res) => res.writeHead(204).end());
    const result = await probe({ url: `${server.url}/health` });
    expect(result).toMatchObject({ status: 'pass', httpStatus: 204, output: 'HTTP 204' });
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it('fails on an unexpected status', async () => {
    const server = await serve((_req, res) => res.writeHead(503).end('down'));
    expect(await probe({ url: server.url })).toMatchObject({ status: 'fail', httpStatus: 503, output: 'HTTP 503 (expected 2xx)' });
  });

  it('passes on a status listed in expectStatus', async () => {
    const server = await serve((_req, res) => res.writeHead(301, { location: '/elsewhere' }).end());
    expect(await probe({ url: server.url, expectStatus: [301, '2xx'] })).toMatchObject({ status: 'pass', httpStatus: 301 });
  });

  it('sends the method and headers, and URL credentials as basic auth', async () => {
    let seen: { method?: string; auth?: string; custom?: string | string[] } = {};
    const server = await serve((req, res) => {
      seen = { method: req.method, auth: req.headers.authorization, custom: req.headers['x-probe'] };
      res.end();
    });
    const url = server.url.replace('http://', 'http://probe:s%40cret@');
    await probe({ url, method: 'POST', headers: { 'x-probe': 'vigil' } });
    expect(seen).toEqual({ method: 'POST', auth: `Basic ${Buffer.from('probe:s@cret').toString('base64')}`, custom: 'vigil' });
  });

  it('fails with the reason when the connection is refused', async () => {
    const port = await closedPort();
    const result = await probe({ url: `http://127.0.0.1:${port}/health` });
    expect(result).toMatchObject({ status: 'fail', output: `connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(result.httpStatus).toBeUndefined();
  });

  it('fails at the timeout when the server accepts and never answers', async () => {
    const server = await silentServer();
    servers.push(server);
    const started = performance.now();
    const result = await probe({ url: server.url, timeout: '300ms' });
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ status: 'fail', output: 'timed out after 300ms' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 250);
  });

  it('fails at the timeout when the body trickles', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 50);
      res.once('close', () => clearInterval(timer));
    });
    const result = await probe({ url: server.url, timeout: '300ms' });
    expect(result).toMatchObject({ status: 'fail', output: 'timed out after 300ms' });
    expect(result.durationMs).toBeLessThan(300 + 250);
  });

  it.each([
    ['application/health+json', '{"status":"fail"}', 'fail', 'HTTP 200, health+json status "fail"'],
    ['application/health+json; charset=utf-8', '{"status":"warn"}', 'warn', 'HTTP 200, health+json status "warn"'],
    ['application/health+json', '{"status":"pass"}', 'pass', 'HTTP 200, health+json status "pass"'],
    ['application/json', '{"status":"fail"}', 'fail', 'HTTP 200, JSON status "fail"'],
    ['application/json', '{"status":"UP"}', 'pass', 'HTTP 200, JSON status "UP"'],
    ['application/json', '{"status":"green"}', 'pass', 'HTTP 200'],
    ['application/json', 'not json', 'pass', 'HTTP 200'],
    ['text/plain', '{"status":"fail"}', 'pass', 'HTTP 200'],
    ['application/health+json', 'not json', 'fail', 'HTTP 200, health+json body is not valid JSON'],
    ['application/health+json', '{"status":"green"}', 'fail', 'HTTP 200, health+json status "green" is not pass, warn or fail'],
  ])('follows a %s body %s', async (contentType, body, status, output) => {
    const server = await serve((_req, res) => res.writeHead(200, { 'content-type': contentType }).end(body));
    expect(await probe({ url: server.url })).toMatchObject({ status, output });
  });

  it('reports a failing health+json body on an error status too', async () => {
    const server = await serve((_req, res) => res.writeHead(503, { 'content-type': 'application/health+json' }).end('{"status":"fail"}'));
    expect(await probe({ url: server.url })).toMatchObject({ status: 'fail', output: 'HTTP 503 (expected 2xx), health+json status "fail"' });
  });

  it.each([
    ['declared', true],
    ['chunked', false],
  ])('fails on an oversized %s body without buffering it', async (_name, declareLength) => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = MAX_BODY_BYTES * 8;
    let written = 0;
    const server = await serve((_req, res) => {
      res.writeHead(200, declareLength ? { 'content-length': total } : {});
      const write = () => {
        while (written < total && res.write(chunk)) written += chunk.length;
        if (written < total) res.once('drain', write);
        else res.end();
      };
      write();
    });
    const result = await probe({ url: server.url, timeout: '5s' });
    expect(result).toMatchObject({ status: 'fail', httpStatus: 200, output: 'HTTP 200, response body larger than the 1 MiB limit' });
    expect(written).toBeLessThan(total);
  });

  it('never reports credentials from the URL', async () => {
    const port = await closedPort();
    const secretUrl = `http://admin:hunter2@127.0.0.1:${port}/health?token=tok3n`;
    const refused = await probe({ url: secretUrl });
    expect(refused.status).toBe('fail');
    const unresolvable = await probe({ url: 'http://admin:hunter2@vigil-test.invalid/health?token=tok3n' });
    expect(unresolvable.status).toBe('fail');
    for (const result of [refused, unresolvable]) {
      expect(result.output).not.toContain('hunter2');
      expect(result.output).not.toContain('tok3n');
    }
  });

  it('masks credentials in an error that quotes the URL', async () => {
    // A dispatcher whose error names the request it refused, as a proxy or an interceptor might.
    class Quoting extends Dispatcher {
      override dispatch(options: Dispatcher.DispatchOptions): boolean {
        throw new Error(`refused ${String(options.origin)}${options.path}`);
      }
    }
    const c = config({ url: 'http://admin:hunter2@127.0.0.1:9/health?token=tok3n' });
    const result = await runCheck(createHttpCheck(new Quoting()), c, c.timeout);
    expect(result).toMatchObject({ status: 'fail', output: 'refused http://127.0.0.1:9/health?token=REDACTED' });
  });

  it('reuses connections through a given dispatcher', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const agent = new Agent({ keepAliveTimeout: 10_000 });
    try {
      const check = createHttpCheck(agent);
      const c = config({ url: server.url });
      for (let i = 0; i < 6; i++) expect((await runCheck(check, c, c.timeout)).status).toBe('pass');
      // undici may open a second connection while the first is being released; it does not open one per probe.
      expect(server.connections).toBeLessThanOrEqual(2);
    } finally {
      await agent.close();
    }
  });

  it('honours an abort without the runner', async () => {
    const server = await silentServer();
    servers.push(server);
    const result = await http.run(config({ url: server.url }), AbortSignal.abort(new Error('shutting down')));
    expect(result).toMatchObject({ status: 'fail', output: 'shutting down' });
  });
});

describe('http check body expectations', () => {
  const json = (body: unknown) => (_req: unknown, res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('passes when the body contains the text, and fails otherwise', async () => {
    const server = await serve((_req, res) => res.end('all systems go'));
    expect(await probe({ url: server.url, expectBody: { contains: 'systems go' } })).toMatchObject({ status: 'pass', output: 'HTTP 200' });
    expect(await probe({ url: server.url, expectBody: { contains: 'ready' } })).toMatchObject({ status: 'fail', output: 'HTTP 200, body does not contain "ready"' });
  });

  it('compares values at JSON paths', async () => {
    const server = await serve(json({ db: { status: 'UP', replicas: [{ ok: true }] }, version: 3 }));
    const passing = { '$.db.status': 'UP', 'db.replicas[0].ok': true, '$.version': 3 };
    expect(await probe({ url: server.url, expectBody: { json: passing } })).toMatchObject({ status: 'pass' });
    expect(await probe({ url: server.url, expectBody: { json: { '$.db.status': 'DOWN' } } })).toMatchObject({
      status: 'fail',
      output: 'HTTP 200, $.db.status is "UP", expected "DOWN"',
    });
    expect(await probe({ url: server.url, expectBody: { json: { '$.cache.status': 'UP' } } })).toMatchObject({
      status: 'fail',
      output: 'HTTP 200, $.cache.status is absent, expected "UP"',
    });
  });

  it('fails a JSON expectation on a body that is not JSON', async () => {
    const server = await serve((_req, res) => res.end('<html>'));
    expect(await probe({ url: server.url, expectBody: { json: { '$.status': 'UP' } } })).toMatchObject({ status: 'fail', output: 'HTTP 200, body is not valid JSON' });
  });
});

describe('http check phases', () => {
  it('measures connect, first byte and transfer on its own connection', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      res.write('part');
      setTimeout(() => res.end('rest'), 60);
    });
    const result = await probe({ url: server.url });
    expect(result.status).toBe('pass');
    const phases = result.phases!;
    expect(phases.dns).toBeUndefined(); // an IP literal
    expect(phases.connect).toBeGreaterThanOrEqual(0);
    expect(phases.tls).toBeUndefined();
    expect(phases.firstByte).toBeGreaterThanOrEqual(0);
    expect(phases.transfer).toBeGreaterThanOrEqual(50);
    expect(result.tlsEarliestCertExpiry).toBeUndefined();
  });

  it('resolves a host name, and times the lookup', async () => {
    const server = await serve((_req, res) => res.end());
    const result = await probe({ url: server.url.replace('127.0.0.1', 'localhost') });
    // localhost may resolve to ::1 first, where nothing listens; either way the lookup was timed.
    expect(result.phases!.dns).toBeGreaterThanOrEqual(0);
  });

  it('measures first byte and transfer through a shared dispatcher', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const agent = new Agent();
    try {
      const c = config({ url: server.url });
      const result = await runCheck(createHttpCheck(agent), c, c.timeout);
      expect(Object.keys(result.phases!).sort()).toEqual(['firstByte', 'transfer']);
    } finally {
      await agent.close();
    }
  });

  const openssl = findBinary('openssl', 'openssl');
  it.skipIf(!openssl)('measures the TLS handshake and reads the earliest certificate expiry of an https target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync(openssl!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
        stdio: 'ignore',
      });
      const pem = readFileSync(cert, 'utf8');
      const server = createHttpsServer({ key: readFileSync(key), cert: pem }, (_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/health`;
        const result = await probe({ url, tls: { ca: pem } });
        expect(result).toMatchObject({ status: 'pass', output: 'HTTP 200' });
        expect(result.phases!.tls).toBeGreaterThan(0);
        const expected = new X509Certificate(pem).validToDate.getTime() / 1000;
        expect(result.tlsEarliestCertExpiry).toBe(expected);
        // Without the CA the certificate is not trusted.
        const untrusted = await probe({ url });
        expect(untrusted).toMatchObject({ status: 'fail', output: expect.stringMatching(/^self-signed certificate/) as string });
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
