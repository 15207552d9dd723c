import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Maintenance } from './maintenance.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-maintenance-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const at = (iso: string) => Date.parse(iso);

describe('maintenance windows', () => {
  it('is active from each cron start for the duration, in the window time zone', () => {
    // 02:00 in Paris on Sundays is 01:00 UTC in winter.
    const m = new Maintenance([{ name: 'sunday', cron: '0 2 * * 0', duration: 30 * 60_000, timezone: 'Europe/Paris' }], dataDir);
    expect(m.activeFor('primary', at('2026-11-22T00:59:59Z'))).toBe(false);
    expect(m.activeFor('primary', at('2026-11-22T01:00:00Z'))).toBe(true);
    expect(m.activeFor('primary', at('2026-11-22T01:29:59Z'))).toBe(true);
    expect(m.activeFor('primary', at('2026-11-22T01:30:00Z'))).toBe(false);
    m.close();
  });

  it('sees a window that was already open when it started', () => {
    const m = new Maintenance([{ name: 'daily', cron: '0 0 3 * * *', duration: 3_600_000 }], dataDir);
    expect(m.activeFor('primary', at('2026-11-22T03:45:00Z'))).toBe(true);
    m.close();
  });

  it('applies only to the listed monitors', () => {
    const m = new Maintenance([{ name: 'db', cron: '* * * * *', duration: 120_000, monitors: ['db'] }], dataDir);
    const now = at('2026-11-22T10:00:30Z');
    expect(m.activeFor('db', now)).toBe(true);
    expect(m.activeFor('primary', now)).toBe(false);
    m.close();
  });

  it('keeps pauses across restarts until resumed', async () => {
    const first = new Maintenance([], dataDir);
    await first.pause('primary', { since: '2026-11-22T10:00:00.000Z', reason: 'upgrade' });
    const second = new Maintenance([], dataDir);
    expect(second.activeFor('primary', Date.now())).toBe(true);
    expect(second.pauseOf('primary')).toEqual({ since: '2026-11-22T10:00:00.000Z', reason: 'upgrade' });
    expect(await second.resume('primary')).toBe(true);
    expect(new Maintenance([], dataDir).activeFor('primary', Date.now())).toBe(false);
  });

  it('ends a pause with `until` by itself: not in force from `until` on, then removed once by expire', async () => {
    const m = new Maintenance([], dataDir);
    await m.pause('primary', { since: '2026-11-22T10:00:00.000Z', until: '2026-11-22T10:30:00.000Z', reason: 'upgrade', operator: 'alice' });
    expect(m.activeFor('primary', at('2026-11-22T10:29:59.999Z'))).toBe(true);
    expect(m.pauseOf('primary', at('2026-11-22T10:29:59.999Z'))).toMatchObject({ operator: 'alice' });
    // No timer involved: past `until` the pause no longer counts, even before the sweep.
    expect(m.activeFor('primary', at('2026-11-22T10:30:00.000Z'))).toBe(false);
    expect(m.pauseOf('primary', at('2026-11-22T10:30:00.000Z'))).toBeUndefined();
    expect(await m.expire(at('2026-11-22T10:29:00.000Z'))).toEqual([]);
    expect(await m.expire(at('2026-11-22T10:31:00.000Z'))).toEqual([
      { monitor: 'primary', pause: { since: '2026-11-22T10:00:00.000Z', until: '2026-11-22T10:30:00.000Z', reason: 'upgrade', operator: 'alice' } },
    ]);
    expect(await m.expire(at('2026-11-22T10:32:00.000Z'))).toEqual([]);
    expect(new Maintenance([], dataDir).pauseOf('primary')).toBeUndefined();
  });

  it('keeps `until` across a restart, and a restart after it finds the pause expired', async () => {
    await new Maintenance([], dataDir).pause('primary', { since: '2026-11-22T10:00:00.000Z', until: '2026-11-22T10:30:00.000Z' });
    await new Maintenance([], dataDir).pause('other', { since: '2026-11-22T10:00:00.000Z' });
    const restarted = new Maintenance([], dataDir);
    expect(restarted.activeFor('primary', at('2026-11-22T10:10:00Z'))).toBe(true);
    expect(restarted.activeFor('primary', at('2026-11-22T11:00:00Z'))).toBe(false);
    expect((await restarted.expire(at('2026-11-22T11:00:00Z'))).map((e) => e.monitor)).toEqual(['primary']);
    // A pause without `until` lasts until resumed.
    expect(new Maintenance([], dataDir).activeFor('other', at('2027-11-22T11:00:00Z'))).toBe(true);
  });
});
