import { runService } from '@vigil/core';
import { buildApp } from './app.js';
import { HealthCheckConfig } from './config.js';

await runService({
  name: 'vigil-health-check',
  schema: HealthCheckConfig,
  address: (config) => config.server,
  async start(config, logger) {
    const app = await buildApp(config, logger);
    await app.listen(config.server);
    // Fastify's close stops accepting connections and lets in-flight responses finish.
    return { close: () => app.close() };
  },
});
