import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppendLog, JsonFile, writeFileAtomic } from './store.js';

const dir = () => mkdtempSync(join(tmpdir(), 'vigil-store-'));

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temp file behind', async () => {
    const d = dir();
    const path = join(d, 'nested', 'state.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(join(d, 'nested'))).toEqual(['state.json']);
  });
});

describe('JsonFile', () => {
  it('round-trips and reports absence as undefined', async () => {
    const file = new JsonFile<{ epoch: number }>(join(dir(), 'x.json'));
    expect(file.load()).toBeUndefined();
    await file.save({ epoch: 1 });
    expect(new JsonFile(file.path).load()).toEqual({ epoch: 1 });
  });

  it('keeps the last of many concurrent saves', async () => {
    const file = new JsonFile<{ n: number }>(join(dir(), 'x.json'));
    await Promise.all(Array.from({ length: 50 }, (_, n) => file.save({ n })));
    expect(file.load()).toEqual({ n: 49 });
  });

  it('merges saves made during a write: each resolves once a snapshot at least as new is on disk', async () => {
    const file = new JsonFile<{ n: number }>(join(dir(), 'x.json'));
    const first = file.save({ n: 0 });
    // Made while the first write is under way: merged into one write of the newest.
    const later = Array.from({ length: 20 }, (_, i) => file.save({ n: i + 1 }).then(() => file.load()!.n));
    await first;
    for (const seen of await Promise.all(later)) expect(seen).toBe(20);
    await file.save({ n: 21 });
    expect(file.load()).toEqual({ n: 21 });
  });

  it('names the file when its content is corrupt', () => {
    const path = join(dir(), 'bad.json');
    writeFileSync(path, '{"epoch": 1');
    expect(() => new JsonFile(path).load()).toThrow(/bad\.json is not valid JSON/);
  });
});

describe('AppendLog', () => {
  it('appends records in order and ignores a torn last line', async () => {
    const path = join(dir(), 'audit.jsonl');
    const log = new AppendLog<{ step: number }>(path);
    await Promise.all([1, 2, 3].map((step) => log.append({ step })));
    writeFileSync(path, readFileSync(path, 'utf8') + '{"step": 4');
    expect(new AppendLog(path).readAll()).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
  });

  it('starts a new line after a torn last line, so the next record is not spoiled', async () => {
    const path = join(dir(), 'audit.jsonl');
    writeFileSync(path, '{"step": 1}\n{"step": 2');
    const log = new AppendLog<{ step: number }>(path);
    await log.append({ step: 3 });
    await log.append({ step: 4 });
    expect(readFileSync(path, 'utf8')).toBe('{"step": 1}\n{"step": 2\n{"step":3}\n{"step":4}\n');
    expect(log.readAll()).toEqual([{ step: 1 }, { step: 3 }, { step: 4 }]);
  });
});
