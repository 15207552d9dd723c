import type { StaticDecode, TSchema } from 'typebox';
import { ConfigError, configPathFrom, loadConfigFile, parseConfigValue, type Env } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { closeOnSignals, type Closable } from './shutdown.js';

export interface ServiceDefinition<S extends TSchema> {
  /** e.g. "vigil-watchdog"; names the service in logs and error messages. */
  name: string;
  schema: S;
  /** Where the service listens, as configured; `healthcheck` asks it there. */
  address(config: StaticDecode<S>): { host: string; port: number };
  start(config: StaticDecode<S>, logger: Logger): Promise<Closable>;
}

/** What a service's command line asks for: run it (the default), or one of the operator commands. */
export type ServiceCommand = 'run' | 'check-config' | 'healthcheck';

const COMMANDS: readonly ServiceCommand[] = ['run', 'check-config', 'healthcheck'];

export function serviceCommandFrom(argv: readonly string[]): ServiceCommand | { unknown: string } {
  const first = argv[0];
  if (first === undefined || first.startsWith('-')) return 'run';
  return (COMMANDS as readonly string[]).includes(first) ? (first as ServiceCommand) : { unknown: first };
}

/** The address to dial for a listening address: a wildcard bind is reached on loopback. */
export function dialHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/**
 * `healthcheck`: asks the running service's `/readyz` (what a container HEALTHCHECK runs, with no
 * curl in the image). Resolves with a failure reason, or undefined when the service is ready.
 */
export async function checkReady(address: { host: string; port: number }, timeoutMs = 3_000): Promise<string | undefined> {
  const host = dialHost(address.host);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/readyz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return res.ok ? undefined : `${url} answered ${res.status}: ${body.slice(0, 200)}`;
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${url}: ${err instanceof Error ? err.message : String(err)}${cause}`;
  }
}

/**
 * Boots a service: loads its config (exit 2 with every problem listed when it is invalid),
 * starts it, logs rather than dies on a stray rejection, and closes gracefully on signals.
 *
 * Commands: `[run]` (default), `check-config` (validate the config, exit 0 or 2), `healthcheck`
 * (exit 0 when the running service answers `/readyz`, else 1).
 */
export async function runService<S extends TSchema>(
  definition: ServiceDefinition<S>,
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): Promise<void> {
  const command = serviceCommandFrom(argv);
  if (typeof command === 'object') {
    process.stderr.write(`${definition.name}: unknown command "${command.unknown}"; use one of: ${COMMANDS.join(', ')} (then --config <file>)\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: definition.name });
  let config: StaticDecode<S>;
  let path: string | undefined;
  try {
    path = configPathFrom(argv, env);
    config = path ? loadConfigFile(definition.schema, path, env) : parseConfigValue(definition.schema, {}, 'the built-in defaults', env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (command === 'check-config') {
    process.stdout.write(`${definition.name}: ${path ?? 'the built-in defaults'}: valid\n`);
    process.exit(0);
  }
  if (command === 'healthcheck') {
    const problem = await checkReady(definition.address(config));
    if (problem) process.stderr.write(`${definition.name}: not ready: ${problem}\n`);
    process.exit(problem ? 1 : 0);
  }
  if (!path) logger.info('no --config or VIGIL_CONFIG given; using the built-in defaults');
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (a bug: please report it)'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(70);
  });
  try {
    const running = await definition.start(config, logger);
    closeOnSignals(running, logger);
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}
