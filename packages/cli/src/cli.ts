import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import { parseDuration } from '@vigil/core/duration';
import { decide, failback, pauseOrResume } from './commands/actions.js';
import { checkConfig } from './commands/check-config.js';
import { drill } from './commands/drill.js';
import { history } from './commands/history.js';
import { monitors } from './commands/monitors.js';
import { show } from './commands/show.js';
import { status, watch } from './commands/status.js';
import type { Context } from './context.js';
import { CliError, EXIT, EXIT_CODES_HELP, type ExitCode } from './exit.js';
import type { Connection } from './http.js';
import { colourEnabled, FORMATS, painter, type Format, type Streams } from './output.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8083';
export const DEFAULT_WATCHDOG = 'http://127.0.0.1:8082';

const ENVIRONMENT_HELP = `Environment:
  VIGIL_SERVER    activation service URLs, comma-separated (default ${DEFAULT_SERVER})
  VIGIL_WATCHDOG  watchdog URLs, comma-separated (default ${DEFAULT_WATCHDOG})
  VIGIL_TOKEN     operator bearer token (approve, cancel, failback, drill, pause, resume)
  VIGIL_WATCHDOG_TOKEN  the watchdogs' token when it differs from VIGIL_TOKEN
  NO_COLOR        no colours (colours are off anyway when stdout is not a terminal)

Tokens are never taken as an argument (a command line is visible to every user
of the machine and stays in the shell history): use VIGIL_TOKEN or --token-file.
Data goes to stdout, everything else to stderr: with -o json or -o yaml, stdout
holds only the data.`;

export interface Io extends Streams {
  env: NodeJS.ProcessEnv;
  /** Ends watches and waits (SIGINT/SIGTERM in the real binary). */
  signal?: AbortSignal;
  now?: () => number;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Refuses a token given as an argument, before anything else: it must not end up in `ps` or the shell history. */
export function tokenArgument(argv: readonly string[]): string | undefined {
  for (const arg of argv) {
    if (arg === '--') return undefined;
    if (arg === '--token' || arg.startsWith('--token=') || arg === '--watchdog-token' || arg.startsWith('--watchdog-token=')) return arg.split('=')[0];
  }
  return undefined;
}

function readToken(path: string | undefined, what: string): string | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const token = text.trim();
  if (token === '') throw new CliError(`${what} ${path}: the file is empty`);
  return token;
}

