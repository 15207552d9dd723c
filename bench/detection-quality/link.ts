import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * An emulated link between two network namespaces, made by link.py (a userspace stand-in for
 * tc netem, which this kernel lacks): a TUN device in each namespace with a point-to-point pair
 * of addresses, and packets forwarded between them under a condition that can change at run time.
 * Run as root; the namespaces must exist (`ip netns add`).
 *
 *   const link = await Link.start({ aNetns: 'p', bNetns: 's' });
 *   await link.set({ loss: 0.05, delay: 150, jitter: 100 });
 *   await link.close();
 */

/** Gilbert–Elliott loss, as netem's `gemodel p r 1-h 1-k`. */
export interface GilbertElliott {
  /** Good → Bad, per packet */
  p: number;
  /** Bad → Good, per packet (default 1 − p) */
  r?: number;
  /** loss in Good (default 0) */
  lossGood?: number;
  /** loss in Bad (default 1) */
  lossBad?: number;
}

/** Applied to each direction independently; a new condition replaces the whole previous one. `{}` is a clean link. */
export interface Condition {
  /** independent random loss, 0..1 (not with `ge`) */
  loss?: number;
  ge?: GilbertElliott;
  /** ms */
  delay?: number;
  /** ms: each packet waits delay + uniform(−jitter, +jitter), never below 0, so packets may reorder */
  jitter?: number;
  /** drops everything, including packets still in flight (alone) */
  blackhole?: boolean;
}

export interface DirectionStats {
  forwarded: number;
  dropped: number;
  /** delayed packets not yet delivered */
  queued: number;
}

/** `ab` is from A to B, `ba` from B to A. */
export interface LinkStats {
  ab: DirectionStats;
  ba: DirectionStats;
}

export interface LinkOptions {
  aNetns: string;
  bNetns: string;
  /** default 10.200.9.1 */
  aAddr?: string;
  /** default 10.200.9.2 */
  bAddr?: string;
  /** interface names, at most 15 characters; default vqla and vqlb */
  aDev?: string;
  bDev?: string;
  /** seeds both directions' random state, for repeatable runs */
  seed?: number;
  /** default 10 000 */
  readyTimeoutMs?: number;
  /** per set/stats request; default 5 000 */
  requestTimeoutMs?: number;
  /** default python3 on PATH */
  python?: string;
}

interface Answer {
  ready?: boolean;
  ok?: boolean;
  condition?: Condition;
  error?: string;
  stats?: LinkStats;
}

interface Pending {
  settle: (answer: Answer) => void;
  fail: (err: Error) => void;
}

const SCRIPT = fileURLToPath(new URL('./link.py', import.meta.url));

export class Link {
  readonly aAddr: string;
  readonly bAddr: string;
  private readonly child: ChildProcess;
  private readonly requestTimeoutMs: number;
  private readonly pending: Pending[] = [];
  private readonly stderr: string[] = [];
  private readonly exited: Promise<void>;
  private ready?: Pending;
  private exitReason?: string;

  private constructor(options: LinkOptions) {
    this.aAddr = options.aAddr ?? '10.200.9.1';
    this.bAddr = options.bAddr ?? '10.200.9.2';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    const args = [SCRIPT, '--a-netns', options.aNetns, '--a-addr', this.aAddr, '--b-netns', options.bNetns, '--b-addr', this.bAddr];
    if (options.aDev !== undefined) args.push('--a-dev', options.aDev);
    if (options.bDev !== undefined) args.push('--b-dev', options.bDev);
    if (options.seed !== undefined) args.push('--seed', String(options.seed));
    this.child = spawn(options.python ?? 'python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin!.on('error', () => {}); // EPIPE after an early exit shows up as the exit below
    lines(this.child.stdout!, (line) => this.answer(line));
    lines(this.child.stderr!, (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => {
      const gone = (reason: string) => {
        this.exitReason ??= reason;
        const err = new Error(`link.py ${this.exitReason}${this.stderrText()}`);
        this.ready?.fail(err);
        for (const p of this.pending.splice(0)) p.fail(err);
        resolve();
      };
      this.child.once('error', (err) => gone(`could not start: ${err.message}`));
      this.child.once('close', (code, signal) => gone(`exited (${signal ?? code})`));
    });
  }

  /** Starts link.py and resolves once both devices are up and addressed. */
  static async start(options: LinkOptions): Promise<Link> {
    const link = new Link(options);
    const timeoutMs = options.readyTimeoutMs ?? 10_000;
    try {
      await link.request<Answer>(
        'ready',
        (pending) => {
          link.ready = pending;
        },
        (answer) => answer,
        timeoutMs,
      );
    } catch (err) {
      await link.close();
      throw err;
    } finally {
      link.ready = undefined;
    }
    return link;
  }

  /** Replaces the condition on both directions; resolves with it as applied (defaults filled in), rejects if refused. */
  async set(condition: Condition): Promise<Condition> {
    return this.send(condition, (answer) => {
      if (answer.ok === true && answer.condition) return answer.condition;
      throw new Error(`link.py refused ${JSON.stringify(condition)}: ${answer.error ?? JSON.stringify(answer)}`);
    });
  }

  /** Packet counters per direction since start. */
  async stats(): Promise<LinkStats> {
    return this.send({ stats: true }, (answer) => {
      if (answer.stats) return answer.stats;
      throw new Error(`link.py answered ${JSON.stringify(answer)} to a stats request`);
    });
  }

  /** Stops link.py (SIGTERM, then SIGKILL after 5 s); its devices go with it. Safe to call twice. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      this.exitReason ??= 'was closed';
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  private send<T>(message: object, accept: (answer: Answer) => T): Promise<T> {
    if (this.exitReason !== undefined) return Promise.reject(new Error(`link.py ${this.exitReason}${this.stderrText()}`));
    const line = JSON.stringify(message);
    return this.request(
      line,
      (pending) => {
        this.pending.push(pending);
        this.child.stdin!.write(`${line}\n`);
      },
      accept,
      this.requestTimeoutMs,
    );
  }

  /** Answers arrive in request order, so each one settles the oldest pending request. */
  private request<T>(what: string, enqueue: (pending: Pending) => void, accept: (answer: Answer) => T, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new Error(`timed out after ${timeoutMs}ms waiting for link.py to answer ${what}${this.stderrText()}`);
        if (this.ready === pending) this.ready = undefined;
        const i = this.pending.indexOf(pending);
        // A late answer must not settle the next request, so the slot stays, answered by nobody.
        if (i >= 0) this.pending[i] = { settle: () => {}, fail: () => {} };
        reject(err);
      }, timeoutMs);
      const pending: Pending = {
        settle: (answer) => {
          clearTimeout(timer);
          try {
            resolve(accept(answer));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      enqueue(pending);
    });
  }

  private answer(line: string): void {
    let answer: Answer;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      this.stderr.push(`(stdout) ${line}`);
      return;
    }
    if (answer.ready === true) {
      this.ready?.settle(answer);
      return;
    }
    this.pending.shift()?.settle(answer);
  }

  private stderrText(): string {
    const text = this.stderr.join('\n').trim();
    return text ? `; stderr: ${text}` : '';
  }
}

function lines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) if (part.length > 0) each(part);
  });
}
