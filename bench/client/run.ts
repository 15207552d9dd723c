/**
 * Per-request cost of @vigil/client's interceptor next to a bare undici Agent, in one run on
 * loopback. One HTTP server (keep-alive, a canned answer, its own process), the same concurrency
 * and number of requests for both, in rounds that alternate bare and Vigil (ABBA order, so drift
 * of the machine weighs on both alike); the figures are medians over the rounds. Each side runs
 * in a process of its own (worker.ts, one round per message, never both at once), so that one
 * side's garbage collection cannot fall in the other's rounds. The Vigil client follows an
 * in-process stand-in activation service (packages/client's test FakeActivation): the control
 * plane is not on the request path. Two modes: undici's `dispatcher.request` and undici's `fetch`.
 *
 *   npm run bench:client [-- --rounds 16 --concurrency 16 --requests 6000 --fetch-requests 2500]
 *
 * A third measurement takes the network out: the interceptor's own CPU cost, as the difference
 * between dispatching straight to a Pool and dispatching through the interceptor to a Pool, both
 * on a stub connection that answers at once (a few hundred thousand dispatches per round).
 *
 * Each bare round and the Vigil round next to it make a pair; the ratio is the median of the
 * pairs' ratios (drift of the machine between pairs cancels), with the pairs' quartiles beside it.
 * The last line is `client-overhead ratio=<x>`: Vigil's wall time per request over the bare
 * Agent's, for `request` (the thinner API, where the interceptor's share is largest).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VigilClient } from '@vigil/client';
import { Dispatcher, Pool } from 'undici';
import { FakeActivation } from '../../packages/client/src/test-support/fake-activation.ts';
import type { Mode, RoundOrder, RoundResult as Round } from './worker.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
/** Rounds per side and mode (after one warm-up round each). */
const ROUNDS = arg('rounds', 16);
const CONCURRENCY = arg('concurrency', 16);
const REQUESTS = { request: arg('requests', 6_000), fetch: arg('fetch-requests', 2_500) };
const GOAL = 1.05;

type Side = 'bare' | 'vigil';

async function startServer(): Promise<{ origin: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(chunk.toString('utf8').trim());
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A worker process for one side; `round` runs one round there. */
async function startWorker(side: Side, origin: string): Promise<{ round(order: RoundOrder): Promise<Round>; stop(): Promise<void> }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [side, origin], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [first] = (await once(child, 'message')) as [unknown];
  if (first !== 'ready') throw new Error(`the ${side} worker said ${JSON.stringify(first)}`);
  return {
    round: async (order) => {
      child.send(order);
      const [result] = (await once(child, 'message')) as [Round];
      return result;
    },
    stop: async () => {
      const exited = once(child, 'exit');
      child.send('exit');
      await exited;
    },
  };
}

/** Linear interpolation between the closest ranks. */
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.min(low + 1, sorted.length - 1)]! - sorted[low]!) * (at - low);
};
const median = (values: number[]) => quantile(values, 0.5);

const BODY = Buffer.from('{"side":"primary"}');
const STUB_DISPATCHES = 200_000;

/** A connection that answers every request at once, in the dispatch call: no network, no parsing. */
class StubConnection extends Dispatcher {
  override dispatch(_opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = { aborted: false, paused: false, reason: null, rawHeaders: null, rawTrailers: null, abort() {}, pause() {}, resume() {} };
    handler.onRequestStart?.(controller, {});
    handler.onResponseStart?.(controller, 200, { 'content-type': 'application/json' }, 'OK');
    handler.onResponseData?.(controller, BODY);
    handler.onResponseEnd?.(controller, {});
    return true;
  }
  override close(): Promise<void> {
    return Promise.resolve();
  }
  override destroy(): Promise<void> {
    return Promise.resolve();
  }
}

