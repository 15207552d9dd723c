/**
 * The probing side of bench:detection-quality, run inside the secondary host's namespace: for each
 * probing policy, `sequences` independent monitors of the same target (each with its own connection
 * pool, as a watchdog monitor has), every `intervalMs` at a random phase, with the watchdog's own
 * probe (`createProbe` of the built watchdog). One JSON line per probe on stdout:
 * `{"p": policy, "s": sequence, "t0": start, "t1": end, "ok": 0|1, "a": attempts}` (epoch ms).
 *
 *   node bench/detection-quality/prober.ts '<json {url, intervalMs, sequences, policies: [{timeoutMs, attempts, hedgeDelayMs}]}>'
 */
import { createProbe, probeAgent, type ProbeConfig } from '@vigil/watchdog';

interface Policy {
  timeoutMs: number;
  attempts: number;
  hedgeDelayMs: number;
  /** a new connection for every probe (no kept-alive connection): isolates what a handshake costs under loss */
  fresh?: boolean;
}
interface Options {
  url: string;
  intervalMs: number;
  sequences: number;
  policies: Policy[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const stopping = new AbortController();
process.on('SIGTERM', () => stopping.abort());
process.on('SIGINT', () => stopping.abort());

function sequence(policyIndex: number, policy: Policy, index: number): Promise<void> {
  const pooled = probeAgent();
  const pooledProbe = createProbe(pooled.agent, pooled.certificates);
  const probe = async (config: ProbeConfig, signal: AbortSignal) => {
    if (!policy.fresh) return pooledProbe(config, signal);
    const { agent } = probeAgent();
    try {
      return await createProbe(agent)(config, signal);
    } finally {
      void agent.destroy();
    }
  };
  const config = {
    kind: 'http',
    url: options.url,
    method: 'GET',
    expectStatus: ['2xx'],
    timeout: policy.timeoutMs,
    attempts: policy.attempts,
    hedgeDelay: policy.hedgeDelayMs,
  } satisfies ProbeConfig;
  const phase = Math.random() * options.intervalMs;
  const start = Date.now() + phase;
  return new Promise<void>((resolve) => {
    let tick = 0;
    const next = () => {
      if (stopping.signal.aborted) {
        void pooled.agent.close().finally(resolve);
        return;
      }
      const due = start + tick * options.intervalMs;
      tick++;
      setTimeout(() => {
        const t0 = Date.now();
        void probe(config, stopping.signal).then((result) => {
          if (stopping.signal.aborted) return next();
          const ok = result.status === 'fail' ? 0 : 1;
          process.stdout.write(`${JSON.stringify({ p: policyIndex, s: index, t0, t1: Date.now(), ok, a: result.attempts ?? 1 })}\n`);
          next();
        });
      }, Math.max(0, due - Date.now()));
    };
    next();
  });
}

const running = options.policies.flatMap((policy, p) => Array.from({ length: options.sequences }, (_, s) => sequence(p, policy, s)));
process.stdout.write(`${JSON.stringify({ started: running.length })}\n`);
await Promise.all(running);
