#!/usr/bin/env node
/* global process */
// The `vigil` command. npm links a package's bin only if the file exists when it installs, and
// dist/ exists only after `npm run build`: this file is in the repository, so that `npx vigil`
// works from the repository root after `npm ci && npm run build`.
try {
  await import('../dist/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('vigil: not built yet: run `npm run build` at the repository root first\n');
    process.exit(1);
  }
  throw err;
}