/** µs per dispatch straight to a Pool and through Vigil's interceptor, on stub connections; medians of alternating rounds. */
async function interceptorAlone(activationUrl: string): Promise<{ bare: number; vigil: number }> {
  const origin = 'http://127.0.0.1:1';
  const factory = () => new StubConnection();
  const vigil = new VigilClient({ activation: activationUrl, targets: { app: { primary: origin, secondary: 'http://127.0.0.1:2' } }, pool: { factory } });
  const pool = new Pool(origin, { factory });
  try {
    await vigil.ready(AbortSignal.timeout(5_000));
    let ended = 0;
    const handler: Dispatcher.DispatchHandler = {
      onResponseEnd: () => void (ended += 1),
      onResponseError: (_controller, error) => {
        throw error;
      },
    };
    const routed = vigil.interceptor()(() => {
      throw new Error('the stub origin was not routed');
    });
    const opts = (): Dispatcher.DispatchOptions => ({ origin, path: '/', method: 'GET', headers: { accept: 'application/json' } });
    const timed = (dispatch: () => void) => {
      const started = performance.now();
      for (let i = 0; i < STUB_DISPATCHES; i++) dispatch();
      return ((performance.now() - started) * 1000) / STUB_DISPATCHES;
    };
    const bare: number[] = [];
    const routedTimes: number[] = [];
    const direct = () => void pool.dispatch(opts(), handler);
    const through = () => void routed(opts(), handler);
    timed(direct);
    timed(through);
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        bare.push(timed(direct));
        routedTimes.push(timed(through));
      } else {
        routedTimes.push(timed(through));
        bare.push(timed(direct));
      }
    }
    if (ended !== STUB_DISPATCHES * (2 * ROUNDS + 2)) throw new Error(`only ${ended} stub requests ended`);
    return { bare: median(bare), vigil: median(routedTimes) };
  } finally {
    await vigil.close();
    await pool.close();
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const server = await startServer();
  const activation = await new FakeActivation([{ target: 'app', active: 'primary', epoch: 1, revision: 1 }]).start();
  const workers = { bare: await startWorker('bare', server.origin), vigil: await startWorker('vigil', server.origin) };
  try {
    const results: Record<Mode, Record<Side, Round[]>> = { request: { bare: [], vigil: [] }, fetch: { bare: [], vigil: [] } };
    for (const mode of ['request', 'fetch'] as const) {
      const order = { mode, requests: REQUESTS[mode], concurrency: CONCURRENCY };
      // Warm-up: connections open, code optimised, for both.
      for (const side of ['bare', 'vigil'] as const) await workers[side].round(order);
      for (let i = 0; i < ROUNDS; i++) {
        const sides: Side[] = i % 2 === 0 ? ['bare', 'vigil'] : ['vigil', 'bare'];
        for (const side of sides) results[mode][side].push(await workers[side].round(order));
      }
    }
    const vigilRequests = results.fetch.vigil.at(-1)!.controlPlaneRequests;
    const alone = await interceptorAlone(activation.url);

    const load = Math.max(loadBefore, loadavg()[0]!);
    const cores = availableParallelism();
    console.log(`\nload average (1 min) ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on ${cores} CPUs${load > cores - 1 ? ': other work competes with the 3 processes of this bench, so the pairs spread and the ratios are noisy' : ''}`);
    console.log(`${ROUNDS} rounds per side and mode (ABBA order, after a warm-up round each), concurrency ${CONCURRENCY}, one keep-alive server process on loopback; medians`);
    console.log('| mode | client | requests/round | requests/s | µs/request (wall) | client CPU µs/request | vigil/bare wall (pairs q1–q3) | vigil/bare CPU (pairs q1–q3) |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const ratios: Record<Mode, number> = { request: 0, fetch: 0 };
    for (const mode of ['request', 'fetch'] as const) {
      const perRequest = (r: Round, key: 'wallMs' | 'cpuMs') => (r[key] * 1000) / r.requests;
      const sideMedian = (side: Side, key: 'wallMs' | 'cpuMs') => median(results[mode][side].map((r) => perRequest(r, key)));
      const pairs = (key: 'wallMs' | 'cpuMs') => results[mode].vigil.map((v, i) => perRequest(v, key) / perRequest(results[mode].bare[i]!, key));
      const spread = (values: number[]) => `${median(values).toFixed(3)} (${quantile(values, 0.25).toFixed(3)}–${quantile(values, 0.75).toFixed(3)})`;
      ratios[mode] = median(pairs('wallMs'));
      for (const side of ['bare', 'vigil'] as const) {
        const wall = sideMedian(side, 'wallMs');
        const last = side === 'vigil';
        console.log(
          `| ${mode} | ${side} | ${REQUESTS[mode]} | ${Math.round(1e6 / wall)} | ${wall.toFixed(2)} | ${sideMedian(side, 'cpuMs').toFixed(2)} | ${last ? spread(pairs('wallMs')) : ''} | ${last ? spread(pairs('cpuMs')) : ''} |`,
        );
      }
    }
    const bareRequestUs = median(results.request.bare.map((r) => (r.wallMs * 1000) / r.requests));
    const ownUs = alone.vigil - alone.bare;
    console.log(
      `interceptor alone (stub connections, ${STUB_DISPATCHES} dispatches × ${ROUNDS} rounds each, medians): Pool ${alone.bare.toFixed(3)} µs, Vigil interceptor → Pool ${alone.vigil.toFixed(3)} µs; ` +
        `its own cost ${ownUs.toFixed(3)} µs per request = ${((ownUs / bareRequestUs) * 100).toFixed(1)}% of a bare \`request\` over loopback`,
    );
    console.log(`requests to the stand-in activation service during the run: ${vigilRequests} (the control plane is off the request path)`);
    console.log(`goal: vigil/bare ≤ ${GOAL} for request; fetch ratio ${ratios.fetch.toFixed(2)}`);
    console.log(`client-overhead ratio=${ratios.request.toFixed(2)}`);
  } finally {
    await Promise.all([workers.bare.stop(), workers.vigil.stop()]);
    await activation.close();
    await server.stop();
  }
}

await main();
