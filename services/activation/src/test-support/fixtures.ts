import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, parseConfigValue, signedHeaders, type ActivationRequest, type Logger } from '@vigil/core';
import { ActivationConfig } from '../config.js';

export const SECRET_1 = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const SECRET_2 = 'whsec_c2Vjb25kLXdhdGNoZG9nLXNlY3JldC0xMjM0';

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'vigil-activation-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A stand-in for a standby's admin endpoint on an ephemeral port; `respond` decides each answer. */
export async function fakeEndpoint(respond: (call: number, req: Received, res: ServerResponse) => void = (_n, _r, res) => res.end('ok')) {
  const calls: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      calls.push(received);
      respond(calls.length, received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export { closedPort } from '../../../../packages/core/src/test-support/ports.js';

/** A logger whose lines are kept in memory, to assert on what is (not) logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ service: 'vigil-activation', level: 'debug', destination }), lines };
}

/** A decoded configuration as `runService` would produce it from this raw YAML-shaped value. */
export function config(raw: unknown): ActivationConfig {
  return parseConfigValue(ActivationConfig, raw, 'test', {});
}

export function activationRequest(overrides: Partial<ActivationRequest> = {}): ActivationRequest {
  return {
    target: 'primary',
    voter: 'watchdog-1',
    incident: {
      id: 'inc-1',
      monitor: 'primary-health',
      startedAt: '2026-11-22T10:00:00Z',
      consecutiveFailures: 3,
      evidence: [{ time: '2026-11-22T10:00:30Z', status: 'fail', durationMs: 5000, output: 'timed out' }],
    },
    ...overrides,
  };
}

/** A signed delivery: the payload text and its Standard Webhooks headers. */
export function signed(body: unknown, options: { secret?: string; id?: string; nowMs?: number } = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = signedHeaders(options.secret ?? SECRET_1, payload, options.id, options.nowMs);
  return { payload, headers: { ...headers, 'content-type': 'application/json' } };
}
