import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@vigil/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUDIT_QUERY_MAX, AuditLog, type AuditRecord } from './audit.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-audit-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const fakeLogger = () => ({ warn: vi.fn(), info: vi.fn(), error: vi.fn() }) as unknown as Logger & { warn: ReturnType<typeof vi.fn> };
const paused = (monitor: string, minute: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
  time: `2026-11-22T10:${String(minute).padStart(2, '0')}:00.000Z`,
  event: 'paused',
  monitor,
  operator: 'alice',
  reason: 'upgrade',
  ...extra,
});

describe('audit log', () => {
  it('appends one JSON line per record and reads them back after a restart, oldest first', async () => {
    const log = await AuditLog.open(dataDir, fakeLogger());
    await log.append(paused('primary', 0, { until: '2026-11-22T10:30:00.000Z' }));
    await log.append({ time: '2026-11-22T10:05:00.000Z', event: 'resumed', monitor: 'primary', operator: 'bob', reason: 'done early' });
    const lines = (await readFile(join(dataDir, 'audit.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as AuditRecord)).toEqual([
      paused('primary', 0, { until: '2026-11-22T10:30:00.000Z' }),
      { time: '2026-11-22T10:05:00.000Z', event: 'resumed', monitor: 'primary', operator: 'bob', reason: 'done early' },
    ]);
    const again = await AuditLog.open(dataDir, fakeLogger());
    expect(again.query().map((r) => [r.event, r.operator, r.reason])).toEqual([
      ['paused', 'alice', 'upgrade'],
      ['resumed', 'bob', 'done early'],
    ]);
  });

  it('filters by monitor and since, newest last, bounded', async () => {
    const log = await AuditLog.open(dataDir, fakeLogger());
    for (let minute = 0; minute < 10; minute++) await log.append(paused(minute % 2 === 0 ? 'a' : 'b', minute));
    expect(log.query({ monitor: 'a' }).map((r) => r.time.slice(14, 16))).toEqual(['00', '02', '04', '06', '08']);
    expect(log.query({ sinceMs: Date.parse('2026-11-22T10:07:00Z') }).map((r) => r.time.slice(14, 16))).toEqual(['07', '08', '09']);
    expect(log.query({ monitor: 'b', sinceMs: Date.parse('2026-11-22T10:04:00Z'), limit: 2 }).map((r) => r.time.slice(14, 16))).toEqual(['07', '09']);
    expect(log.query({ limit: AUDIT_QUERY_MAX * 10 })).toHaveLength(10);
  });

  it('skips a line that is not a record with a warning, and a torn last line does not spoil the next record', async () => {
    const file = join(dataDir, 'audit.jsonl');
    await writeFile(file, `${JSON.stringify(paused('a', 0))}\nnot json at all\n${JSON.stringify({ time: 'x', event: 'exploded', monitor: 'a' })}\n{"time":"2026-11-22T10:0`);
    const logger = fakeLogger();
    const log = await AuditLog.open(dataDir, logger);
    expect(log.query()).toEqual([paused('a', 0)]);
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ line: 2 }), expect.stringContaining('skipping'));
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ line: 3 }), expect.stringContaining('skipping'));
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ line: 4 }), expect.stringContaining('skipping'));

    await log.append(paused('a', 9));
    await appendFile(file, ''); // nothing more
    const again = await AuditLog.open(dataDir, fakeLogger());
    expect(again.query().map((r) => r.time)).toEqual([paused('a', 0).time, paused('a', 9).time]);
  });
});
