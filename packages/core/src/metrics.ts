import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * prom-client's default metrics include gauges named `nodejs_active_*_total`, which
 * `promtool check metrics` rejects (only counters may end in `_total`). The same
 * numbers are exported without the suffix (`nodejs_active_handles`, …), so drop these.
 */
const NON_COUNTERS_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry with process/runtime metrics and `vigil_build_info`, clean under promtool. */
export function createRegistry(service: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of NON_COUNTERS_NAMED_TOTAL) registry.removeSingleMetric(name);
  const info = new Gauge({
    name: 'vigil_build_info',
    help: 'Always 1; labels name the Vigil service and its version.',
    labelNames: ['service', 'version'] as const,
    registers: [registry],
  });
  info.set({ service, version }, 1);
  return registry;
}
