import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findBinary } from '../../packages/core/src/test-support/components.js';

/**
 * Network namespaces made by a test: hosts with their own interfaces, addresses and nft rules,
 * joined by veth pairs, so that a test can drop packets on one host without touching the machine.
 * Every name carries a per-run suffix; `destroy` removes the namespaces (and with them the veths).
 */

/** Why namespaces cannot be used here, or undefined when they can. Absent tools follow findBinary's rule. */
export function namespacesUnavailable(): string | undefined {
  const ip = findBinary('ip', 'iproute2');
  const nft = findBinary('nft', 'nftables');
  if (!ip || !nft) return 'ip or nft is missing';
  const probe = `vigil-probe-${randomBytes(3).toString('hex')}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.status !== 0) {
    const message = `network namespaces cannot be created here (${added.stderr.trim() || 'not root?'}); run as root (CI does)`;
    if (process.env.VIGIL_REQUIRE_COMPONENTS) throw new Error(`${message}; VIGIL_REQUIRE_COMPONENTS is set, so this is a failure`);
    console.warn(`skipped: ${message}`);
    return message;
  }
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function run(args: readonly string[], input?: string): void {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', ...(input !== undefined && { input }) });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
}

export class Host {
  constructor(readonly namespace: string) {}

  /** Runs a command inside the namespace and waits for it. */
  exec(...args: string[]): void {
    run(['ip', 'netns', 'exec', this.namespace, ...args]);
  }

  /** Loads an nft ruleset into the namespace (its own, empty until now). */
  nft(ruleset: string): void {
    run(['ip', 'netns', 'exec', this.namespace, 'nft', '-f', '-'], ruleset);
  }

  /** Starts a long-running process inside the namespace; its stdout is collected line by line. */
  spawn(command: string, args: readonly string[], env: Record<string, string> = {}): Process {
    const child = spawn('ip', ['netns', 'exec', this.namespace, command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Process(child);
  }
}

export class Process {
  readonly lines: string[] = [];
  readonly errors: string[] = [];

  constructor(readonly child: ChildProcess) {
    collect(child.stdout, this.lines);
    collect(child.stderr, this.errors);
  }

  /** Lines parsed as JSON (non-JSON lines are skipped). */
  json<T = Record<string, unknown>>(): T[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as T];
      } catch {
        return [];
      }
    });
  }

  async waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) while waiting for ${what}: ${this.errors.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 12_000);
    await exited;
    clearTimeout(timer);
  }
}

function collect(stream: NodeJS.ReadableStream | null, into: string[]): void {
  let rest = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts.filter((p) => p.length > 0));
  });
}

/**
 * Three hosts: `primary` (10.200.7.1) — `secondary` (10.200.7.2) over one veth pair, and
 * `secondary` (10.200.7.6) — `third` (10.200.7.5) over another. The addresses exist only inside
 * these namespaces; nothing is routed to or from the machine's own network.
 */
export class Topology {
  static readonly PRIMARY = '10.200.7.1';
  static readonly SECONDARY_TO_PRIMARY = '10.200.7.2';
  static readonly THIRD = '10.200.7.5';
  static readonly SECONDARY_TO_THIRD = '10.200.7.6';

  readonly primary: Host;
  readonly secondary: Host;
  readonly third: Host;
  private readonly created: string[] = [];

  private constructor(readonly id: string) {
    this.primary = new Host(`vigil-${id}-p`);
    this.secondary = new Host(`vigil-${id}-s`);
    this.third = new Host(`vigil-${id}-t`);
  }

  static create(): Topology {
    const t = new Topology(randomBytes(3).toString('hex'));
    try {
      for (const host of [t.primary, t.secondary, t.third]) {
        run(['ip', 'netns', 'add', host.namespace]);
        t.created.push(host.namespace);
        host.exec('ip', 'link', 'set', 'lo', 'up');
      }
      t.link(t.primary, Topology.PRIMARY, t.secondary, Topology.SECONDARY_TO_PRIMARY, 'p');
      t.link(t.third, Topology.THIRD, t.secondary, Topology.SECONDARY_TO_THIRD, 't');
    } catch (err) {
      t.destroy();
      throw err;
    }
    return t;
  }

  /** A veth pair created inside `a` with its peer moved to `b`, each end with a /30 address. */
  private link(a: Host, aAddress: string, b: Host, bAddress: string, tag: string): void {
    // Interface names are at most 15 characters.
    const aEnd = `v${this.id}${tag}a`;
    const bEnd = `v${this.id}${tag}b`;
    a.exec('ip', 'link', 'add', aEnd, 'type', 'veth', 'peer', 'name', bEnd);
    a.exec('ip', 'link', 'set', bEnd, 'netns', b.namespace);
    a.exec('ip', 'addr', 'add', `${aAddress}/30`, 'dev', aEnd);
    b.exec('ip', 'addr', 'add', `${bAddress}/30`, 'dev', bEnd);
    a.exec('ip', 'link', 'set', aEnd, 'up');
    b.exec('ip', 'link', 'set', bEnd, 'up');
  }

  /** Deletes every namespace this topology made; the veths go with them. Safe to call twice. */
  destroy(): void {
    for (const namespace of this.created.splice(0)) spawnSync('ip', ['netns', 'del', namespace]);
  }
}
