import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { checkReady, dialHost, serviceCommandFrom } from './service.js';

describe('serviceCommandFrom', () => {
  it('runs the service unless a command comes first', () => {
    expect(serviceCommandFrom([])).toBe('run');
    expect(serviceCommandFrom(['--config', 'x.yaml'])).toBe('run');
    expect(serviceCommandFrom(['run', '--config', 'x.yaml'])).toBe('run');
    expect(serviceCommandFrom(['check-config', '--config', 'x.yaml'])).toBe('check-config');
    expect(serviceCommandFrom(['healthcheck'])).toBe('healthcheck');
    expect(serviceCommandFrom(['helthcheck'])).toEqual({ unknown: 'helthcheck' });
  });
});

describe('dialHost', () => {
  it('reaches a wildcard bind on loopback and keeps a specific address', () => {
    expect(dialHost('0.0.0.0')).toBe('127.0.0.1');
    expect(dialHost('')).toBe('127.0.0.1');
    expect(dialHost('::')).toBe('::1');
    expect(dialHost('10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('checkReady', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok())));

  async function serve(status: number, body: string): Promise<number> {
    server = createServer((req, res) => res.writeHead(req.url === '/readyz' ? status : 404).end(body));
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    return (server.address() as { port: number }).port;
  }

  it('is satisfied by a 200 from /readyz', async () => {
    const port = await serve(200, '{"status":"pass"}');
    await expect(checkReady({ host: '0.0.0.0', port })).resolves.toBeUndefined();
  });

  it('reports the status and body of a service that is not ready', async () => {
    const port = await serve(503, '{"status":"fail","output":"starting"}');
    await expect(checkReady({ host: '127.0.0.1', port })).resolves.toBe(`http://127.0.0.1:${port}/readyz answered 503: {"status":"fail","output":"starting"}`);
  });

  it('reports a refused connection with its cause', async () => {
    const port = await serve(200, '');
    await new Promise<void>((ok) => server!.close(() => ok()));
    server = undefined;
    const problem = await checkReady({ host: '127.0.0.1', port });
    expect(problem).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/readyz: .*ECONNREFUSED`));
  });
});
