import { readFileSync } from 'node:fs';

/** This package's version, read at run time: the same relative path works from `src/` (tests) and `dist/`. */
export const VERSION: string = (() => {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
})();
