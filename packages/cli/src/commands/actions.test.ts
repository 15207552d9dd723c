import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Activation } from '@vigil/core';
import type { Context } from '../context.js';
import { painter } from '../output.js';
import { waitFor } from './actions.js';

const base: Activation = { id: 'act_1', requestId: 'r', target: 'shop', voter: 'alice', incidentId: 'i', status: 'holding-off', epoch: 2, createdAt: new Date().toISOString(), steps: [], kind: 'failback' };

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Answers GET /v1/activations/act_1 with each state in turn, then the last one again. */
async function serving(states: Activation[]): Promise<string> {
  let call = 0;
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(states[Math.min(call++, states.length - 1)])));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function context(url: string, tty: boolean): Context & { errText(): string } {
  let err = '';
  const stream = Object.assign(new Writable({ write: (chunk: Buffer, _e, done) => ((err += chunk.toString()), done()) }), { isTTY: tty });
  return {
    connection: { servers: [url], watchdogs: [], token: 't', watchdogToken: undefined, timeoutMs: 2_000 },
    format: 'table',
    streams: { out: new Writable({ write: (_c, _e, done) => done() }), err: stream },
    paint: painter(false),
    paintErr: painter(false),
    env: {},
    now: Date.now,
    signal: new AbortController().signal,
    note: (text) => void stream.write(`${text}\n`),
    print: () => undefined,
    errText: () => err,
  };
}

describe('failback --wait', () => {
  it('on a terminal, one progress line rewritten in place until the failback ends', async () => {
    const running = { ...base, status: 'running' as const, steps: [{ name: 'disable-standby', kind: 'http', status: 'running' as const, startedAt: base.createdAt, attempts: 1 }] };
    const url = await serving([running, { ...running, status: 'succeeded', steps: [{ ...running.steps[0]!, status: 'succeeded' }] }]);
    const ctx = context(url, true);
    const result = await waitFor(ctx, base, 10_000, 20);
    expect(result).toMatchObject({ final: true, activation: { status: 'succeeded' } });
    const err = ctx.errText();
    expect(err).toContain('\r\u001b[2Kfailback act_1 of shop: holding-off');
    expect(err).toContain('step 1 disable-standby running');
    expect(err.endsWith('\r\u001b[2K')).toBe(true); // the line is cleared at the end
  });

  it('not on a terminal: a plain line per change; a wait that ends first leaves it not final (exit 5, not failed)', async () => {
    const url = await serving([base]);
    const ctx = context(url, false);
    const result = await waitFor(ctx, base, 200, 20);
    expect(result.final).toBe(false);
    expect(result.activation.status).toBe('holding-off');
    expect(ctx.errText()).not.toContain('\u001b');
    expect(ctx.errText().trim().split('\n')).toHaveLength(1);
  });
});
