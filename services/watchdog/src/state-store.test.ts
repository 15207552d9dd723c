import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
});
