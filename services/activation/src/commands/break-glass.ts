import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AlertDispatcher, createNotifier } from '@vigil/alerting';
import { CommandError, EXIT, UsageError, writeFileAtomic, type Activation, type CommandContext, type ExtraCommand, type Logger } from '@vigil/core';
import type { ActivationConfig, TargetConfig } from '../config.js';
import { CoordinationUnavailable, type Coordination, type ExportedState } from '../coordination/coordination.js';
import { openCoordination } from '../coordination/open.js';
import { auditBase, iso, targetAfter, type FinalStatus } from '../lifecycle.js';
import { runPlan } from '../plan/runner.js';
import type { PlanStep, StepContext } from '../plan/steps/index.js';
import type { AuditRecord, TargetState } from '../store.js';
import { EXIT_REFUSED } from './import.js';
import { readExport } from './state-file.js';

/** How often the store is asked while break-glass makes sure it cannot be reached. */
const PROBE_INTERVAL_MS = 500;


type Context = CommandContext<typeof ActivationConfig>;

/**
 * `break-glass`: an operator's failover (or failback) by hand while the coordination store
 * cannot be reached, when the replicas refuse to decide anything. It refuses to run while the
 * store answers (the service is the way then), runs the target's plan here with the plan runner
 * under a fencing epoch the operator gives (or one above a backup's), and records the reason and
 * every step in a file that `import` later writes into the store, moving its epoch on.
 */
