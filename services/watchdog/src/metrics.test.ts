import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { WatchdogMetrics } from './metrics.js';

describe('watchdog metrics', () => {
  it('exports HTTP phases and certificate expiry like blackbox_exporter when the check measured them', async () => {
    const registry = new Registry();
    const metrics = new WatchdogMetrics(registry);
    metrics.observeProbe(
      'primary',
      { status: 'pass', durationMs: 12, phases: { dns: 1, connect: 2, tls: 3, firstByte: 4, transfer: 2 }, tlsEarliestCertExpiry: 1_800_000_000 },
      Date.parse('2026-11-22T10:00:00Z'),
    );
    const text = await registry.metrics();
    for (const [phase, seconds] of [['resolve', 0.001], ['connect', 0.002], ['tls', 0.003], ['processing', 0.004], ['transfer', 0.002]] as const) {
      expect(text).toContain(`probe_http_duration_seconds{monitor="primary",phase="${phase}"} ${seconds}`);
    }
    expect(text).toContain('probe_ssl_earliest_cert_expiry{monitor="primary"} 1800000000');
    expect(text).toContain('vigil_watchdog_last_cycle_timestamp_seconds 1795341600');
  });

  it('leaves them out for probes that did not measure them', async () => {
    const registry = new Registry();
    new WatchdogMetrics(registry).observeProbe('db', { status: 'fail', durationMs: 1000 }, 0);
    const text = await registry.metrics();
    expect(text).not.toContain('probe_http_duration_seconds{');
    expect(text).not.toContain('probe_ssl_earliest_cert_expiry{');
  });
});

describe('probe attempts', () => {
  it('gives the last probe’s attempts and counts them all', async () => {
    const registry = new Registry();
    const metrics = new WatchdogMetrics(registry);
    metrics.addMonitor('primary', { status: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });
    expect(await registry.metrics()).toContain('vigil_probe_attempts_total{monitor="primary"} 0');
    metrics.observeProbe('primary', { status: 'pass', durationMs: 300, attempts: 3 }, 0);
    metrics.observeProbe('primary', { status: 'pass', durationMs: 1 }, 0);
    const text = await registry.metrics();
    expect(text).toContain('probe_attempts{monitor="primary"} 1');
    expect(text).toContain('vigil_probe_attempts_total{monitor="primary"} 4');
  });
});
