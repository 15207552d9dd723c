import { UsageError, type ExtraCommand } from '@vigil/core';
import type { ActivationConfig } from '../config.js';
import { openCoordination } from '../coordination/open.js';
import { writeExport } from './state-file.js';

/**
 * `export`: the whole state of the configured backend (fencing epochs, active sides, activations
 * with their steps, claimed incidents, the audit log) as one JSON document, for a backup, a
 * restore in another region, or a move to the other backend.
 */
export const exportCommand: ExtraCommand<typeof ActivationConfig> = {
  usage: '--config <file> [--out <file>|-]',
  summary: 'write the whole state (epochs, active sides, activations, incidents, audit) as JSON to a file (default: ./vigil-activation-<time>.json) or, with -, to stdout',
  options: { out: { type: 'string' } },
  async run({ config, options, logger, print }) {
    const out = options.out ?? `vigil-activation-${new Date().toISOString().replaceAll(':', '-')}.json`;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out needs a file name, or - for stdout');
    const coordination = await openCoordination(config, logger, Date.now, { campaign: false });
    try {
      const state = await coordination.exportState();
      await writeExport(state, out, print);
      const epochs = Object.fromEntries(Object.entries(state.targets).map(([name, target]) => [name, (target as { epoch: number }).epoch]));
      logger.info(
        { out: out === '-' ? 'stdout' : out, source: state.source, epochs, activations: state.activations.length, incidents: state.incidents.length, audit: state.audit.length },
        'exported the activation state',
      );
    } finally {
      await coordination.close();
    }
    return 0;
  },
};
