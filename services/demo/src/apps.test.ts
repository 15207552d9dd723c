import { afterEach, describe, expect, it } from 'vitest';
import { generateSecret } from '@vigil/core';
import { startAlertSink, type AlertSink } from './apps.js';

describe('the sample alert sink', () => {
  let sink: AlertSink | undefined;
  afterEach(() => sink?.close());

  it('keeps the latest 1,000 deliveries, so a demo left running for days does not grow without end', async () => {
    sink = await startAlertSink(generateSecret(), 0);
    const post = (n: number) =>
      fetch(`http://127.0.0.1:${sink!.port}/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: '4', status: 'firing', groupKey: `g${n}`, alerts: [] }),
      });
    // The five oldest one by one, so that they are certainly the first to arrive; the rest in batches.
    for (let n = 0; n < 5; n += 1) expect((await post(n)).status).toBe(200);
    for (let n = 5; n < 1_005; n += 25) {
      const batch = Array.from({ length: 25 }, (_, i) => n + i);
      for (const res of await Promise.all(batch.map(post))) expect(res.status).toBe(200);
    }
    const received = (await (await fetch(`http://127.0.0.1:${sink.port}/received`)).json()) as { alertmanager: { groupKey: string }[] };
    expect(received.alertmanager).toHaveLength(1_000);
    const keys = new Set(received.alertmanager.map((n) => n.groupKey));
    for (const n of [0, 1, 2, 3, 4]) expect(keys.has(`g${n}`)).toBe(false);
    expect(keys.has('g1004')).toBe(true);
  });
});