export const breakGlassCommand: ExtraCommand<typeof ActivationConfig> = {
  usage:
    '--config <file> --target <name> --reason <text> --operator <name> (--epoch <n> | --state <export file>) [--failback] [--out <file>] [--dry-run]',
  summary:
    'while etcd cannot be reached: run a target\'s plan here under a fencing epoch, recording the reason and every step in a file to import later (--dry-run: show what would run)',
  exitCodes: `${EXIT_REFUSED} refused (the coordination store answers: use the service)`,
  options: {
    target: { type: 'string' },
    reason: { type: 'string' },
    operator: { type: 'string' },
    epoch: { type: 'string' },
    state: { type: 'string' },
    failback: { type: 'boolean' },
    out: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  run: breakGlass,
};

function required(options: Context['options'], name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** The fencing epoch to act under: `--epoch`, else one above the target's epoch in a backup (`--state`), never at or below the backup's. */
async function chooseEpoch(options: Context['options'], target: string): Promise<{ epoch: number; source: string; previous: TargetState | undefined }> {
  const backup = typeof options.state === 'string' ? { path: options.state, ...(await readExport(options.state)) } : undefined;
  const previous = backup?.state.targets[target] as TargetState | undefined;
  if (typeof options.epoch === 'string') {
    const epoch = Number(options.epoch);
    if (!Number.isSafeInteger(epoch) || epoch < 1) throw new UsageError(`--epoch: expected a whole number of 1 or more, got "${options.epoch}"`);
    if (previous && epoch <= previous.epoch) {
      throw new CommandError(`--epoch ${epoch} is not above epoch ${previous.epoch} of "${target}" in ${backup?.path}: a fencing epoch must never be reused`, EXIT.usage);
    }
    return { epoch, source: '--epoch', previous };
  }
  if (!backup) throw new UsageError('give the fencing epoch (--epoch <n>, above every epoch the target has had) or a recent export to take it from (--state <file>)');
  if (!previous) throw new CommandError(`${backup.path} has no target "${target}": give --epoch`, EXIT.usage);
  return { epoch: previous.epoch + 1, source: `${backup.path} (epoch ${previous.epoch} exported at ${backup.state.exportedAt}) + 1`, previous };
}

/**
 * Asks the store for the target's state until it answers or `windowMs` has passed without an
 * answer (the replicas' own measure of an unreachable store is their lease TTL).
 */
async function storeAnswers(coordination: Coordination, target: string, windowMs: number): Promise<TargetState | undefined> {
  const deadline = performance.now() + windowMs;
  for (;;) {
    try {
      return await coordination.targetState(target);
    } catch (error) {
      if (!(error instanceof CoordinationUnavailable)) throw error;
    }
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(PROBE_INTERVAL_MS, left));
  }
}

async function refuseWhileReachable(config: ActivationConfig, logger: Logger, target: string): Promise<void> {
  const c = config.coordination;
  if (c.kind === 'file') {
    throw new CommandError(
      `coordination.kind is file: the store is ${config.dataDir} on this host and never unreachable; use the service's API (or start it on this directory)`,
      EXIT_REFUSED,
    );
  }
  const coordination = await openCoordination(config, logger, Date.now, { campaign: false });
  try {
    logger.info({ endpoints: c.endpoints, windowMs: c.ttl }, 'making sure etcd cannot be reached before breaking the glass');
    const state = await storeAnswers(coordination, target, c.ttl);
    if (state) {
      throw new CommandError(
        `etcd answers (target "${target}": ${state.active} active, epoch ${state.epoch}): break-glass is only for when it cannot be reached; use the service (an activation request, approve, cancel, POST /v1/failbacks)`,
        EXIT_REFUSED,
      );
    }
  } finally {
    await coordination.close();
  }
}

/** Sends pages through the configured webhooks for the plan's notify steps; closed at the end. */
function pagerOf(config: ActivationConfig, logger: Logger, activationId: string, target: string) {
  const dispatcher = new AlertDispatcher({ notifiers: config.alerts.webhooks.map((w) => createNotifier({ type: 'webhook', ...w })), logger, closeTimeoutMs: 2_000 });
  const notify: StepContext['notify'] = async ({ severity, summary, annotations }) => {
    if (config.alerts.webhooks.length === 0) return { delivered: false, output: 'no alert channels are configured' };
    const results = await dispatcher.send({
      id: `page_${randomBytes(9).toString('base64url')}`,
      dedupKey: activationId,
      monitor: target,
      severity,
      status: 'firing',
      summary,
      startsAt: iso(Date.now()),
      labels: { service: 'vigil-activation', target, breakGlass: 'true' },
      annotations: annotations ?? {},
    });
    const delivered = results.filter((r) => r.delivered).map((r) => r.receiver);
    return { delivered: delivered.length > 0, output: delivered.length > 0 ? `delivered to ${delivered.join(', ')}` : 'not delivered' };
  };
  return { notify, close: () => dispatcher.close() };
}

/**
 * The break-glass record: an export holding this one activation, its target and its audit, so
 * that `import` takes it as it takes a backup. Rewritten atomically at every record. Until the
 * run ends it says `interrupted` (final, holding the target): a record left by a killed run
 * never makes a replica resume the plan, it waits for an operator.
 */
class BreakGlassRecord {
  private readonly audit: AuditRecord[] = [];
  private ended: { status: FinalStatus; at: string; reason?: string } | undefined;

  constructor(
    readonly path: string,
    private readonly activation: Activation,
    private readonly held: TargetState,
    private readonly print: (text: string) => Promise<void>,
  ) {}

  async append(record: AuditRecord): Promise<void> {
    this.audit.push(record);
    await this.save();
    await this.print(`${JSON.stringify(record)}\n`);
  }

  async end(status: FinalStatus, reason?: string): Promise<void> {
    const at = iso(Date.now());
    this.ended = { status, at, ...(reason !== undefined && { reason }) };
    await this.append({ ...auditBase(this.activation, at), event: 'activation-finished', status, ...(reason !== undefined && { reason }) });
  }

  private async save(): Promise<void> {
    const { status, at, reason } = this.ended ?? { status: 'interrupted' as const, at: iso(Date.now()), reason: 'the break-glass run has not finished (still running, or stopped before its end)' };
    const activation: Activation = { ...this.activation, status, finishedAt: at, ...(reason !== undefined && { reason }) };
    const target = targetAfter(this.held, activation, status, at);
    const record: ExportedState = {
      format: 'vigil-activation-state',
      version: 1,
      exportedAt: at,
      source: `break-glass on ${hostname()}`,
      targets: { [activation.target]: target },
      activations: [activation],
      incidents: [{ target: activation.target, incidentId: activation.incidentId, claim: { activationId: activation.id, epoch: activation.epoch, claimedAt: activation.createdAt } }],
      audit: this.audit,
    };
    await writeFileAtomic(this.path, `${JSON.stringify(record, null, 2)}\n`);
  }
}

/** Stops the plan on the first SIGINT/SIGTERM (the step in flight finishes), abandons the step on the second. */
function stopOnSignals(logger: Logger): { stop: AbortSignal; abort: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      logger.error({ signal }, 'abandoning the step in flight');
      abort.abort();
    } else {
      logger.warn({ signal }, 'stopping: no further step starts; the step in flight finishes (signal again to abandon it)');
      stop.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function planOf(target: TargetConfig, failback: boolean): readonly PlanStep[] {
  if (!failback) return target.plan;
  if (!target.failback) throw new UsageError(`target "${target.name}" has no failback plan`);
  return target.failback.plan;
}

async function breakGlass({ config, options, logger, print }: Context): Promise<number> {
  const targetName = required(options, 'target');
  const reason = required(options, 'reason');
  const operator = required(options, 'operator');
  const target = config.targets.find((t) => t.name === targetName);
  if (!target) throw new UsageError(`--target: no target "${targetName}" in the configuration (${config.targets.map((t) => t.name).join(', ') || 'none'})`);
  const kind = options.failback === true ? 'failback' : 'failover';
  const plan = planOf(target, kind === 'failback');
  const { epoch, source, previous } = await chooseEpoch(options, targetName);
  await refuseWhileReachable(config, logger, targetName);

  const now = iso(Date.now());
  const id = `act_${randomBytes(12).toString('base64url')}`;
  const out = typeof options.out === 'string' ? options.out : resolve(join(config.dataDir, 'break-glass', `${targetName}-${id}.json`));
  if (options['dry-run'] === true) {
    await print(`${JSON.stringify({ dryRun: true, target: targetName, kind, epoch, epochSource: source, operator, reason, out, plan: plan.map((s) => ({ name: s.name, kind: s.kind, idempotent: s.idempotent })) })}\n`);
    logger.warn({ target: targetName, epoch }, 'dry run: etcd cannot be reached, so break-glass would run this plan; nothing was run or written');
    return EXIT.ok;
  }

  const activation: Activation = {
    id,
    requestId: `break-glass_${randomBytes(9).toString('base64url')}`,
    target: targetName,
    voter: operator,
    incidentId: `break-glass-${now}`,
    kind,
    status: 'running',
    epoch,
    createdAt: now,
    steps: [],
    approval: { reason: `break-glass: ${reason}`, requestedAt: now, decidedBy: operator, decidedAt: now },
  };
  const before: TargetState = previous ?? { active: kind === 'failover' ? 'primary' : 'secondary', epoch: 0 };
  const held: TargetState = kind === 'failover' ? { ...before, epoch, activationId: id } : { ...before, epoch };
  const record = new BreakGlassRecord(out, activation, held, print);
  await record.append({ ...auditBase(activation, now), event: 'break-glass', operator, reason, kind, host: hostname(), epochSource: source });
  logger.warn({ activationId: id, target: targetName, kind, epoch, operator, reason, record: out }, 'break-glass: running the plan by hand');

  const pager = pagerOf(config, logger, id, targetName);
  const signals = stopOnSignals(logger);
  try {
    const result = await runPlan(
      plan,
      {
        stepStarted: async (step) => {
          activation.steps.push(step);
          await record.append({ ...auditBase(activation, iso(Date.now())), event: 'step-started', step });
        },
        stepFinished: async (step) => {
          activation.steps[activation.steps.length - 1] = step;
          await record.append({ ...auditBase(activation, iso(Date.now())), event: 'step-finished', step });
        },
      },
      { now: Date.now, stop: signals.stop, abort: signals.abort, context: { activationId: id, target: targetName, kind, epoch, notify: pager.notify } },
    );
    const [status, why]: [FinalStatus, string | undefined] =
      result.status === 'succeeded' ? ['succeeded', undefined] : result.status === 'failed' ? ['failed', `step ${result.step} failed`] : ['interrupted', 'stopped by a signal'];
    await record.end(status, why);
    const fields = { activationId: id, target: targetName, epoch, status, record: out, importWith: `vigil-activation import --config <file> --in ${out}` };
    if (status === 'succeeded') logger.warn(fields, 'break-glass plan succeeded; import the record once etcd answers');
    else logger.error(fields, 'break-glass plan did not complete; import the record once etcd answers');
    return status === 'succeeded' ? EXIT.ok : EXIT.failed;
  } finally {
    signals.dispose();
    await pager.close();
  }
}
