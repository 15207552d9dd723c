#!/usr/bin/env node
import { run } from './cli.js';

const stop = new AbortController();
let interrupted = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // The first signal ends a watch or a wait cleanly; a second one does not wait for that.
    if (++interrupted > 1) process.exit(130);
    stop.abort();
  });
}

const code = await run(process.argv.slice(2), { out: process.stdout, err: process.stderr, env: process.env, signal: stop.signal });
// Let stdout drain (a pipe may be slow) before exiting with the code.
process.stdout.write('', () => process.exit(code));
