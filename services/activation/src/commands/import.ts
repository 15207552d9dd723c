import { CommandError, UsageError, dialHost, type ExtraCommand } from '@vigil/core';
import type { ActivationConfig } from '../config.js';
import type { ImportSummary } from '../coordination/coordination.js';
import { openCoordination } from '../coordination/open.js';
import type { TargetState } from '../store.js';
import { readExport } from './state-file.js';

/** Exit code of a command that refuses to act in the state it finds (a running service, a reachable store). */
export const EXIT_REFUSED = 3;

/** What happened to one target's fencing epoch in an import. */
export interface EpochOutcome {
  target: string;
  /** The store's epoch before the import, the file's, and the store's after it. */
  before: number;
  imported: number;
  after: number;
  outcome: 'raised' | 'kept-higher' | 'equal';
}

/** What `import` prints: the counts of what was added, and each target's epoch. */
export type ImportReport = ImportSummary & { source: string; exportedAt: string; into: 'file' | 'etcd'; epochs: EpochOutcome[] };

/** True when something answers HTTP at the service's address (a running file-backed service owns its directory). */
async function serviceAnswers(address: { host: string; port: number }): Promise<boolean> {
  const host = dialHost(address.host);
  try {
    await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}/livez`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * `import`: checks the whole file first (nothing is written when any of it is wrong), then writes
 * it into the configured backend. A target keeps the higher of its own epoch and the file's;
 * activations, incidents and audit records already present are kept as they are.
 */
export const importCommand: ExtraCommand<typeof ActivationConfig> = {
  usage: '--config <file> --in <file>',
  summary: 'check an export (or a break-glass record), then write it into the configured backend; an epoch never goes down; prints what changed',
  exitCodes: `${EXIT_REFUSED} refused (import: the file-backed service is running; break-glass: the coordination store answers)`,
  options: { in: { type: 'string' } },
  async run({ config, options, logger, print }) {
    if (typeof options.in !== 'string' || options.in === '') throw new UsageError('--in <file> is required');
    const { state } = await readExport(options.in);
    if (config.coordination.kind === 'file' && (await serviceAnswers(config.server))) {
      throw new CommandError(
        `the service answers at ${config.server.host}:${config.server.port} and owns ${config.dataDir}: stop it before importing into its files (etcd-backed replicas may keep running)`,
        EXIT_REFUSED,
      );
    }
    const coordination = await openCoordination(config, logger, Date.now, { campaign: false });
    try {
      const names = Object.keys(state.targets);
      const epochsOf = async () => new Map(await Promise.all(names.map(async (name) => [name, (await coordination.targetState(name)).epoch] as const)));
      const before = await epochsOf();
      const summary = await coordination.importState(state);
      const after = await epochsOf();
      const epochs = names.map((target): EpochOutcome => {
        const imported = (state.targets[target] as TargetState).epoch;
        const was = before.get(target) ?? 0;
        return { target, before: was, imported, after: after.get(target) ?? 0, outcome: imported > was ? 'raised' : imported < was ? 'kept-higher' : 'equal' };
      });
      for (const e of epochs.filter((e) => e.outcome === 'kept-higher')) {
        logger.warn({ target: e.target, epoch: e.before, imported: e.imported }, 'kept the store\'s higher epoch and active side: an import never lowers an epoch');
      }
      const report: ImportReport = { source: state.source, exportedAt: state.exportedAt, into: coordination.kind, ...summary, epochs };
      await print(`${JSON.stringify(report, null, 2)}\n`);
      logger.info({ in: options.in, into: coordination.kind, ...summary }, 'imported');
    } finally {
      await coordination.close();
    }
    return 0;
  },
};
