import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecret } from '@vigil/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { namespacesUnavailable, Topology, type Process } from './support/netns.js';

/**
 * The watchdog in the secondary region's host, the primary's health endpoint on another host, a
 * control target on a third; the activation service (a recorder of the requests it gets) beside the
 * watchdog. Faults are nft rules inside the namespaces: packets dropped, so probes time out.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const node = join(root, 'node_modules/.bin/node');
const unavailable = namespacesUnavailable();

// One small server for every role: `health` answers health+json pass; `recorder` prints every POST as a JSON line and answers 202.
const SERVER = `
import { createServer } from 'node:http';
const [host, port, mode] = process.argv.slice(2);
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (mode === 'recorder' && req.method === 'POST') {
      console.log(JSON.stringify({ path: req.url, webhookId: req.headers['webhook-id'], body: Buffer.concat(chunks).toString('utf8') }));
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/health+json' }).end('{"status":"pass"}');
  });
}).listen(Number(port), host, () => console.log(JSON.stringify({ listening: port })));
`;

const RECORDER_PORT = 9083;
const DROP_ALL = `table inet vigil {
  chain input { type filter hook input priority 0; policy drop; }
  chain output { type filter hook output priority 0; policy drop; }
}`;
/** Everything but loopback: the host is cut off from the network, its local services still answer. */
const CUT_OFF = `table inet vigil {
  chain input { type filter hook input priority 0; iifname != "lo" drop; }
  chain output { type filter hook output priority 0; oifname != "lo" drop; }
}`;
const LOSSY = `table inet vigil {
  chain input { type filter hook input priority 0; numgen random mod 100 < 20 drop; }
  chain output { type filter hook output priority 0; numgen random mod 100 < 20 drop; }
}`;

interface Running {
  topology: Topology;
  watchdog: Process;
  recorder: Process;
  processes: Process[];
}

let dir: string;
let current: Running | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-netns-'));
  await writeFile(join(dir, 'server.mjs'), SERVER);
});
afterEach(async () => {
  const running = current;
  current = undefined;
  if (!running) return;
  await Promise.allSettled(running.processes.map((p) => p.stop()));
  running.topology.destroy();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(name: string): Promise<Running> {
  const topology = Topology.create();
  const processes: Process[] = [];
  current = { topology, processes } as unknown as Running;
  const server = (host: ReturnType<typeof topology.secondary.spawn>) => (processes.push(host), host);
  const script = join(dir, 'server.mjs');
  const target = server(topology.primary.spawn(node, [script, Topology.PRIMARY, '8081', 'health']));
  const third = server(topology.third.spawn(node, [script, Topology.THIRD, '8080', 'health']));
  const recorder = server(topology.secondary.spawn(node, [script, '127.0.0.1', String(RECORDER_PORT), 'recorder']));
  for (const p of [target, third, recorder]) await p.waitFor('a server to listen', () => p.lines.some((l) => l.includes('listening')), 15_000);

  const secret = generateSecret();
  const config = join(dir, `${name}.yaml`);
  // The default policy (timeout 1s, 3 failures, 2 successes) at a 2s interval.
  await writeFile(
    config,
    `server: { host: 127.0.0.1, port: 8082 }
dataDir: ${join(dir, name, 'data')}
voter: { id: watchdog-netns, secret: "${secret}" }
activation: { url: "http://127.0.0.1:${RECORDER_PORT}", timeout: 2s, retries: 1 }
alerts:
  webhooks: [{ name: pager, url: "http://127.0.0.1:${RECORDER_PORT}/alerts", secret: "${secret}" }]
controlTargets:
  - { name: third-site, url: "http://${Topology.THIRD}:8080/", timeout: 1s }
  - { name: activation, url: "http://127.0.0.1:${RECORDER_PORT}/livez", timeout: 1s }
monitors:
  - { name: primary, url: "http://${Topology.PRIMARY}:8081/health", interval: 2s, activate: { target: primary } }
`,
  );
  const watchdog = server(topology.secondary.spawn(node, [join(root, 'services/watchdog/dist/main.js'), '--config', config]));
  const running = { topology, watchdog, recorder, processes };
  current = running;
  await watchdog.waitFor('the monitor to be up', () => stateChanges(running).includes('up'), 20_000);
  return running;
}

const stateChanges = (r: Running) => r.watchdog.json<{ msg?: string; to?: string }>().flatMap((l) => (l.msg === 'monitor state changed' && l.to ? [l.to] : []));
const posts = (r: Running, path: string) => r.recorder.json<{ path?: string; body: string }>().filter((l) => l.path === path);
const alerts = (r: Running) => posts(r, '/alerts').map((l) => JSON.parse(l.body) as { status: string; severity: string; summary: string; labels: Record<string, string> });

describe.skipIf(unavailable !== undefined)('watchdog across network namespaces', () => {
  it('fails over when the primary host is blackholed (probes time out)', async () => {
    const r = await start('blackhole');
    r.topology.primary.nft(DROP_ALL);
    await r.recorder.waitFor('the activation request', () => posts(r, '/v1/activations').length > 0, 30_000);
    const [request] = posts(r, '/v1/activations');
    expect(JSON.parse(request!.body)).toMatchObject({ target: 'primary', incident: { monitor: 'primary', consecutiveFailures: 3 } });
    await r.recorder.waitFor('the firing alert', () => alerts(r).some((a) => a.status === 'firing'), 10_000);
    expect(alerts(r).find((a) => a.status === 'firing')).toMatchObject({ severity: 'critical', labels: { monitor: 'primary' } });
    expect(alerts(r).some((a) => a.labels.alertname === 'WatchdogIsolated')).toBe(false);
    expect(stateChanges(r)).toContain('down');
  });

  it('when its own host is cut off, reports inconclusive results and an isolation alert, and never activates', async () => {
    const r = await start('cut-off');
    r.topology.secondary.nft(CUT_OFF);
    await r.recorder.waitFor('the isolation alert', () => alerts(r).some((a) => a.labels.alertname === 'WatchdogIsolated'), 30_000);
    expect(stateChanges(r)).toContain('inconclusive');
    // Well past the failure threshold: at least four more cycles.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(posts(r, '/v1/activations')).toEqual([]);
    expect(alerts(r).filter((a) => a.labels.alertname !== 'WatchdogIsolated')).toEqual([]);
    expect(stateChanges(r)).not.toContain('down');
  });

  it('does not fail over on 20% random packet loss on the primary link with the default policy (40s soak)', async () => {
    const r = await start('lossy');
    r.topology.primary.nft(LOSSY);
    await new Promise((resolve) => setTimeout(resolve, 40_000));
    const failed = r.watchdog.json<{ msg?: string }>().filter((l) => l.msg === 'probe failed').length;
    console.log(`20% loss soak: ${failed} failed probes counted, states ${stateChanges(r).join(' → ')}`);
    expect(posts(r, '/v1/activations')).toEqual([]);
    expect(stateChanges(r)).not.toContain('down');
  });
});
