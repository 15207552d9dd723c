import { statfs } from 'node:fs/promises';
import { Duration } from '@vigil/core';
import Type, { type StaticDecode } from 'typebox';
import type { Check, Measurement } from './check.js';
import { errorText, fail, pass } from './outcome.js';

export const DiskCheckConfig = Type.Object(
  {
    kind: Type.Literal('disk'),
    path: Type.String({ minLength: 1, description: 'a path on the file system to watch' }),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);
export type DiskCheckConfig = StaticDecode<typeof DiskCheckConfig>;

const FREE: Measurement = { name: 'free', unit: '%', worse: 'lower' };

/** Free space available to unprivileged users on the file system holding `path`, in percent. */
export const disk: Check<DiskCheckConfig> = {
  kind: 'disk',
  componentType: 'system',
  measurement: () => FREE,
  async run(config) {
    try {
      const stats = await statfs(config.path);
      const total = stats.blocks * stats.bsize;
      const free = stats.bavail * stats.bsize;
      const percent = total > 0 ? (free / total) * 100 : 0;
      return pass(`${formatBytes(free)} free of ${formatBytes(total)} (${percent.toFixed(1)}%) at ${config.path}`, {
        observedValue: Math.round(percent * 100) / 100,
        observedUnit: FREE.unit,
      });
    } catch (err) {
      return fail(errorText(err));
    }
  },
};

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
