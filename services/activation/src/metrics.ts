import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry, type Side } from '@vigil/core';
import type { TargetState } from './store.js';

export interface ActivationMetrics {
  registry: Registry;
  activations: Counter<'target' | 'outcome'>;
  stepDuration: Histogram<'target' | 'step'>;
  rejected: Counter<'reason'>;
  operatorAuthFailures: Counter;
}

const OUTCOMES = ['succeeded', 'failed', 'interrupted', 'cancelled', 'notified'] as const;
const SIDES: readonly Side[] = ['primary', 'secondary'];

/**
 * The service's metrics. Epoch and active side are the last state this replica saw (read,
 * written or watched), looked at scrape time.
 */
export function createMetrics(
  version: string,
  targets: readonly string[],
  stateOf: (target: string) => TargetState,
  coordination: { reachable(): boolean; leading(): boolean } = { reachable: () => true, leading: () => true },
): ActivationMetrics {
  const registry = createRegistry('activation', version);
  new Gauge({
    name: 'vigil_coordination_reachable',
    help: 'Whether this replica reaches its coordination store (files: always 1; etcd: a quorum read answered within the lease TTL).',
    registers: [registry],
    collect() {
      this.set(coordination.reachable() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vigil_activation_leader',
    help: 'Whether this replica leads (drives activations) now.',
    registers: [registry],
    collect() {
      this.set(coordination.leading() ? 1 : 0);
    },
  });
  const activations = new Counter({
    name: 'vigil_activations_total',
    help: 'Activations and failbacks that ended, by target and outcome (succeeded, failed, interrupted, cancelled, notified).',
    labelNames: ['target', 'outcome'] as const,
    registers: [registry],
  });
  // Zero-valued series from the start, so that increase() sees the first activation.
  for (const target of targets) for (const outcome of OUTCOMES) activations.inc({ target, outcome }, 0);

  new Gauge({
    name: 'vigil_activation_epoch',
    help: 'Current fencing epoch of each target.',
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      for (const target of targets) this.set({ target }, stateOf(target).epoch);
    },
  });
  new Gauge({
    name: 'vigil_active_side',
    help: 'Which side of each target is active: 1 for the active side, 0 for the other.',
    labelNames: ['target', 'side'] as const,
    registers: [registry],
    collect() {
      for (const target of targets) {
        const active = stateOf(target).active;
        for (const side of SIDES) this.set({ target, side }, side === active ? 1 : 0);
      }
    },
  });
  const stepDuration = new Histogram({
    name: 'vigil_activation_step_duration_seconds',
    help: 'Duration of activation plan steps, retries included.',
    labelNames: ['target', 'step'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'vigil_activation_requests_rejected_total',
    help: 'Activation requests refused, by reason (the error code of the answer).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const operatorAuthFailures = new Counter({
    name: 'vigil_operator_auth_failures_total',
    help: 'Operator API requests refused for a missing or unknown bearer token, or throttled after too many.',
    registers: [registry],
  });
  return { registry, activations, stepDuration, rejected, operatorAuthFailures };
}
