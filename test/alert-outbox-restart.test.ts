import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { generateSecret } from '@vigil/core';
import { waitFor } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A process that sends alerts through the built alerting package (durable outbox in its data
 * directory) is killed with SIGKILL while the receivers fail, and started again: every pending
 * notification must arrive, and none twice.
 */

const TRIALS = 5;
const ALERTS_PER_TRIAL = 4;
const RECEIVERS = ['hook-a', 'hook-b'] as const;

const packageUrl = (name: string) => pathToFileURL(join(import.meta.dirname, '..', 'packages', name, 'dist', 'index.js')).href;

// Runs on the built packages, as the services do. argv: dataDir, config JSON, alert ids JSON.
const CHILD = `
import { createAlerting, AlertingConfig } from ${JSON.stringify(packageUrl('alerting'))};
import { createLogger, parseConfigValue } from ${JSON.stringify(packageUrl('core'))};
const [dataDir, configJson, idsJson] = process.argv.slice(2);
const config = parseConfigValue(AlertingConfig, JSON.parse(configJson), 'child');
const alerting = createAlerting({ config, dataDir, logger: createLogger({ service: 'outbox-child', level: 'warn' }) });
setInterval(() => {}, 60_000); // a service's server would keep it alive
for (const id of JSON.parse(idsJson)) {
  await alerting.send({ id, dedupKey: id.split(':')[0], monitor: 'primary', severity: 'critical', status: 'firing',
    summary: 'primary is down', startsAt: new Date().toISOString(), labels: {}, annotations: {} });
}
console.log('queued');
process.on('SIGTERM', () => void alerting.close().then(() => process.exit(0)));
`;

interface Delivery {
  receiver: string;
  id: string;
  status: number;
}

/** The receivers' side: answers 503 while failing, 200 otherwise; records every request. */
class Receivers {
  failing = true;
  readonly seen: Delivery[] = [];
  private readonly server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = this.failing ? 503 : 200;
      this.seen.push({ receiver: (req.url ?? '').slice(1), id: String(req.headers['webhook-id']), status });
      res.writeHead(status).end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  delivered(): Delivery[] {
    return this.seen.filter((d) => d.status === 200);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Sender {
  child: ChildProcess;
  /** Every output line; "queued" once all its alerts are durable in the outbox. */
  output: string[];
}

function startSender(script: string, dataDir: string, config: unknown, ids: string[]): Sender {
  const child = spawn(process.execPath, [script, dataDir, JSON.stringify(config), JSON.stringify(ids)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => output.push(line));
  return { child, output };
}

/** Resolves once the sender has written its alerts; fails with its output if it exits first. */
async function queued(sender: Sender, what: string): Promise<void> {
  await waitFor(what, () => {
    if (sender.child.exitCode !== null) throw new Error(`the sender exited: ${sender.output.join('\n')}`);
    return sender.output.includes('queued') || undefined;
  }, 30_000);
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

describe('alert outbox across SIGKILL', () => {
  const receivers = new Receivers();
  let base = '';
  let workDir = '';
  let script = '';

  beforeAll(async () => {
    base = await receivers.start();
    workDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-restart-'));
    script = join(workDir, 'child.mjs');
    writeFileSync(script, CHILD);
  });
  afterAll(async () => {
    await receivers.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it(`delivers every pending notification exactly once after a restart, over ${TRIALS} trials`, async () => {
    const config = {
      receivers: RECEIVERS.map((name) => ({ type: 'webhook', name, url: `${base}/${name}`, secret: generateSecret(), timeout: '2s' })),
      delivery: { initialBackoff: '50ms', maxBackoff: '300ms', maxAttempts: 1000 },
    };

    for (let trial = 1; trial <= TRIALS; trial++) {
      receivers.failing = true;
      receivers.seen.length = 0;
      const dataDir = join(workDir, `trial-${trial}`);
      const ids = Array.from({ length: ALERTS_PER_TRIAL }, (_, i) => `t${trial}-inc${i}:firing`);

      const first = startSender(script, dataDir, config, ids);
      const children = [first.child];
      try {
        await queued(first, `trial ${trial}: the alerts to be written`);
        // Killed while retrying: every notification has failed at least once, some several times.
        await waitFor(`trial ${trial}: a failed attempt per notification`, () => new Set(receivers.seen.map((d) => `${d.receiver}/${d.id}`)).size === ids.length * RECEIVERS.length || undefined, 30_000);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 300)));
        await kill(first.child, 'SIGKILL');
        expect(receivers.delivered()).toEqual([]);

        receivers.failing = false;
        // The restarted sender also sends two of its alerts again, as a sender replaying its own state would.
        const second = startSender(script, dataDir, config, ids.slice(0, 2));
        children.push(second.child);
        const expected = ids.flatMap((id) => RECEIVERS.map((receiver) => `${receiver}/${id}`)).sort();
        await waitFor(
          `trial ${trial}: every notification delivered`,
          () => new Set(receivers.delivered().map((d) => `${d.receiver}/${d.id}`)).size === expected.length || undefined,
          30_000,
        );
        await queued(second, `trial ${trial}: the restarted sender to be ready`);
        // Time for any duplicate to show up.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const delivered = receivers.delivered().map((d) => `${d.receiver}/${d.id}`).sort();
        expect(delivered, `trial ${trial}: each notification delivered once`).toEqual(expected);

        await kill(second.child, 'SIGTERM');
        const stored = JSON.parse(readFileSync(join(dataDir, 'alert-outbox.json'), 'utf8')) as { pending: unknown[] };
        expect(stored.pending).toEqual([]);
      } finally {
        for (const child of children) await kill(child, 'SIGKILL');
      }
    }
  });
});
