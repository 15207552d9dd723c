import type { Logger } from '@vigil/core';
import type { Probe } from './probe.js';

export interface ControlTarget {
  name: string;
  url: string;
  timeout: number;
}

/** A verdict younger than this is shared: many monitors failing together ask once. */
const FRESH_MS = 1_000;

/**
 * The watchdog's view of its own connectivity: whether it reaches a majority of its control
 * targets (for example the activation service and an endpoint in a third location). Any HTTP
 * answer counts as reachable, whatever its status: the question is the path, not their health.
 * Without control targets the watchdog always trusts its probes.
 */
export class ControlTargets {
  private last: { at: number; reachable: boolean } | undefined;
  private inFlight: Promise<boolean> | undefined;

  constructor(
    private readonly targets: readonly ControlTarget[],
    private readonly probe: Probe,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when more than half of the control targets answer. */
  reachable(): Promise<boolean> {
    if (this.targets.length === 0) return Promise.resolve(true);
    if (this.last && this.now() - this.last.at < FRESH_MS) return Promise.resolve(this.last.reachable);
    this.inFlight ??= this.check().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async check(): Promise<boolean> {
    const results = await Promise.all(this.targets.map((t) => this.probe({ kind: 'http', url: t.url, method: 'GET', expectStatus: ['2xx'], timeout: t.timeout }, AbortSignal.timeout(t.timeout + 1000))));
    const unreachable = this.targets.filter((_, i) => results[i]!.httpStatus === undefined).map((t) => t.name);
    const reachable = (this.targets.length - unreachable.length) * 2 > this.targets.length;
    if (!reachable) this.logger.warn({ unreachable }, 'a majority of control targets is unreachable: failed probes are inconclusive');
    this.last = { at: this.now(), reachable };
    return reachable;
  }
}
