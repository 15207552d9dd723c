import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MonitorState } from './decision.js';
import { MonitorStateStore } from './state-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-watchdog-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const down: MonitorState = {
  status: 'down',
  consecutiveFailures: 4,
  consecutiveSuccesses: 0,
  failingSince: '2026-11-22T10:00:00.000Z',
  incident: { id: 'primary-20261122T100000.000Z', startedAt: '2026-11-22T10:00:00.000Z', activationRequested: true },
  lastChange: '2026-11-22T10:00:04.000Z',
};

describe('MonitorStateStore', () => {
  it('reloads saved states of configured monitors only', async () => {
    const first = new MonitorStateStore(dir);
    first.load(['primary', 'old']);
    await first.save('primary', down);
    await first.save('old', { status: 'up', consecutiveFailures: 0, consecutiveSuccesses: 1 });

    const second = new MonitorStateStore(dir);
    expect([...second.load(['primary', 'new'])]).toEqual([['primary', down]]);
  });

  it('starts empty without a file', () => {
    expect(new MonitorStateStore(dir).load(['primary']).size).toBe(0);
  });

  it('refuses a file it does not understand, naming it', async () => {
    await writeFile(join(dir, 'monitors.json'), JSON.stringify({ version: 1, monitors: { primary: { status: 'sideways' } } }));
    expect(() => new MonitorStateStore(dir).load(['primary'])).toThrow(/monitors\.json does not hold monitor states/);
  });

  it('writes changes made together in one snapshot, and an urgent change without waiting for the gap', async () => {
    const store = new MonitorStateStore(dir, 60_000);
    store.load([]);
    const up = (n: number): MonitorState => ({ status: 'up', consecutiveFailures: 0, consecutiveSuccesses: n });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.save(`m${i}`, up(1))));
    expect(Object.keys((JSON.parse(await readFile(join(dir, 'monitors.json'), 'utf8')) as { monitors: object }).monitors)).toHaveLength(50);

    // Within the gap: a plain save waits, an urgent one (an alert depends on it) does not, and takes the plain one along.
    let plainDone = false;
    void store.save('m0', up(2)).then(() => (plainDone = true));
    const started = Date.now();
    await store.save('primary', down, true);
    expect(Date.now() - started).toBeLessThan(5_000);
    await Promise.resolve();
    expect(plainDone).toBe(true);
    expect([...new MonitorStateStore(dir).load(['primary', 'm0'])]).toEqual([
      ['primary', down],
      ['m0', up(2)],
    ]);
  });
});
