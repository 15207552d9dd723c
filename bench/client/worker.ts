/**
 * One side of bench/client in a process of its own (forked by run.ts), so that each side's
 * garbage collection and JIT state are its own: `bare` sends through a plain undici Agent, `vigil`
 * through a VigilClient's dispatcher (following an in-process stand-in activation service, which
 * is idle once the client has its state). Runs one round per message and answers with its times.
 */
import { VigilClient } from '@vigil/client';
import { freePort } from '@vigil/demo';
import { Agent, fetch, type Dispatcher } from 'undici';
import { FakeActivation } from '../../packages/client/src/test-support/fake-activation.ts';

export type Mode = 'request' | 'fetch';
export interface RoundOrder {
  mode: Mode;
  requests: number;
  concurrency: number;
}
export interface RoundResult {
  wallMs: number;
  cpuMs: number;
  requests: number;
  controlPlaneRequests: number;
}

const side = process.argv[2];
const origin = process.argv[3]!;

/** One request of `mode` through `dispatcher`, its body read to the end. */
function oneRequest(mode: Mode, dispatcher: Dispatcher): Promise<unknown> {
  if (mode === 'request') {
    return dispatcher.request({ origin, path: '/', method: 'GET' }).then((res) => {
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      return res.body.text();
    });
  }
  return fetch(`${origin}/`, { dispatcher }).then((res) => {
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return res.text();
  });
}

async function round(order: RoundOrder, dispatcher: Dispatcher): Promise<Omit<RoundResult, 'controlPlaneRequests'>> {
  let next = 0;
  const worker = async () => {
    while (next < order.requests) {
      next += 1;
      await oneRequest(order.mode, dispatcher);
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: order.concurrency }, worker));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000, requests: order.requests };
}

let activation: FakeActivation | undefined;
let vigil: VigilClient | undefined;
let bare: Agent | undefined;
let dispatcher: Dispatcher;
if (side === 'vigil') {
  activation = await new FakeActivation([{ target: 'app', active: 'primary', epoch: 1, revision: 1 }]).start();
  // The secondary is never used here (nothing switches): a port nothing listens on.
  vigil = new VigilClient({ activation: activation.url, targets: { app: { primary: origin, secondary: `http://127.0.0.1:${await freePort()}` } } });
  await vigil.ready(AbortSignal.timeout(5_000));
  dispatcher = vigil.dispatcher;
} else {
  bare = new Agent();
  dispatcher = bare;
}

process.on('message', (order: RoundOrder | 'exit') => {
  if (order === 'exit') {
    void Promise.all([vigil?.close(), bare?.close()])
      .then(() => activation?.close())
      .then(() => process.disconnect());
    return;
  }
  round(order, dispatcher).then(
    (result) => process.send!({ ...result, controlPlaneRequests: activation ? activation.count('/v1/active') + activation.count('/v1/active/stream') : 0 } satisfies RoundResult),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
process.send!('ready');
