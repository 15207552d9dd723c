import { runService } from '@vigil/core';
import { buildApp } from './app.js';
import { activationCommands } from './commands/index.js';
import { ActivationConfig } from './config.js';

await runService({
  name: 'vigil-activation',
  schema: ActivationConfig,
  address: (config) => config.server,
  commands: activationCommands,
  async start(config, logger) {
    const app = await buildApp({ config, logger });
    await app.listen(config.server);
    return { close: () => app.close() };
  },
});
