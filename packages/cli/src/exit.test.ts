import { describe, expect, it } from 'vitest';
import { exitForStatus } from './commands/common.js';
import { EXIT, EXIT_CODES_HELP, worstExit } from './exit.js';

describe('exit codes', () => {
  it('the worst finding wins: error, then pending approval, then still running, then degraded', () => {
    expect(worstExit([])).toBe(EXIT.ok);
    expect(worstExit([EXIT.ok, EXIT.degraded])).toBe(EXIT.degraded);
    expect(worstExit([EXIT.degraded, EXIT.pendingApproval, EXIT.degraded])).toBe(EXIT.pendingApproval);
    expect(worstExit([EXIT.stillRunning, EXIT.degraded])).toBe(EXIT.stillRunning);
    expect(worstExit([EXIT.pendingApproval, EXIT.error])).toBe(EXIT.error);
  });

  it('an activation that is still running after a wait is 5, never a failure; waiting for approval is 4', () => {
    expect(exitForStatus('succeeded')).toBe(0);
    expect(exitForStatus('notified')).toBe(0);
    expect(exitForStatus('running')).toBe(5);
    expect(exitForStatus('holding-off')).toBe(5);
    expect(exitForStatus('awaiting-approval')).toBe(4);
    for (const status of ['failed', 'interrupted', 'cancelled'] as const) expect(exitForStatus(status)).toBe(1);
  });

  it('--help documents each code', () => {
    for (const code of [0, 1, 2, 3, 4, 5]) expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}  `, 'm'));
  });
});
