import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseConfigValue } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { CheckConfig, runConfiguredCheck } from './registry.js';

const probe = (fields: Record<string, unknown>) => runConfiguredCheck(parseConfigValue(CheckConfig, { kind: 'disk', ...fields }, 'test'));

describe('disk check', () => {
  const stats = statfsSync(tmpdir());
  const freePercent = (stats.bavail / stats.blocks) * 100;

  it('reports the free space of a path in percent', async () => {
    const result = await probe({ path: tmpdir() });
    expect(result).toMatchObject({ status: 'pass', observedUnit: '%' });
    expect(result.observedValue).toBeCloseTo(freePercent, 0);
    expect(result.output).toMatch(/^[\d.]+ (B|KiB|MiB|GiB|TiB) free of [\d.]+ (B|KiB|MiB|GiB|TiB) \([\d.]+%\) at /);
  });

  it('warns and fails below its thresholds (less free space is worse)', async () => {
    const warned = await probe({ path: tmpdir(), thresholds: { warn: 101, fail: -1 } });
    expect(warned.status).toBe('warn');
    expect(warned.output).toMatch(/; free [\d.]+% ≤ warn threshold 101%$/);
    expect((await probe({ path: tmpdir(), thresholds: { warn: 101, fail: 100.5 } })).status).toBe('fail');
    expect((await probe({ path: tmpdir(), thresholds: { warn: 0, fail: -1 } })).status).toBe('pass');
  });

  it('fails on a path that does not exist', async () => {
    expect(await probe({ path: '/nonexistent/vigil' })).toMatchObject({ status: 'fail', output: expect.stringContaining('ENOENT') as string });
  });
});
