export { run, buildProgram, tokenArgument, DEFAULT_SERVER, DEFAULT_WATCHDOG, type Io } from './cli.js';
export { EXIT, EXIT_CODES_HELP, CliError, worstExit, type ExitCode } from './exit.js';
export { crossCheck, detectKind, type ActivationFacts, type WatchdogFacts, type CrossCheck } from './commands/check-config.js';
