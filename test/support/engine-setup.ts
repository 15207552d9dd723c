/**
 * Global setup of the system tests: names this run, so that the test files that need the images
 * build them once between them (test/support/engine.ts buildImages), and forgets the record after.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const run = randomUUID();
  project.provide('vigilTestRun', run);
  return () => rmSync(join(tmpdir(), `vigil-images-${run}.json`), { force: true });
}
