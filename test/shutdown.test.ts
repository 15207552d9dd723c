import { describe, expect, it } from 'vitest';
import { FAST, startSystem } from '@vigil/demo';

describe('graceful shutdown', () => {
  it('every service stops on SIGTERM with exit code 0 and says so', async () => {
    const system = await startSystem({ timing: FAST });
    try {
      for (const service of Object.values(system.services)) {
        service.child.kill('SIGTERM');
        expect(await service.exited, service.name).toEqual({ code: 0, signal: null });
        const messages = service.lines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
        // Requests still arriving while it closes may be logged after "stopped"; both must be there, in order.
        const shuttingDown = messages.indexOf('shutting down');
        expect(shuttingDown, `${service.name}: ${messages.slice(-5).join(' | ')}`).toBeGreaterThanOrEqual(0);
        expect(messages.indexOf('stopped', shuttingDown), `${service.name}: ${service.lines.slice(-3).join(' || ')}`).toBeGreaterThan(shuttingDown);
      }
    } finally {
      await system.stop();
    }
  });
});
