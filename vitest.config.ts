import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Unit tests run on sources; workspace imports resolve to each package's src/index.ts.
const alias = {
  // Before '@vigil/core', which would otherwise take its subpath as a path under index.ts.
  '@vigil/core/duration': src('./packages/core/src/duration.ts'),
  '@vigil/core': src('./packages/core/src/index.ts'),
  '@vigil/checks': src('./packages/checks/src/index.ts'),
  '@vigil/alerting': src('./packages/alerting/src/index.ts'),
  '@vigil/coordination': src('./packages/coordination/src/index.ts'),
  '@vigil/client': src('./packages/client/src/index.ts'),
  '@vigil/cli': src('./packages/cli/src/index.ts'),
  '@vigil/demo': src('./services/demo/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'],
          testTimeout: 15_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'system',
          // Whole-system tests start the built services as real processes.
          include: ['test/**/*.test.ts'],
          // Names the run, so that the container images are built once for all its test files.
          globalSetup: ['./test/support/engine-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
