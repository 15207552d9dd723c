import { request as httpRequest } from 'node:http';
import type { Activation } from '@vigil/core';
import { buildApp, type ActivationApp } from '../app.js';
import { activationRequest, config, fakeEndpoint, memoryLogger, SECRET_1, SECRET_2, signed, tempDir } from './fixtures.js';

export const TOKEN = 'operator-token-0123456789abcdefghijklmnop';
export const auth = { authorization: `Bearer ${TOKEN}` };

type Endpoint = Awaited<ReturnType<typeof fakeEndpoint>>;
export type Urls = { standby: string; primary: string; replication: string };

/**
 * A harness for the operator-facing reads and drills: a standby (the plan's steps), a primary to
 * probe, a replication-lag endpoint, and the app in front of them. `cleanup()` closes it all.
 */
export function opsHarness() {
  const apps: ActivationApp[] = [];
  const endpoints: Endpoint[] = [];
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  const endpoint = async (respond?: Parameters<typeof fakeEndpoint>[0]) => {
    const e = await fakeEndpoint(respond);
    endpoints.push(e);
    return e;
  };

  async function setup(
    target: (urls: Urls) => Record<string, unknown> = () => ({}),
    options: { primaryStatus?: number; lagSeconds?: number; top?: Record<string, unknown>; before?: (raw: Record<string, unknown>) => Promise<void> } = {},
  ) {
    const dir = await tempDir();
    dirs.push(dir);
    const log = memoryLogger();
    const standby = await endpoint();
    const primary = await endpoint((_n, _req, res) => {
      res.statusCode = options.primaryStatus ?? 200;
      res.end();
    });
    const replication = await endpoint((_n, _req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ lagSeconds: options.lagSeconds ?? 0 }));
    });
    const urls = { standby: standby.url, primary: primary.url, replication: replication.url };
    const raw: Record<string, unknown> = {
      dataDir: dir.path,
      voters: [
        { id: 'watchdog-1', secret: SECRET_1 },
        { id: 'watchdog-2', secret: SECRET_2 },
      ],
      operators: [{ name: 'alice', token: TOKEN }],
      targets: [
        {
          name: 'primary',
          plan: [{ name: 'enable-standby', kind: 'http', url: `${standby.url}/enable`, timeout: '2s' }],
          failback: {
            plan: [{ name: 'disable-standby', kind: 'http', url: `${standby.url}/disable` }],
            primaryHealthy: { probe: { kind: 'http', url: `${primary.url}/health` }, for: '200ms', interval: '50ms' },
          },
          ...target(urls),
        },
      ],
      ...options.top,
    };
    await options.before?.(raw);
    const app = await buildApp({ config: config(raw), logger: log.logger });
    apps.push(app);
    return { app, standby, primary, replication, log, raw };
  }

  async function cleanup() {
    for (const app of apps.splice(0)) await app.close();
    for (const e of endpoints.splice(0)) await e.close();
    for (const d of dirs.splice(0)) await d.remove();
  }

  return { setup, endpoint, cleanup };
}

export function vote(app: ActivationApp, voter = 'watchdog-1', secret = SECRET_1) {
  const { payload, headers } = signed(activationRequest({ voter, incident: { ...activationRequest().incident, id: `inc-${voter}` } }), { secret });
  return app.inject({ method: 'POST', url: '/v1/activations', payload, headers });
}

export const operator = (app: ActivationApp, path: string, body: unknown = {}, headers: Record<string, string> = auth) =>
  app.inject({ method: 'POST', url: path, payload: body as Record<string, unknown>, headers });

export type AuditRecords = { records: ({ event: string } & Record<string, unknown>)[] };
export const auditOf = async (app: ActivationApp, id: string) => (await app.inject({ url: `/v1/activations/${id}/audit` })).json<AuditRecords>().records;
export const getActivation = async (app: ActivationApp, id: string) => (await app.inject({ url: `/v1/activations/${id}` })).json<Activation>();

/** Opens a server-sent event stream; collects each event's name and parsed data, and the raw text. */
export function openStream(url: string) {
  const events: { event: string; data: unknown }[] = [];
  let text = '';
  let buffer = '';
  let status: number | undefined;
  let contentType: string | undefined;
  let ended = false;
  const req = httpRequest(url, (res) => {
    status = res.statusCode;
    contentType = res.headers['content-type'];
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
      }
    });
    res.on('end', () => (ended = true));
    res.on('close', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  req.end();
  return {
    events,
    get text() {
      return text;
    },
    get status() {
      return status;
    },
    get contentType() {
      return contentType;
    },
    get ended() {
      return ended;
    },
    close: () => req.destroy(),
  };
}
