/**
 * The demo's sample application client: a VigilClient following the demo's activation target,
 * sending a request to the primary's origin every `everyMs` and telling which side answered. It
 * prints one line per `reportEveryMs` (how many answered, by which side, under which epoch, and
 * what failed), and at once each state the activation service announces, each switch, and each
 * trouble with the activation service. It decides nothing itself: the client moves to the standby
 * when the activation service says so.
 */
import { VigilClient, type Side } from '@vigil/client';

export interface SampleClientOptions {
  /** The activation service's base URL(s). */
  activation: string | string[];
  /** The activation service's target name (the demo's is `primary`). */
  target: string;
  /** The target's two origins: the sample primary and the sample standby. */
  primary: string;
  secondary: string;
  /** One request every this many ms (default 200). */
  everyMs?: number;
  /** One summary line every this many ms (default 1,000). */
  reportEveryMs?: number;
  /** Each request's deadline (default 1,000 ms, so that a hanging side shows as failures, not as silence). */
  requestTimeoutMs?: number;
  /** Where the lines go (the demo's `say('client', …)`). */
  say: (text: string) => void;
  /** Each answer as it arrives: the side that answered (from its body) and the epoch it was sent under. */
  onAnswer?: (answer: SampleAnswer) => void;
}

export interface SampleAnswer {
  /** `performance.now()` when the answer was read. */
  at: number;
  side: string;
  epoch: number | undefined;
}

export interface SampleClient {
  readonly vigil: VigilClient;
  /** Stops the requests and the client (streams, polls and pools), after one last summary line. */
  close(): Promise<void>;
}

/** Why a request failed, in a word: the undici error code, or the error's name. */
function failureCode(error: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) break;
    e = cause;
  }
  if (error instanceof Error) return error.name === 'Error' ? error.message : error.name;
  return String(error);
}

export function startSampleClient(options: SampleClientOptions): SampleClient {
  const { target, say } = options;
  const everyMs = options.everyMs ?? 200;
  const reportEveryMs = options.reportEveryMs ?? 1_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 1_000;
  const vigil = new VigilClient({
    activation: options.activation,
    targets: { [target]: { primary: options.primary, secondary: options.secondary } },
  });
  const fetch = vigil.createFetch();
  const sideName = (side: Side) => (side === 'primary' ? 'primary' : 'standby');

  vigil.on('state', (e) => {
    const from = e.previous ? ` (was ${sideName(e.previous.active)}, epoch ${e.previous.epoch})` : '';
    say(`activation service: ${sideName(e.state.active)} is active, epoch ${e.state.epoch}${from} [${e.source}]`);
  });
  vigil.on('switchRequired', (e) =>
    say(`SWITCH REQUIRED (${e.reason}): ${sideName(e.previous.side)} ${e.previous.origin} → ${sideName(e.next.side)} ${e.next.origin}, epoch ${e.epoch} [${e.source}]`),
  );
  vigil.on('switched', (e) => say(`SWITCHED to the ${sideName(e.next.side)} (${e.next.origin}, epoch ${e.epoch}) in ${e.durationMs.toFixed(1)} ms: requests to ${options.primary} now go there`));
  vigil.on('stale', (e) => say(`STALE: no word from the activation service for ${(e.ageMs / 1000).toFixed(1)}s; still sending to the ${e.state ? sideName(e.state.active) : 'unknown side'}`));
  vigil.on('recovered', (e) => say(`activation service reachable again after ${(e.staleForMs / 1000).toFixed(1)}s stale`));
  vigil.on('controlPlaneError', (e) => say(`activation service error (${e.operation}, ${e.url}): ${failureCode(e.error)}`));

  // One window of answers: "side (epoch e)" → count, and failure code → count.
  let answered = new Map<string, number>();
  let failed = new Map<string, number>();
  let closed = false;

  const report = () => {
    const ok = [...answered.values()].reduce((a, b) => a + b, 0);
    const bad = [...failed.values()].reduce((a, b) => a + b, 0);
    const total = ok + bad;
    if (total === 0) return;
    const by = [...answered].map(([who, n], i) => (i === 0 ? `by ${who}` : `${n} by ${who}`));
    const first = [...answered.values()][0];
    let line = ok === 0 ? `0/${total} answered` : `${by.length > 1 ? first : ok}/${total} answered ${by.join(', ')}`;
    if (bad > 0) line += `; ${bad} failed: ${[...failed].map(([code, n]) => `${code} ×${n}`).join(', ')}`;
    say(line);
    answered = new Map();
    failed = new Map();
  };

  const once = async () => {
    try {
      const res = await fetch(`${options.primary}/`, { signal: AbortSignal.timeout(requestTimeoutMs) });
      const body = (await res.json()) as { side?: unknown };
      if (closed) return;
      const side = typeof body.side === 'string' ? (body.side === 'secondary' ? 'standby' : body.side) : `HTTP ${res.status}`;
      const epoch = vigil.status(target).epoch;
      if (!res.ok) {
        failed.set(`HTTP ${res.status}`, (failed.get(`HTTP ${res.status}`) ?? 0) + 1);
        return;
      }
      const key = `${side} (epoch ${epoch ?? '?'})`;
      answered.set(key, (answered.get(key) ?? 0) + 1);
      options.onAnswer?.({ at: performance.now(), side: String(body.side), epoch });
    } catch (error) {
      if (closed) return;
      const code = failureCode(error);
      failed.set(code, (failed.get(code) ?? 0) + 1);
    }
  };

  // A hanging side holds at most requestTimeoutMs / everyMs requests at once: each has its deadline.
  const sender = setInterval(() => void once(), everyMs);
  const reporter = setInterval(report, reportEveryMs);

  return {
    vigil,
    async close() {
      if (closed) return;
      clearInterval(sender);
      clearInterval(reporter);
      report();
      closed = true;
      await vigil.close();
    },
  };
}
