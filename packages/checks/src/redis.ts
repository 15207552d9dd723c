import { connect, type Socket } from 'node:net';
import { Duration } from '@vigil/core';
import Type, { type StaticDecode } from 'typebox';
import type { Check } from './check.js';
import { abortText, errorText, fail, pass } from './outcome.js';
import { decodeReply, encodeCommand, RespError, type RespValue } from './resp.js';

export const RedisCheckConfig = Type.Object(
  {
    kind: Type.Literal('redis'),
    url: Type.String({
      pattern: '^redis://',
      'x-expected': 'a URL such as "redis://:${REDIS_PASSWORD}@cache:6379"',
      description: 'redis://[user:password@]host[:port]; the password never appears in outputs',
    }),
    role: Type.Optional(Type.Union([Type.Literal('master'), Type.Literal('replica')], { description: 'the role the server must report' })),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);
export type RedisCheckConfig = StaticDecode<typeof RedisCheckConfig>;

/** A Redis check: `PING` (after `AUTH` when the URL has a password), and `ROLE` when a role is expected. */
export const redis: Check<RedisCheckConfig> = {
  kind: 'redis',
  componentType: 'datastore',
  async run(config, signal) {
    const url = new URL(config.url);
    const session = await open(url.hostname.replace(/^\[(.*)\]$/, '$1'), Number(url.port) || 6379, signal).catch((err: unknown) => err as Error);
    if (session instanceof Error) return fail(signal.aborted ? abortText(signal) : errorText(session));
    try {
      if (url.password) {
        const user = decodeURIComponent(url.username);
        const password = decodeURIComponent(url.password);
        expectOk(await session.send(...(user ? ['AUTH', user, password] : ['AUTH', password])), 'AUTH');
      }
      const pong = expectOk(await session.send('PING'), 'PING');
      if (pong !== 'PONG') return fail(`PING answered ${JSON.stringify(pong)}`);
      if (!config.role) return pass('PONG');
      const role = await session.send('ROLE');
      const reported = Array.isArray(role) && typeof role[0] === 'string' ? role[0] : undefined;
      if (reported === undefined) return fail(`ROLE answered ${role instanceof Error ? role.message : 'an unexpected reply'}`);
      // Redis reports a replica as "slave".
      const normalised = reported === 'slave' ? 'replica' : reported;
      return normalised === config.role ? pass(`PONG, role ${normalised}`) : fail(`role is ${normalised}, expected ${config.role}`);
    } catch (err) {
      return fail(signal.aborted ? abortText(signal) : errorText(err));
    } finally {
      session.close();
    }
  },
};

function expectOk(value: RespValue, command: string): RespValue {
  if (value instanceof RespError) throw new Error(`${command} failed: ${value.message}`);
  return value;
}

interface Session {
  send(...args: string[]): Promise<RespValue>;
  close(): void;
}

/** One connection that sends a command and waits for its reply, one at a time. */
function open(host: string, port: number, signal: AbortSignal): Promise<Session> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    let buffered = Buffer.alloc(0);
    let waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void } | undefined;
    const failAll = (err: Error) => {
      waiting?.reject(err);
      waiting = undefined;
      reject(err);
    };
    const onAbort = () => {
      socket.destroy();
      failAll(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', failAll);
    socket.on('close', () => failAll(new Error('connection closed by the server')));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        const reply = decodeReply(buffered);
        if (!reply) return;
        buffered = buffered.subarray(reply.next);
        const w = waiting;
        waiting = undefined;
        w?.resolve(reply.value);
      } catch (err) {
        socket.destroy();
        failAll(err as Error);
      }
    });
    socket.once('connect', () =>
      resolve({
        send: (...args) =>
          new Promise<RespValue>((res, rej) => {
            waiting = { resolve: res, reject: rej };
            socket.write(encodeCommand(...args));
          }),
        close: () => {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
        },
      }),
    );
  });
}
