import { Writable } from 'node:stream';
import { createLogger, runExtraCommand, type Activation } from '@vigil/core';
import { activationCommands } from '../commands/index.js';
import type { ActivationConfig } from '../config.js';
import type { Coordination, ExportedState } from '../coordination/coordination.js';
import { openCoordination } from '../coordination/open.js';
import { auditBase } from '../lifecycle.js';

/**
 * Writes what a finished failover leaves in a store: a succeeded activation with its steps, its
 * incident claim, the target on the secondary side at `epoch`, and the audit records.
 */
export async function seedFailover(coordination: Coordination, target: string, epoch: number, id = `act_seed_${target}_${epoch}`): Promise<Activation> {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 10, 0, s)).toISOString();
  const step = { name: 'enable-standby', kind: 'http', status: 'succeeded' as const, startedAt: at(1), endedAt: at(2), attempts: 1, responseStatus: 200 };
  const activation: Activation = {
    id,
    requestId: `req_${id}`,
    target,
    voter: 'watchdog-1',
    incidentId: `inc_${id}`,
    kind: 'failover',
    status: 'succeeded',
    epoch,
    createdAt: at(0),
    finishedAt: at(3),
    steps: [step],
  };
  await coordination.transact({ targets: [target], activations: [id], incidents: [{ target, incidentId: activation.incidentId }] }, (tx) => {
    tx.putActivation(activation);
    tx.putIncident(target, activation.incidentId, { activationId: id, epoch, claimedAt: at(0) });
    tx.setTarget(target, { active: 'secondary', epoch, since: at(3), activationId: id });
    tx.appendAudit({ ...auditBase(activation, at(0)), event: 'activation-created', requestId: activation.requestId, voter: 'watchdog-1', incidentId: activation.incidentId });
    const { endedAt: _ended, responseStatus: _status, ...started } = step;
    tx.appendAudit({ ...auditBase(activation, at(1)), event: 'step-started', step: { ...started, status: 'running', attempts: 0 } });
    tx.appendAudit({ ...auditBase(activation, at(2)), event: 'step-finished', step });
    tx.appendAudit({ ...auditBase(activation, at(3)), event: 'activation-finished', status: 'succeeded' });
  });
  return activation;
}

/** What must survive a move between stores: everything but when and where it was exported. */
export function contentOf(state: ExportedState): Omit<ExportedState, 'exportedAt' | 'source'> {
  const { exportedAt: _at, source: _source, ...content } = state;
  return JSON.parse(JSON.stringify(content)) as Omit<ExportedState, 'exportedAt' | 'source'>;
}

/** Runs one of the service's own commands in this process, as `runService` would; its exit code, stdout and stderr. */
export async function runCommand(name: string, args: string[], config: ActivationConfig): Promise<{ code: number; out: string; err: string }> {
  const collect = () => {
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(Buffer.from(chunk));
        done();
      },
    });
    return Object.assign(stream, { text: () => Buffer.concat(chunks).toString() });
  };
  const stdout = collect();
  const stderr = collect();
  const command = activationCommands[name];
  if (!command) throw new Error(`no command ${name}`);
  const code = await runExtraCommand('vigil-activation', name, command, args, config, 'test.yaml', { stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

/** Opens the configured store as the commands do (never leading), runs `use` on it, closes it. */
export async function withStore<T>(config: ActivationConfig, use: (coordination: Coordination) => Promise<T>): Promise<T> {
  const coordination = await openCoordination(config, createLogger({ service: 'test', level: 'silent' }), Date.now, { campaign: false });
  try {
    return await use(coordination);
  } finally {
    await coordination.close();
  }
}
