/**
 * For the client's whole-system tests: a real activation-service process (file coordination) with
 * one target whose plan enables a standby over HTTP (no hold-off, no approval) and whose failback
 * an operator starts; the standby it calls back; signed votes and operator failbacks; kill and
 * start again on the same port and data directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import { activationRequest, SECRET_1, signed } from '../../services/activation/src/test-support/fixtures.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789abcdefghijklmnop';

/** The standby's admin endpoint the plans call (on a port from freePort: the service calls it back). */
async function startStandby(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
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

export interface ActivationUnderTest {
  readonly url: string;
  readonly port: number;
  readonly target: string;
  readonly service: ServiceProcess | undefined;
  /** Starts the process (again) on the same port and data directory; resolves once /readyz answers. */
  start(): Promise<void>;
  /** SIGKILL (default) or SIGTERM; resolves once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** `GET /v1/active` of the target. */
  active(): Promise<ActiveSide>;
  /** A signed vote; resolves with the new activation once its plan succeeded and the secondary is active. */
  failover(): Promise<Activation>;
  /** An operator failback; resolves once it succeeded and the primary is active. */
  failback(): Promise<Activation>;
  /** Makes sure the primary is active (a failback if not). */
  toPrimary(): Promise<void>;
  close(): Promise<void>;
}

let incidents = 0;

export async function startActivation(target = 'shop'): Promise<ActivationUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-client-system-'));
  const standby = await startStandby();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'activation.yaml');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: ${port} }
dataDir: ${dir}/data
voters: [{ id: watchdog-1, secret: "\${VOTER_1}" }]
operators: [{ name: alice, token: "\${OPERATOR_TOKEN}" }]
targets:
  - name: ${target}
    holdOff: { enabled: false }
    plan: [{ name: enable-standby, kind: http, url: "${standby.url}/enable" }]
    failback:
      plan: [{ name: disable-standby, kind: http, url: "${standby.url}/disable" }]
      primaryHealthy: { probe: { kind: http, url: "${standby.url}/primary-health" }, for: 10ms, interval: 10ms }
`,
  );
  let service: ServiceProcess | undefined;
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const finished = async (id: string): Promise<Activation> => {
    const done = await waitFor(
      `activation ${id} to end`,
      async () => {
        const a = await get<Activation>(`/v1/activations/${id}`);
        return ['succeeded', 'failed', 'interrupted', 'cancelled', 'notified'].includes(a.status) ? a : undefined;
      },
      15_000,
      10,
    );
    if (done.status !== 'succeeded') throw new Error(`activation ${id} ended ${done.status}: ${done.reason ?? ''}`);
    return done;
  };

  const self: ActivationUnderTest = {
    url,
    port,
    target,
    get service() {
      return service;
    },
    async start() {
      const started = startService('activation', configPath, { env: { VOTER_1: SECRET_1, OPERATOR_TOKEN } });
      service = started;
      await waitFor(
        'activation to be ready',
        async () => {
          if (started.child.exitCode !== null) throw new Error(`activation exited: ${started.lines.join('\n')}`);
          return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok;
        },
        30_000,
      );
    },
    async stop(signal = 'SIGKILL') {
      await service?.stop(signal);
    },
    active: () => get<ActiveSide>(`/v1/active?target=${target}`),
    async failover() {
      incidents++;
      const base = activationRequest();
      const { payload, headers } = signed(activationRequest({ target, incident: { ...base.incident, id: `inc-${incidents}-${Date.now()}`, startedAt: new Date().toISOString() } }));
      const res = await fetch(`${url}/v1/activations`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as Activation;
      if (res.status !== 202) throw new Error(`vote answered ${res.status}: ${JSON.stringify(body)}`);
      return finished(body.id);
    },
    async failback() {
      const res = await fetch(`${url}/v1/failbacks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
        body: JSON.stringify({ target, comment: 'client system test' }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json()) as Activation;
      if (res.status !== 202) throw new Error(`failback answered ${res.status}: ${JSON.stringify(body)}`);
      return finished(body.id);
    },
    async toPrimary() {
      if ((await self.active()).active === 'secondary') await self.failback();
    },
    async close() {
      await service?.stop('SIGKILL');
      await standby.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}

/** A median of numbers (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
