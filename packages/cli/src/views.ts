/**
 * The shapes `vigil` reads, as the APIs answer them (spec of issue 14). Fields added by that
 * issue are optional here, so that the CLI also reads a service from before it.
 */
import type { Activation, ActiveSide, ActivationMode } from '@vigil/core';

export type { Activation, ActiveSide };

export interface StepView {
  name: string;
  kind: string;
  timeoutMs: number;
  attempts: number;
  /** Worst case, retries and backoff included. */
  budgetMs: number;
}

/** `GET /v1/targets` items. */
export interface TargetView {
  name: string;
  active: ActiveSide;
  mode: ActivationMode;
  rtoMs?: number;
  quorum: { votes: number; windowMs: number };
  voters: string[];
  votes: { voter: string; at: string; incidentId: string }[];
  holdOff: { durationMs: number; probe: boolean };
  dataLoss?: { kind: 'http' | 'postgres'; maxMs: number };
  plan: StepView[];
  failback?: { approval: boolean; plan: StepView[] };
  pending?: Activation;
}

/** `GET /v1/targets/:name/data-loss`. */
export interface DataLossReading {
  target: string;
  configured: boolean;
  lagMs?: number;
  maxMs?: number;
  withinLimit?: boolean;
  output?: string;
  checkedAt: string;
}

export interface Pause {
  since: string;
  until?: string;
  reason?: string;
  operator?: string;
}

/** `GET /v1/monitors` items of a watchdog. */
export interface MonitorView {
  name: string;
  kind: string;
  target: string;
  schedule: string;
  /** up, down, degraded, unknown, inconclusive, maintenance */
  state: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastChange?: string;
  lastResult: { status: 'pass' | 'warn' | 'fail'; durationMs: number; output?: string; time: string } | null;
  incident: { id: string; startedAt: string; activationRequested: boolean; activationAnswered?: boolean } | null;
  activationTarget?: string;
  inMaintenance: boolean;
  paused?: Pause;
  isolatedSince?: string;
  lastProbeAt?: string;
  intervalMs?: number;
  /** Absent from watchdogs older than these fields; detectionMs is the watchdog's own worst case until it asks for an activation. */
  failureThreshold?: number;
  timeoutMs?: number;
  detectionMs?: number;
}

/** `POST /v1/drills`. */
export interface DrillReport {
  target: string;
  kind: 'failover' | 'failback';
  dryRun: true;
  mode: ActivationMode;
  wouldWaitForApproval: boolean;
  approvalReasons: string[];
  holdOff: { durationMs: number; probe?: { status: string; durationMs: number; output?: string } };
  dataLoss?: { lagMs?: number; maxMs: number; withinLimit: boolean; output?: string };
  steps: { name: string; kind: string; budgetMs: number; lastDurationMs?: number }[];
  planBudgetMs: number;
  rtoMs?: number;
  withinRto?: boolean;
}

/** One line of the activation service's audit log. */
export interface AuditRecord {
  time: string;
  event: string;
  activationId?: string;
  target?: string;
  epoch?: number;
  [field: string]: unknown;
}

export type StepRecordView = Activation['steps'][number];
