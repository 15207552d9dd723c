/**
 * A real browser for the console's tests: Debian's `chromium` (apt-get install chromium) driven by
 * playwright-core through `executablePath`. playwright-core is pinned to the release whose bundled
 * Chromium has the same major as Debian's, so that the protocol both speak matches.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { findBinary } from '../../packages/core/src/test-support/components.js';

/** Where screenshots go (gitignored): test-artifacts/console/ at the repository's root. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));

/** The browser binary: VIGIL_CHROMIUM, else `chromium` on the PATH; undefined (skip, or fail in CI) when absent. */
export function findChromium(): string | undefined {
  return process.env.VIGIL_CHROMIUM || findBinary('chromium', 'chromium');
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    // As root in a container: no user namespaces for the sandbox, a small /dev/shm, no GPU.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 30_000,
  });
}

export const DESKTOP = { viewport: { width: 1280, height: 800 } } as const;
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;
