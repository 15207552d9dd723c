import { runService } from '@vigil/core';
import { buildApp } from './app.js';
import { WatchdogConfig } from './config.js';

await runService({
  name: 'vigil-watchdog',
  schema: WatchdogConfig,
  address: (config) => config.server,
  async start(config, logger) {
    const app = await buildApp({ config, logger });
    await app.listen(config.server);
    return { close: () => app.close() };
  },
});
