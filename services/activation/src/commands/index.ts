import type { ExtraCommand } from '@vigil/core';
import type { ActivationConfig } from '../config.js';
import { breakGlassCommand } from './break-glass.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';

/** The operator commands of vigil-activation besides run, check-config and healthcheck. */
export const activationCommands: Record<string, ExtraCommand<typeof ActivationConfig>> = {
  export: exportCommand,
  import: importCommand,
  'break-glass': breakGlassCommand,
};
