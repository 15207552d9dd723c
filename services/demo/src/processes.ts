/** Starts Vigil's built services as child processes and follows their JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type ServiceName = 'health-check' | 'watchdog' | 'activation';

/** The built entry point of a service in this repository. */
export function serviceMain(name: ServiceName): string {
  return fileURLToPath(new URL(`../../${name}/dist/main.js`, import.meta.url));
}

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  /** Every stdout/stderr line so far. */
  readonly lines: string[];
  /** Resolves with the exit code (or signal) once the process has exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startService(
  name: ServiceName,
  configPath: string,
  options: { env?: NodeJS.ProcessEnv; onLine?: (line: string, stream: 'stdout' | 'stderr') => void } = {},
): ServiceProcess {
  const child = spawn(process.execPath, [serviceMain(name), '--config', configPath], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream] }).on('line', (line) => {
      lines.push(line);
      options.onLine?.(line, stream);
    });
  }
  // 'close' rather than 'exit': it fires once stdout/stderr are drained, so `lines` is complete.
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    name,
    child,
    lines,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
