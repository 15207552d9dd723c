/**
 * The scenario's deployment as local processes: the three built services as child processes,
 * the sample primary, standby and alert sink in this process, all on loopback (`startSystem`).
 */
import { FAST, receivedSummary, startSystem, type SystemOptions } from '@vigil/demo';
import type { Deployment } from './scenario.js';

export async function startProcesses(timing = FAST, etcd?: SystemOptions['etcd']): Promise<Deployment> {
  const system = await startSystem({ timing, ...(etcd && { etcd }) });
  const base = (port: number) => `http://127.0.0.1:${port}`;
  return {
    kind: 'processes',
    urls: {
      healthCheck: system.url('health-check', ''),
      watchdog: system.url('watchdog', ''),
      activation: system.url('activation', ''),
      standby: base(system.standby.port),
    },
    timing,
    slackMs: 5_000,
    // What the sink's GET /received lists, as the containers deployment reads it.
    receivedAlerts: () => Promise.resolve(receivedSummary(system.sink).alerts),
    enableCalls: () => Promise.resolve(system.standby.enableCalls()),
    failPrimary: (mode) => system.primary.setMode(mode),
    recoverPrimary: () => system.primary.setMode('up'),
    stop: () => system.stop(),
  };
}
