import { runService } from '@vigil/core';
import { buildApp } from './app.js';
import { WatchdogConfig } from './config.js';

await runService({
  name: 'vigil-watchdog',
  schema: WatchdogConfig,
  async start(config, logger) {
    const app = await buildApp({ config, logger });
    await app.listen({ host: config.server.host, port: config.server.port });
    return { close: () => app.close() };
  },
});
