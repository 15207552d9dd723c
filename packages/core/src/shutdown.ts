import type { Logger } from './logger.js';

export interface Closable {
  close(): Promise<void>;
}

/** The last lines of a stopping process are the ones an operator needs: write them out before exiting. */
function exitAfterFlush(logger: Logger, code: number): void {
  logger.flush(() => process.exit(code));
}

/**
 * Closes `target` on SIGTERM/SIGINT (stop accepting work, finish what is in flight, flush state),
 * then exits 0. A second signal, or the grace period running out, exits at once with 1.
 */
export function closeOnSignals(target: Closable, logger: Logger, graceMs = 10_000): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal during shutdown; exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown took longer than the grace period; exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    target.close().then(
      () => {
        logger.info('stopped');
        exitAfterFlush(logger, 0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        exitAfterFlush(logger, 1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
