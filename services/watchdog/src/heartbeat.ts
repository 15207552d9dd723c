import { redactUrl, type Logger } from '@vigil/core';
import { request, type Dispatcher } from 'undici';

export interface HeartbeatConfig {
  url: string;
  timeout: number;
  minInterval: number;
}

/**
 * The dead man's switch: after a completed probe cycle, pings an external URL (at most one ping in
 * flight, at most one per `minInterval`), so that a watchdog that stopped cycling — hung, crashed,
 * cut off — is noticed by something outside it.
 */
export class Heartbeat {
  private lastAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly config: HeartbeatConfig,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
  ) {}

  /** A cycle completed at `now`. Never throws. */
  beat(now: number): void {
    if (this.inFlight || now - this.lastAt < this.config.minInterval) return;
    this.lastAt = now;
    this.inFlight = this.ping().finally(() => (this.inFlight = undefined));
  }

  async close(): Promise<void> {
    await this.inFlight;
  }

  private async ping(): Promise<void> {
    const { url, timeout } = this.config;
    try {
      const response = await request(url, { dispatcher: this.dispatcher, signal: AbortSignal.timeout(timeout), headersTimeout: timeout, bodyTimeout: timeout });
      await response.body.dump();
      if (response.statusCode >= 400) throw new Error(`HTTP ${response.statusCode}`);
      if (this.failing) this.logger.info({ url: redactUrl(url) }, 'heartbeat delivered again');
      this.failing = false;
    } catch (err) {
      // Logged once per outage of the receiver: the receiver itself is what alerts on silence.
      if (!this.failing) this.logger.warn({ url: redactUrl(url), err: String(err) }, 'heartbeat ping failed');
      this.failing = true;
    }
  }
}
