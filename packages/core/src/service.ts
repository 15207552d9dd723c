import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
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
  /** Operator commands of this service besides the common ones, by name (e.g. `export`). */
  commands?: Readonly<Record<string, ExtraCommand<S>>>;
}

/** Exit codes every command keeps to, so that scripts can tell a failure from a misuse. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed (a store that did not answer, a failed step). */
  failed: 1,
  /** The command line, the configuration or an input file is wrong; nothing was done. */
  usage: 2,
} as const;

/** One operator command a service adds: its syntax, what it does, and how it runs. */
export interface ExtraCommand<S extends TSchema> {
  /** Its options after the command name, for the usage text, e.g. `--config <file> [--out <file>|-]`. */
  usage: string;
  /** What it does, in one line. */
  summary: string;
  /** Exit codes of its own beyond 0, 1 and 2, for the usage text, e.g. `3 refused: …`. */
  exitCodes?: string;
  /** Its options besides `--config` (every other option is refused with exit 2). */
  options?: ParseArgsOptionsConfig;
  /** Runs the command; resolves with its exit code. A UsageError becomes exit 2 with the usage line. */
  run(context: CommandContext<S>): Promise<number>;
}

export interface CommandContext<S extends TSchema> {
  config: StaticDecode<S>;
  /** The configuration file, or undefined for the built-in defaults. */
  configPath: string | undefined;
  /** The options given, by name (strings, booleans for flags). */
  options: Readonly<Record<string, string | boolean | undefined>>;
  /** Logs to stderr: stdout carries only the command's data. */
  logger: Logger;
  /** Writes the command's data to stdout; resolves once it is handed to the system. */
  print: (text: string) => Promise<void>;
}

/** A command line the command cannot act on: exit 2, with the message and the usage line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ends with its own exit code and message (e.g. 2 for an invalid input file, or a refusal). */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** What a service's command line asks for: run it (the default), or one of the operator commands. */
export type ServiceCommand = 'run' | 'check-config' | 'healthcheck' | 'help';

const COMMANDS: readonly ServiceCommand[] = ['run', 'check-config', 'healthcheck'];
const COMMON_USAGE: Record<Exclude<ServiceCommand, 'help'>, { usage: string; summary: string }> = {
  run: { usage: '[--config <file>]', summary: 'run the service (the default when no command is given)' },
  'check-config': { usage: '[--config <file>]', summary: 'validate the configuration: exit 0, or 2 with every problem' },
  healthcheck: { usage: '[--config <file>]', summary: 'exit 0 when the running service answers /readyz, else 1' },
};

/**
 * The command the command line names: a common one, one of `extra` (the service's own), `help`,
 * or unknown. No command, or an option first, runs the service.
 */
export function serviceCommandFrom(argv: readonly string[], extra: readonly string[] = []): ServiceCommand | { extra: string } | { unknown: string } {
  const first = argv[0];
  if (first === 'help' || first === '--help' || first === '-h') return 'help';
  if (first === undefined || first.startsWith('-')) return 'run';
  if ((COMMANDS as readonly string[]).includes(first)) return first as ServiceCommand;
  return extra.includes(first) ? { extra: first } : { unknown: first };
}

/** Every command of a service with its syntax, for `help` and usage errors. */
export function usageText(name: string, extra: Readonly<Record<string, { usage: string; summary: string; exitCodes?: string }>> = {}): string {
  const all = { ...COMMON_USAGE, ...extra };
  const width = Math.max(...Object.keys(all).map((command) => command.length));
  const lines = Object.entries(all).map(([command, { usage, summary }]) => `  ${command.padEnd(width)}  ${usage}\n  ${' '.repeat(width)}  ${summary}`);
  return `usage: ${name} [command] [options]\n\ncommands:\n${lines.join('\n')}\n\nexit codes: 0 done, 1 failed, 2 wrong command line, configuration or input${extraExitCodes(extra)}\n`;
}

function extraExitCodes(extra: Readonly<Record<string, { exitCodes?: string }>>): string {
  const notes = Object.values(extra).flatMap((command) => (command.exitCodes === undefined ? [] : [command.exitCodes]));
  return notes.length === 0 ? '' : `; ${notes.join('; ')}`;
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
 * (exit 0 when the running service answers `/readyz`, else 1), `help`, and the service's own
 * (`definition.commands`), which get the loaded config and their parsed options.
 */
export async function runService<S extends TSchema>(
  definition: ServiceDefinition<S>,
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): Promise<void> {
  const extra = definition.commands ?? {};
  const command = serviceCommandFrom(argv, Object.keys(extra));
  if (command === 'help') {
    process.stdout.write(usageText(definition.name, extra));
    process.exit(EXIT.ok);
  }
  if (typeof command === 'object' && 'unknown' in command) {
    const names = [...COMMANDS, ...Object.keys(extra)];
    process.stderr.write(`${definition.name}: unknown command "${command.unknown}"; use one of: ${names.join(', ')} (then --config <file>)\n`);
    process.exit(EXIT.usage);
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
      process.exit(EXIT.usage);
    }
    throw err;
  }
  if (typeof command === 'object') {
    process.exit(await runExtraCommand(definition.name, command.extra, extra[command.extra]!, argv.slice(1), config, path));
  }
  if (command === 'check-config') {
    process.stdout.write(`${definition.name}: ${path ?? 'the built-in defaults'}: valid\n`);
    process.exit(EXIT.ok);
  }
  if (command === 'healthcheck') {
    const problem = await checkReady(definition.address(config));
    if (problem) process.stderr.write(`${definition.name}: not ready: ${problem}\n`);
    process.exit(problem ? EXIT.failed : EXIT.ok);
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

/**
 * Runs one of a service's own commands and resolves with its exit code: 2 for options it does
 * not know or a UsageError (with the usage line), a CommandError's own code, 1 for any other
 * error (the message on stderr in each case).
 */
export async function runExtraCommand<S extends TSchema>(
  service: string,
  name: string,
  command: ExtraCommand<S>,
  args: readonly string[],
  config: StaticDecode<S>,
  configPath: string | undefined,
  streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): Promise<number> {
  const usage = `usage: ${service} ${name} ${command.usage}\n`;
  let options: CommandContext<S>['options'];
  try {
    options = parseArgs({ args: [...args], options: { config: { type: 'string' }, ...command.options }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    streams.stderr.write(`${service} ${name}: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
    return EXIT.usage;
  }
  const logger = createLogger({ service, destination: streams.stderr });
  const print = (text: string) => new Promise<void>((resolve, reject) => streams.stdout.write(text, (err) => (err ? reject(err) : resolve())));
  try {
    return await command.run({ config, configPath, options, logger, print });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError) {
      streams.stderr.write(`${service} ${name}: ${message}\n${usage}`);
      return EXIT.usage;
    }
    streams.stderr.write(`${service} ${name}: ${message}\n`);
    return err instanceof CommandError ? err.exitCode : EXIT.failed;
  }
}
