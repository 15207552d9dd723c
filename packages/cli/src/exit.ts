/**
 * The exit codes of `vigil`, the same for every command (README, "Exit codes"). Scripts may rely
 * on them: a pending approval or a switchover still running is never reported as a failure.
 */
export const EXIT = {
  /** Done; everything looked at is healthy. */
  ok: 0,
  /** An error: no server answered, a request was refused, an input file is wrong. */
  error: 1,
  /** The command line is wrong (unknown command or option, missing argument, a value that does not parse); nothing was done. */
  usage: 2,
  /** Answered, but not healthy: a target runs on its secondary, a monitor is down, data is stale. */
  degraded: 3,
  /** An activation waits for an operator's approval. */
  pendingApproval: 4,
  /** `--wait` ended while the activation was still running (not failed: follow it with `vigil show`). */
  stillRunning: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The text `--help` and the README show. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  error: no server answered, a request was refused, an unknown activation or
     target, an invalid or inconsistent configuration file (check-config)
  2  usage: unknown command or option, missing argument or --reason, an option
     value that does not parse (--since, --for, --wait, --timeout)
  3  degraded: a target on its secondary, a monitor down or paused, data stale,
     a watchdog unreachable, a drill over its RTO, a configuration cross-check warning
  4  pending approval: an activation waits for an operator
  5  still running after --wait (not failed: follow it with \`vigil show <id>\`)`;

/** An error that ends the command with its own exit code; the message goes to stderr. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.error,
  ) {
    super(message);
  }
}

/**
 * Of several findings, the code the command exits with: an error wins, then a pending approval
 * (someone must act), then still running, then degraded.
 */
export function worstExit(codes: readonly ExitCode[]): ExitCode {
  const rank: Record<ExitCode, number> = { 0: 0, 3: 1, 5: 2, 4: 3, 2: 4, 1: 5 };
  let worst: ExitCode = EXIT.ok;
  for (const code of codes) if (rank[code] > rank[worst]) worst = code;
  return worst;
}
