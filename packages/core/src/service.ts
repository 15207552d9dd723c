import type { StaticDecode, TSchema } from 'typebox';
import { ConfigError, configPathFrom, loadConfigFile, parseConfigValue, type Env } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { closeOnSignals, type Closable } from './shutdown.js';

export interface ServiceDefinition<S extends TSchema> {
  /** e.g. "vigil-watchdog"; names the service in logs and error messages. */
  name: string;
  schema: S;
  start(config: StaticDecode<S>, logger: Logger): Promise<Closable>;
}

/**
 * Boots a service: loads its config (exit 2 with every problem listed when it is invalid),
 * starts it, logs rather than dies on a stray rejection, and closes gracefully on signals.
 */
export async function runService<S extends TSchema>(
  definition: ServiceDefinition<S>,
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): Promise<void> {
  const logger = createLogger({ service: definition.name });
  let config: StaticDecode<S>;
  try {
    const path = configPathFrom(argv, env);
    config = path ? loadConfigFile(definition.schema, path, env) : parseConfigValue(definition.schema, {}, 'the built-in defaults', env);
    if (!path) logger.info('no --config or VIGIL_CONFIG given; using the built-in defaults');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
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
