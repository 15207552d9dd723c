import { execFileSync } from 'node:child_process';

/**
 * Finds a real component's binary (Prometheus, Alertmanager, etcd, Redis, PostgreSQL…) for tests.
 * Absent: the test is skipped with a message saying what to install, unless VIGIL_REQUIRE_COMPONENTS
 * is set (CI sets it), in which case the absence is a failure.
 */
export function findBinary(name: string, debianPackage: string): string | undefined {
  let path: string | undefined;
  try {
    path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    path = undefined;
  }
  if (!path) {
    const message = `${name} not found: install it (apt-get install ${debianPackage}) to run this test`;
    if (process.env.VIGIL_REQUIRE_COMPONENTS) throw new Error(`${message}; VIGIL_REQUIRE_COMPONENTS is set, so this is a failure`);
    console.warn(`skipped: ${message}`);
  }
  return path;
}
