import { endianness } from 'node:os';
import { join } from 'node:path';
import { JsonFile, Type, type Logger, type Static } from '@vigil/core';
import Value from 'typebox/value';

export const BUCKET_MS = 15 * 60_000;
/** 24 h of 15-minute buckets. */
export const BUCKETS = 96;
const MAX_COUNT = 0xffff;
const MAX_SUM = 0xffffffff;

export type Outcome = 'up' | 'down' | 'maintenance';

export interface HistoryBucket {
  start: string;
  up: number;
  down: number;
  maintenance: number;
  avgMs?: number;
}

/**
 * One monitor's probe outcomes over the last 24 h, in 15-minute buckets: about 1 KB per monitor,
 * in one buffer (counts as 16-bit, saturating; summed durations as 32-bit ms). Slot `k % 96`
 * holds bucket `k` (the bucket number since the epoch) for the 96 buckets up to `last`; moving
 * `last` forward clears the slots it passes, so a gap without probes leaves empty buckets, never
 * old counts.
 */
export class MonitorHistory {
  /** up, down, maintenance counts per slot: [3 × slot + outcome] */
  private readonly counts: Uint16Array;
  /** summed probe durations (ms) per slot */
  private readonly sums: Uint32Array;
  /** bucket number of the newest probe recorded; -1 when none */
  private last: number;
  private readonly buffer: ArrayBuffer;

  constructor(stored?: { last: number; data: Uint8Array }) {
    this.buffer = new ArrayBuffer(BUCKETS * 3 * 2 + BUCKETS * 4);
    this.counts = new Uint16Array(this.buffer, 0, BUCKETS * 3);
    this.sums = new Uint32Array(this.buffer, BUCKETS * 3 * 2, BUCKETS);
    this.last = -1;
    if (stored && stored.data.byteLength === this.buffer.byteLength) {
      new Uint8Array(this.buffer).set(stored.data);
      this.last = stored.last;
    }
  }

  record(at: number, outcome: Outcome, durationMs: number): void {
    const bucket = Math.floor(at / BUCKET_MS);
    if (bucket > this.last) {
      // Clear the slots of the buckets skipped since the last probe (all of them after a day or more).
      const from = Math.max(this.last + 1, bucket - BUCKETS + 1);
      for (let k = from; k <= bucket; k++) this.clear(k % BUCKETS);
      this.last = bucket;
    } else if (bucket <= this.last - BUCKETS) {
      return; // older than the window (the clock moved back a day): dropped
    }
    const slot = bucket % BUCKETS;
    const i = slot * 3 + (outcome === 'up' ? 0 : outcome === 'down' ? 1 : 2);
    this.counts[i] = Math.min(MAX_COUNT, this.counts[i]! + 1);
    this.sums[slot] = Math.min(MAX_SUM, this.sums[slot]! + Math.max(0, Math.round(durationMs)));
  }

  /** Buckets with probes within the `spanMs` up to `now`, oldest first; buckets without probes are absent. */
  buckets(now: number, spanMs = BUCKETS * BUCKET_MS): HistoryBucket[] {
    const current = Math.floor(now / BUCKET_MS);
    const span = Math.max(1, Math.min(BUCKETS, Math.ceil(spanMs / BUCKET_MS)));
    const out: HistoryBucket[] = [];
    for (let k = Math.max(current - span + 1, this.last - BUCKETS + 1); k <= Math.min(current, this.last); k++) {
      const slot = k % BUCKETS;
      const up = this.counts[slot * 3]!;
      const down = this.counts[slot * 3 + 1]!;
      const maintenance = this.counts[slot * 3 + 2]!;
      const n = up + down + maintenance;
      if (n === 0) continue;
      out.push({ start: new Date(k * BUCKET_MS).toISOString(), up, down, maintenance, avgMs: Math.round(this.sums[slot]! / n) });
    }
    return out;
  }

  /** The compact form persisted in `history.json`. */
  toStored(): { last: number; data: string } {
    return { last: this.last, data: Buffer.from(this.buffer).toString('base64') };
  }

  private clear(slot: number): void {
    this.counts.fill(0, slot * 3, slot * 3 + 3);
    this.sums[slot] = 0;
  }
}

const StoredHistory = Type.Object({
  version: Type.Literal(1),
  bucketMs: Type.Literal(BUCKET_MS),
  /** typed arrays are stored in the platform's byte order; every platform Node supports here is little-endian */
  endianness: Type.Literal('LE'),
  monitors: Type.Record(Type.String(), Type.Object({ last: Type.Integer(), data: Type.String() })),
});
type StoredHistory = Static<typeof StoredHistory>;

/**
 * Every monitor's history in `dataDir/history.json`, beside the monitor state (`monitors.json`) but
 * in a file of its own: it changes with every probe, so it is written at most once per `periodMs`
 * (and at shutdown), while state changes that alerts wait for stay small, fast writes. A crash
 * loses at most the last period of counts. A file this version cannot read is set aside with a
 * warning: the history is for people, not for decisions.
 */
export class HistoryStore {
  private readonly file: JsonFile<StoredHistory>;
  private readonly histories = new Map<string, MonitorHistory>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
    private readonly periodMs = 60_000,
  ) {
    this.file = new JsonFile(join(dataDir, 'history.json'));
  }

  /** One history per configured monitor, from the file when it has one. */
  load(names: readonly string[]): ReadonlyMap<string, MonitorHistory> {
    let stored: StoredHistory | undefined;
    try {
      const raw = this.file.load();
      if (raw !== undefined && Value.Check(StoredHistory, raw) && endianness() === 'LE') stored = raw;
      else if (raw !== undefined) this.logger.warn({ file: this.file.path }, 'history file not understood by this version; starting an empty history');
    } catch (err) {
      this.logger.warn({ err, file: this.file.path }, 'cannot read the history file; starting an empty history');
    }
    for (const name of names) {
      const s = stored?.monitors[name];
      this.histories.set(name, new MonitorHistory(s && { last: s.last, data: Buffer.from(s.data, 'base64') }));
    }
    return this.histories;
  }

  /** A probe was recorded: the next periodic write includes it. */
  touch(): void {
    this.dirty = true;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.logger.error({ err }, 'cannot persist monitor history'));
    }, this.periodMs);
    this.timer.unref();
  }

  /** Writes the histories if anything changed since the last write. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const monitors: StoredHistory['monitors'] = {};
    for (const [name, h] of this.histories) monitors[name] = h.toStored();
    try {
      await this.file.save({ version: 1, bucketMs: BUCKET_MS, endianness: 'LE', monitors });
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
