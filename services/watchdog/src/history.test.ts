import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@vigil/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUCKET_MS, HistoryStore, MonitorHistory } from './history.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-history-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const fakeLogger = () => ({ warn: vi.fn(), info: vi.fn(), error: vi.fn() }) as unknown as Logger & { warn: ReturnType<typeof vi.fn> };
const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;

describe('monitor history', () => {
  it('counts outcomes and averages response times per 15-minute bucket', () => {
    const h = new MonitorHistory();
    h.record(at('2026-11-22T10:00:00Z'), 'up', 100);
    h.record(at('2026-11-22T10:14:59.999Z'), 'up', 200);
    h.record(at('2026-11-22T10:15:00Z'), 'down', 1000);
    h.record(at('2026-11-22T10:16:00Z'), 'maintenance', 0);
    expect(h.buckets(at('2026-11-22T10:20:00Z'))).toEqual([
      { start: '2026-11-22T10:00:00.000Z', up: 2, down: 0, maintenance: 0, avgMs: 150 },
      { start: '2026-11-22T10:15:00.000Z', up: 0, down: 1, maintenance: 1, avgMs: 500 },
    ]);
  });

  it('leaves buckets without probes absent, never carrying old counts over', () => {
    const h = new MonitorHistory();
    const start = at('2026-11-22T10:00:00Z');
    for (let t = start; t < start + HOUR; t += 60_000) h.record(t, 'up', 10);
    // An hour without probes, then probes again: the four buckets between are absent.
    h.record(start + 2 * HOUR, 'down', 30);
    const buckets = h.buckets(start + 2 * HOUR + 1000);
    expect(buckets.map((b) => b.start)).toEqual([
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T10:15:00.000Z',
      '2026-11-22T10:30:00.000Z',
      '2026-11-22T10:45:00.000Z',
      '2026-11-22T12:00:00.000Z',
    ]);
    expect(buckets.at(-1)).toEqual({ start: '2026-11-22T12:00:00.000Z', up: 0, down: 1, maintenance: 0, avgMs: 30 });
  });

  it('keeps the last 24 h only: a slot reused a day later starts from zero', () => {
    const h = new MonitorHistory();
    const start = at('2026-11-22T10:00:00Z');
    h.record(start, 'up', 10);
    h.record(start + 5 * 60_000, 'up', 10);
    expect(h.buckets(start + 24 * HOUR - 1)).toHaveLength(1);
    expect(h.buckets(start + 24 * HOUR)).toEqual([]); // out of the window even before new probes
    h.record(start + 24 * HOUR + 1000, 'down', 50); // same slot, one day later
    expect(h.buckets(start + 24 * HOUR + 2000)).toEqual([{ start: '2026-11-23T10:00:00.000Z', up: 0, down: 1, maintenance: 0, avgMs: 50 }]);
    // Two days later: everything before is gone.
    h.record(start + 72 * HOUR, 'up', 5);
    expect(h.buckets(start + 72 * HOUR)).toEqual([{ start: '2026-11-25T10:00:00.000Z', up: 1, down: 0, maintenance: 0, avgMs: 5 }]);
  });

  it('answers a shorter span, and drops probes older than the window', () => {
    const h = new MonitorHistory();
    const start = at('2026-11-22T10:00:00Z');
    for (let i = 0; i < 8; i++) h.record(start + i * BUCKET_MS, 'up', 1);
    expect(h.buckets(start + 7 * BUCKET_MS, HOUR)).toHaveLength(4);
    h.record(start - 25 * HOUR, 'down', 1);
    expect(h.buckets(start + 7 * BUCKET_MS).every((b) => b.down === 0)).toBe(true);
  });

  it('survives a restart through the store, and a later gap still empties the skipped buckets', async () => {
    const start = at('2026-11-22T10:00:00Z');
    const store = new HistoryStore(dataDir, fakeLogger());
    const h = store.load(['primary']).get('primary')!;
    h.record(start, 'up', 100);
    h.record(start + BUCKET_MS, 'down', 300);
    store.touch();
    await store.close();
    expect(JSON.parse(await readFile(join(dataDir, 'history.json'), 'utf8'))).toMatchObject({ version: 1, bucketMs: BUCKET_MS });

    const restarted = new HistoryStore(dataDir, fakeLogger()).load(['primary', 'new']);
    const again = restarted.get('primary')!;
    expect(again.buckets(start + 2 * BUCKET_MS)).toEqual([
      { start: '2026-11-22T10:00:00.000Z', up: 1, down: 0, maintenance: 0, avgMs: 100 },
      { start: '2026-11-22T10:15:00.000Z', up: 0, down: 1, maintenance: 0, avgMs: 300 },
    ]);
    expect(restarted.get('new')!.buckets(start)).toEqual([]);
    // Restarted 3 h later: the old buckets stay until they leave the window, nothing fills the gap.
    again.record(start + 3 * HOUR, 'up', 10);
    expect(again.buckets(start + 3 * HOUR).map((b) => b.start)).toEqual(['2026-11-22T10:00:00.000Z', '2026-11-22T10:15:00.000Z', '2026-11-22T13:00:00.000Z']);
  });

  it('starts empty with a warning when the history file is not one it understands', async () => {
    await writeFile(join(dataDir, 'history.json'), '{"version": 7}');
    const logger = fakeLogger();
    const h = new HistoryStore(dataDir, logger).load(['primary']).get('primary')!;
    expect(h.buckets(Date.now())).toEqual([]);
    expect(logger.warn).toHaveBeenCalled();
  });

  it('stays about 1 KB per monitor', () => {
    expect(Buffer.from(new MonitorHistory().toStored().data, 'base64').byteLength).toBeLessThanOrEqual(1024);
  });
});
