import { describe, expect, it } from 'vitest';
import { FAST, startSystem } from '@vigil/demo';

describe('graceful shutdown', () => {
  it('every service stops on SIGTERM with exit code 0 and says so', async () => {
    const system = await startSystem({ timing: FAST });
    try {
      for (const service of Object.values(system.services)) {
        service.child.kill('SIGTERM');
        expect(await service.exited).toEqual({ code: 0, signal: null });
        const messages = service.lines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
        expect(messages).toContain('shutting down');
        expect(messages.at(-1)).toBe('stopped');
      }
    } finally {
      await system.stop();
    }
  });
});