function listFrom(given: readonly string[], env: string | undefined, fallback: string): string[] {
  if (given.length > 0) return [...given];
  const fromEnv = (env ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return fromEnv.length > 0 ? fromEnv : [fallback];
}

interface GlobalOptions {
  output: Format;
  server?: string[] | undefined;
  watchdog?: string[] | undefined;
  tokenFile?: string | undefined;
  watchdogTokenFile?: string | undefined;
  timeout: string;
}

/** Builds the program; each action stores its exit code in `result`. */
export function buildProgram(io: Io, result: { code: ExitCode }) {
  const program = new Command()
    .name('vigil')
    .description("Vigil's operator command line: see and act on the activation service and the watchdogs.")
    .addOption(new Option('-o, --output <format>', 'output format').choices(FORMATS).default<Format>('table'))
    .option('--server <url>', `activation service URL; repeat for replicas, tried in turn (env VIGIL_SERVER; default ${DEFAULT_SERVER})`, collect)
    .option('--watchdog <url>', `watchdog URL; repeat for each watchdog (env VIGIL_WATCHDOG; default ${DEFAULT_WATCHDOG})`, collect)
    .option('--token-file <file>', 'file holding the operator bearer token (else env VIGIL_TOKEN)')
    .option('--watchdog-token-file <file>', "file holding the watchdogs' bearer token, when it differs (else env VIGIL_WATCHDOG_TOKEN, else the operator token)")
    .option('--timeout <duration>', 'limit of one request', '5s')
    .showHelpAfterError('(vigil --help lists the commands and options)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => void io.out.write(text), writeErr: (text) => void io.err.write(text) })
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\n${ENVIRONMENT_HELP}\n`);

  const contextOf = (command: { optsWithGlobals(): unknown }): Context => {
    const options = command.optsWithGlobals() as GlobalOptions;
    const timeoutMs = parseDuration(options.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) throw new CliError(`--timeout: expected a duration such as "5s", got "${options.timeout}"`, EXIT.usage);
    const token = readToken(options.tokenFile, '--token-file') ?? (io.env.VIGIL_TOKEN?.trim() || undefined);
    const watchdogToken = readToken(options.watchdogTokenFile, '--watchdog-token-file') ?? (io.env.VIGIL_WATCHDOG_TOKEN?.trim() || undefined);
    const connection: Connection = {
      servers: listFrom(options.server ?? [], io.env.VIGIL_SERVER, DEFAULT_SERVER),
      watchdogs: listFrom(options.watchdog ?? [], io.env.VIGIL_WATCHDOG, DEFAULT_WATCHDOG),
      token,
      watchdogToken,
      timeoutMs,
    };
    const format = options.output;
    return {
      connection,
      format,
      streams: io,
      paint: painter(format === 'table' && colourEnabled(io.out, io.env)),
      paintErr: painter(colourEnabled(io.err, io.env)),
      env: io.env,
      now: io.now ?? Date.now,
      signal: io.signal ?? new AbortController().signal,
      note: (text) => void io.err.write(`${text}\n`),
      print: (text) => void io.out.write(text),
    };
  };

  program
    .command('status')
    .description('active side, epoch, since, mode, pending activation and its votes, data-loss reading, pauses, age of the data, which server answered')
    .argument('[target]', 'one target (default: all)')
    .option('-w, --watch', 'then follow the event streams and print each change until interrupted (Ctrl-C)')
    .option('--until-switch', 'with --watch: stop (exit 0) once the active side of a target changes')
    .action(async (target, options, command) => {
      const context = contextOf(command);
      if (options.untilSwitch && !options.watch) throw new CliError('--until-switch goes with --watch', EXIT.usage);
      result.code = options.watch ? await watch(context, target, options.untilSwitch === true) : await status(context, target);
    });

  program
    .command('monitors')
    .description("every watchdog's monitors: state, last result, age of the data, pauses, incidents")
    .action(async (_options, command) => {
      result.code = await monitors(contextOf(command));
    });

  program
    .command('history')
    .description("activations (and the watchdogs' pause records), oldest first")
    .argument('[target]', 'one target (default: all)')
    .option('--since <when>', 'a duration back from now ("24h") or a time ("2026-12-03T10:00:00Z")')
    .action(async (target, options, command) => {
      result.code = await history(contextOf(command), target, options.since);
    });

  program
    .command('show')
    .description("one activation's timeline: probe evidence, votes, decision, approvals, each step with duration and output, outcome")
    .argument('<activation>', 'the activation id')
    .action(async (id, _options, command) => {
      result.code = await show(contextOf(command), id);
    });

  for (const action of ['approve', 'cancel'] as const) {
    program
      .command(action)
      .description(action === 'approve' ? 'approve an activation that waits for an operator' : 'cancel an activation that has not finished')
      .argument('<activation>', 'the activation id')
      .requiredOption('--reason <text>', 'why (recorded in the audit log with your operator name)')
      .action(async (id, options, command) => {
        result.code = await decide(contextOf(command), action, id, options.reason);
      });
  }

  program
    .command('failback')
    .description('move a target back to its primary (the primary must prove healthy first)')
    .argument('<target>', 'the target')
    .requiredOption('--reason <text>', 'why (recorded in the audit log with your operator name)')
    .option('--wait [duration]', 'wait for the failback to end (default 10m); exit 5 if it is still running then (not failed)')
    .action(async (target, options, command) => {
      result.code = await failback(contextOf(command), target, options.reason, options.wait);
    });

  program
    .command('pause')
    .description('pause a monitor on every watchdog that has it: no alerts, no failover; it resumes by itself after --for')
    .argument('<monitor>', 'the monitor')
    .requiredOption('--for <duration>', 'how long, e.g. 30m (the pause ends by itself)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (monitor, options, command) => {
      result.code = await pauseOrResume(contextOf(command), 'pause', monitor, options.reason, options.for);
    });

  program
    .command('resume')
    .description('resume a paused monitor on every watchdog that has it')
    .argument('<monitor>', 'the monitor')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (monitor, options, command) => {
      result.code = await pauseOrResume(contextOf(command), 'resume', monitor, options.reason, undefined);
    });

  program
    .command('drill')
    .description('rehearse a failover (dry run, no effectful step): decision, data-loss guard, detection and each step against the RTO')
    .argument('<target>', 'the target')
    .addOption(new Option('--kind <kind>', 'what to rehearse').choices(['failover', 'failback'] as const).default('failover' as const))
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--watchdog-config <file>', "the watchdog's configuration file, for the detection bound (interval × failureThreshold + timeout)")
    .action(async (target, options, command) => {
      result.code = await drill(contextOf(command), target, {
        kind: options.kind,
        ...(options.reason !== undefined && { reason: options.reason }),
        ...(options.watchdogConfig !== undefined && { watchdogConfig: options.watchdogConfig }),
      });
    });

  program
    .command('check-config')
    .description("validate configuration files with each service's own loader, then check them against each other")
    .argument('<files...>', 'configuration files (their service is told by their keys, or --kind)')
    .addOption(new Option('--kind <kind>', 'the service of every file given').choices(['activation', 'watchdog', 'health-check'] as const))
    .action(async (files, options, command) => {
      result.code = await checkConfig(contextOf(command), files, options.kind);
    });

  return program;
}

/** Runs `vigil` with `argv` (without the node and script paths); resolves with the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<ExitCode> {
  const refused = tokenArgument(argv);
  if (refused !== undefined) {
    io.err.write(
      `vigil: ${refused} is refused: a token given as an argument is visible to every user of this machine (ps, /proc) and stays in the shell history; set VIGIL_TOKEN or use --token-file <file>\n`,
    );
    return EXIT.usage;
  }
  const result: { code: ExitCode } = { code: EXIT.ok };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      io.err.write(`vigil: ${err.message}\n`);
      return err.exitCode;
    }
    io.err.write(`vigil: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.error;
  }
}
