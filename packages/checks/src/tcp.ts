import { Duration } from '@vigil/core';
import { Socket } from 'node:net';
import Type, { type StaticDecode } from 'typebox';
import type { Check, CheckResult } from './check.js';
import { abortText, errorText, fail, hostPort, pass } from './outcome.js';

export const TcpCheckConfig = Type.Object(
  {
    kind: Type.Literal('tcp'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    timeout: Duration({ default: '1s', description: 'for the connection to be established' }),
  },
  { additionalProperties: false },
);
export type TcpCheckConfig = StaticDecode<typeof TcpCheckConfig>;

/** A TCP check: passes once a connection to host:port is established, then closes it. */
export const tcp: Check<TcpCheckConfig> = {
  kind: 'tcp',
  componentType: 'component',
  run(config, signal) {
    const target = hostPort(config.host, config.port);
    return new Promise<CheckResult>((resolve) => {
      const socket = new Socket();
      const finish = (result: CheckResult) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = () => finish(fail(abortText(signal)));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => finish(pass(`connected to ${target}`)));
      socket.once('error', (err) => finish(fail(errorText(err))));
      socket.connect({ host: config.host, port: config.port });
    });
  },
};
