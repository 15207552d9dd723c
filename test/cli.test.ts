/**
 * The `vigil` command as an operator runs it: the built binary (packages/cli/bin/vigil.js, what
 * `npx vigil` runs) as a child process against real watchdog and activation processes. Every
 * command; `-o json` parses with nothing else on stdout; exit codes; `status --watch` follows a
 * live failover; failback --wait ends 0, or 5 while still running.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, SamplePrimary, startService, startStandby, waitFor, type ServiceProcess } from '@vigil/demo';
import { activationRequest, SECRET_1, SECRET_2, signed } from '../services/activation/src/test-support/fixtures.js';

const VIGIL = fileURLToPath(new URL('../packages/cli/bin/vigil.js', import.meta.url));
const TOKEN = 'operator-token-0123456789abcdefghijklmnop';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

let env: NodeJS.ProcessEnv = {};

/** Runs the built `vigil` with the test's servers; stdout is a pipe (no colours). */
function vigil(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VIGIL, ...args], { env: { ...process.env, ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** `vigil -o json …`: stdout must be one JSON document and nothing else. */
async function json<T = Record<string, unknown>>(args: string[], expectedCode: number, options: { env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  const run = await vigil(['-o', 'json', ...args], options);
  if (run.code !== expectedCode) throw new Error(`vigil ${args.join(' ')} exited ${run.code}, expected ${expectedCode}\nstdout: ${run.out}\nstderr: ${run.err}`);
  expect(run.out).not.toContain('\u001b[');
  return JSON.parse(run.out) as T;
}

let dir: string;
let activationUrl: string;
let watchdogUrl: string;
const services: ServiceProcess[] = [];
const shop = new SamplePrimary(0);
const billing = new SamplePrimary(0);
let standby: Awaited<ReturnType<typeof startStandby>>;
/** The standby's replication lag, as the data-loss guard of `reports` reads it. */
let lag: Server;
let configs: { activation: string; watchdog: string };

async function launch(name: 'activation' | 'watchdog', config: string, url: string): Promise<void> {
  const service = startService(name, config, { env: { VOTER_1: SECRET_1, OPERATOR_TOKEN: TOKEN } });
  services.push(service);
  await waitFor(`${name} to be ready`, async () => {
    if (service.child.exitCode !== null) throw new Error(`${name} exited: ${service.lines.join('\n')}`);
    return (await fetch(`${url}/readyz`)).ok;
  }, 30_000);
}

async function activeOf(target: string): Promise<ActiveSide> {
  return (await (await fetch(`${activationUrl}/v1/active?target=${target}`)).json()) as ActiveSide;
}

async function activations(target: string): Promise<Activation[]> {
  return ((await (await fetch(`${activationUrl}/v1/activations?target=${target}`)).json()) as { activations: Activation[] }).activations;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  await shop.setMode('up');
  await billing.setMode('up');
  standby = await startStandby(0);
  lag = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ lagSeconds: 0.5 })));
  const lagPort = await freePort();
  await new Promise<void>((resolve) => lag.listen(lagPort, '127.0.0.1', resolve));
  const activationPort = await freePort();
  const watchdogPort = await freePort();
  activationUrl = `http://127.0.0.1:${activationPort}`;
  watchdogUrl = `http://127.0.0.1:${watchdogPort}`;
  const standbyUrl = `http://127.0.0.1:${standby.port}`;
  configs = { activation: join(dir, 'activation.yaml'), watchdog: join(dir, 'watchdog.yaml') };
  writeFileSync(
    configs.activation,
    `server: { host: 127.0.0.1, port: ${activationPort} }
dataDir: ${dir}/activation
voters: [{ id: watchdog-1, secret: "\${VOTER_1}" }]
operators: [{ name: alice, token: "\${OPERATOR_TOKEN}" }]
targets:
  - name: shop
    rto: 60s
    plan: [{ name: enable-standby, kind: http, method: POST, url: "${standbyUrl}/admin/enable", timeout: 2s, retries: 1 }]
    failback:
      plan: [{ name: disable-standby, kind: http, method: POST, url: "${standbyUrl}/admin/disable", timeout: 2s }]
      primaryHealthy: { probe: { kind: http, url: "http://127.0.0.1:${shop.port}/health" }, for: 1s, interval: 200ms }
  - name: billing
    mode: approval
    plan: [{ name: enable-billing, kind: http, method: POST, url: "${standbyUrl}/admin/enable", timeout: 2s }]
    failback:
      plan: [{ name: disable-billing, kind: http, method: POST, url: "${standbyUrl}/admin/disable", timeout: 2s }]
      primaryHealthy: { probe: { kind: http, url: "http://127.0.0.1:${billing.port}/health" }, for: 20s, interval: 200ms }
  - name: reports
    mode: approval
    dataLoss: { kind: http, url: "http://127.0.0.1:${lagPort}/lag", maxDataLoss: 5s }
    plan: [{ name: enable-reports, kind: http, method: POST, url: "${standbyUrl}/admin/enable", timeout: 2s }]
`,
  );
  writeFileSync(
    configs.watchdog,
    `server: { host: 127.0.0.1, port: ${watchdogPort} }
dataDir: ${dir}/watchdog
voter: { id: watchdog-1, secret: "\${VOTER_1}" }
activation: { url: "${activationUrl}", timeout: 2s }
api: { token: "\${OPERATOR_TOKEN}" }
monitors:
  - { name: shop, url: "http://127.0.0.1:${shop.port}/health", interval: 500ms, timeout: 300ms, failureThreshold: 3, successThreshold: 2, activate: { target: shop } }
  - { name: billing, url: "http://127.0.0.1:${billing.port}/health", interval: 500ms, timeout: 300ms, failureThreshold: 3, successThreshold: 2, activate: { target: billing } }
`,
  );
  await launch('activation', configs.activation, activationUrl);
  await launch('watchdog', configs.watchdog, watchdogUrl);
  env = { VIGIL_SERVER: activationUrl, VIGIL_WATCHDOG: watchdogUrl, VIGIL_TOKEN: TOKEN, VOTER_1: SECRET_1, OPERATOR_TOKEN: TOKEN };
  await waitFor('both monitors up', async () => {
    const body = (await (await fetch(`${watchdogUrl}/v1/monitors`)).json()) as { monitors: { state: string }[] };
    return body.monitors.every((m) => m.state === 'up');
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await Promise.all([shop.close(), billing.close(), standby?.close(), new Promise((resolve) => lag?.close(resolve))]);
  rmSync(dir, { recursive: true, force: true });
});

describe('vigil against real services', () => {
  it('help lists every command and the exit codes; usage errors exit 2; a token argument is refused', async () => {
    const help = await vigil(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['status', 'monitors', 'history', 'show', 'approve', 'cancel', 'failback', 'pause', 'resume', 'drill', 'check-config']) expect(help.out).toContain(command);
    expect(help.out).toMatch(/Exit codes:[\s\S]*5 +still running/);
    expect((await vigil(['frobnicate'])).code).toBe(2);
    expect((await vigil(['approve', 'x'])).code).toBe(2); // --reason is required
    expect((await vigil(['pause', 'shop', '--reason', 'x'])).code).toBe(2); // --for is required
    const token = await vigil(['status', '--token', TOKEN]);
    expect(token.code).toBe(2);
    expect(token.err).toMatch(/--token is refused.*VIGIL_TOKEN.*--token-file/);
    expect(token.out).toBe('');
  });

  it('check-config: each file by its own service loader, then voters, targets, quorum and rto across files', async () => {
    // Valid files; `reports` has no monitor in the watchdog given: a warning, exit 3.
    const ok = await json<{ files: { path: string; kind: string; valid: boolean }[]; checks: { level: string; check: string; text: string }[] }>(['check-config', configs.activation, configs.watchdog], 3);
    expect(ok.files.map((f) => [f.kind, f.valid])).toEqual([['activation', true], ['watchdog', true]]);
    expect(ok.checks.filter((c) => c.level === 'error')).toEqual([]);
    expect(ok.checks.filter((c) => c.level === 'warning').map((c) => c.text)).toEqual(['target reports: quorum 1, but 0 of the watchdog files given vote for it']);
    expect(ok.checks.some((c) => c.check === 'voters' && c.level === 'ok')).toBe(true);
    expect(ok.checks.some((c) => c.check === 'rto' && c.level === 'ok' && c.text.includes('target shop'))).toBe(true);

    // Another secret for the same voter, and a monitor of a target activation does not define.
    const wrong = join(dir, 'watchdog-wrong.yaml');
    writeFileSync(wrong, `voter: { id: watchdog-1, secret: "${SECRET_2}" }\nmonitors:\n  - { name: other, url: "http://127.0.0.1:9/health", interval: 1s, timeout: 500ms, activate: { target: nowhere } }\n`);
    const bad = await vigil(['check-config', configs.activation, wrong]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/secret in .*watchdog-wrong\.yaml differs/);
    expect(bad.out).toMatch(/activates target "nowhere"/);
    expect(bad.out).not.toContain(SECRET_2);

    const invalid = join(dir, 'broken.yaml');
    writeFileSync(invalid, 'monitors:\n  - { name: x, interval: 1s, timeout: 2s, url: "http://127.0.0.1:9/" }\n');
    const broken = await json<{ files: { valid: boolean; problems: string[] }[] }>(['check-config', invalid], 1);
    expect(broken.files[0]!.problems.join('\n')).toMatch(/timeout.*shorter than.*interval/);
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, 'hello: world\n');
    expect((await vigil(['check-config', unknown])).code).toBe(1);
    expect((await vigil(['check-config', '--kind', 'watchdog', unknown])).code).toBe(1);
  });

  it('status and monitors while all is well: exit 0, json and yaml with data only, the server that answered', async () => {
    const status = await json<{ server: string; targets: { name: string; active: string; epoch: number; mode: string; monitors: unknown[] }[]; exitCode: number }>(['status', 'shop'], 0);
    expect(status.server).toBe(activationUrl);
    expect(status.targets).toHaveLength(1);
    expect(status.targets[0]).toMatchObject({ name: 'shop', active: 'primary', epoch: 0, mode: 'auto' });
    expect(status.targets[0]!.monitors).toHaveLength(1);
    const yaml = await vigil(['-o', 'yaml', 'status', 'shop']);
    expect(yaml.code).toBe(0);
    expect((parseYaml(yaml.out) as { targets: { name: string }[] }).targets[0]!.name).toBe('shop');
    // The data-loss guard is read now.
    const reports = await json<{ targets: { dataLoss?: { configured: boolean; lagMs?: number; maxMs?: number; withinLimit?: boolean } }[] }>(['status', 'reports'], 0);
    expect(reports.targets[0]!.dataLoss).toMatchObject({ configured: true, lagMs: 500, maxMs: 5_000, withinLimit: true });
    const table = await vigil(['status']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/data loss +lag 500ms of max 5s within limit/);
    expect(table.out).toMatch(/target shop.*active primary, epoch 0/);
    expect(table.out).toContain(`answered by ${activationUrl}`);
    console.log(`vigil status:\n${table.out}`);
    expect(table.out).not.toContain('\u001b[');

    // Servers are tried in turn: the first one is down.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const turn = await json<{ server: string }>(['--server', closed, '--server', activationUrl, 'status', 'shop'], 0);
    expect(turn.server).toBe(activationUrl);
    const none = await vigil(['--server', closed, 'status']);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no server answered/);

    const monitors = await json<{ watchdogs: { url: string; monitors: { name: string; state: string }[] }[] }>(['monitors'], 0);
    expect(monitors.watchdogs[0]!.monitors.map((m) => [m.name, m.state])).toEqual([['shop', 'up'], ['billing', 'up']]);
    const none2 = await vigil(['--watchdog', closed, 'monitors']);
    expect(none2.code).toBe(1);
  });

  it('pause and resume a monitor with a reason and a duration: status shows the pause (exit 3), resume clears it', async () => {
    const paused = await json<{ results: { ok: boolean }[] }>(['pause', 'billing', '--for', '10m', '--reason', 'database upgrade'], 0);
    expect(paused.results.every((r) => r.ok)).toBe(true);
    const status = await json<{ targets: { monitors: { paused?: { reason?: string; until?: string } }[] }[] }>(['status', 'billing'], 3);
    expect(status.targets[0]!.monitors[0]!.paused).toMatchObject({ reason: 'database upgrade' });
    expect(status.targets[0]!.monitors[0]!.paused!.until).toBeDefined();
    expect((await json(['resume', 'billing', '--reason', 'upgrade done'], 0))).toBeDefined();
    expect((await vigil(['status', 'billing'])).code).toBe(0);
    const unknown = await vigil(['pause', 'nosuch', '--for', '1m', '--reason', 'x']);
    expect(unknown.code).toBe(1);
    const noToken = await vigil(['resume', 'billing', '--reason', 'x'], { env: { VIGIL_TOKEN: '' } });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/VIGIL_TOKEN/);
  });

  it('drill: dry run of the plan, the detection bound from the watchdog config, each step against the rto', async () => {
    const drill = await json<{ report: { dryRun: boolean; steps: { name: string }[] }; detection: { worstMs?: number }; phases: { phase: string; totalMs: number }[]; rtoMs?: number; withinRto?: boolean }>(
      ['drill', 'shop', '--reason', 'quarterly rehearsal', '--watchdog-config', configs.watchdog],
      0,
    );
    expect(drill.report.dryRun).toBe(true);
    expect(drill.report.steps.map((s) => s.name)).toEqual(['enable-standby']);
    expect(drill.detection.worstMs).toBe(500 * 3 + 300);
    expect(drill.phases[0]!.phase).toMatch(/detection/);
    // Without the file: the watchdog's GET /v1/monitors tells the same bound (its own arithmetic).
    const fromApi = await json<{ detection: { worstMs?: number; bounds: { source: string }[]; unknown: string[] } }>(['drill', 'shop'], 0);
    expect(fromApi.detection).toMatchObject({ worstMs: 500 * 3 + 300, unknown: [] });
    expect(fromApi.detection.bounds.map((b) => b.source)).toEqual(['api']);
    expect(drill.rtoMs).toBe(60_000);
    expect(drill.withinRto).toBe(true);
    expect(standby.enableCalls()).toBe(0);
    const table = await vigil(['drill', 'shop', '--watchdog-config', configs.watchdog]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/within the RTO/);
    console.log(`vigil drill shop:\n${table.out}`);
    expect((await vigil(['drill', 'shop'], { env: { VIGIL_TOKEN: '' } })).code).toBe(1);
  });

  it('status --watch follows a live failover and stops at the switch; then status exits 3, history and show tell the story', async () => {
    const child = spawn(process.execPath, [VIGIL, '-o', 'json', 'status', 'shop', '--watch', '--until-switch'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor('the watch to print the status and follow', () => out.includes('"type":"status"') && err.includes('following'), 15_000);
    await shop.setMode('stopped');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code, err).toBe(0);
    const events = out.trim().split('\n').map((line) => JSON.parse(line) as { type: string; state?: ActiveSide; activation?: Activation });
    expect(events[0]!.type).toBe('status');
    const switched = events.find((e) => e.type === 'active' && e.state?.active === 'secondary');
    expect(switched?.state).toMatchObject({ target: 'shop', active: 'secondary', epoch: 1 });
    // The activation's progress came on its own stream before the switch.
    expect(events.some((e) => e.type === 'activation' && e.activation?.target === 'shop')).toBe(true);

    const status = await json<{ targets: { active: string; epoch: number }[]; findings: { text: string }[] }>(['status', 'shop'], 3);
    expect(status.targets[0]).toMatchObject({ active: 'secondary', epoch: 1 });
    const history = await json<{ activations: Activation[] }>(['history', 'shop', '--since', '1h'], 0);
    expect(history.activations).toHaveLength(1);
    const id = history.activations[0]!.id;
    expect((await json<{ activations: Activation[] }>(['history', '--since', '2000-01-01T00:00:00Z'], 0)).activations.length).toBeGreaterThanOrEqual(1);
    expect((await vigil(['history', '--since', 'yesterday'])).code).toBe(2);
    const show = await json<{ activation: Activation; timeline: { phase: string; text: string; durationMs?: number }[] }>(['show', id], 0);
    const phases = show.timeline.map((e) => e.phase);
    expect(phases).toContain('vote');
    // The probes the watchdog sent with its vote, kept by the activation service (the watchdog no longer shows the incident's probes).
    expect(show.timeline.filter((e) => e.phase === 'evidence').map((e) => e.text)).toContainEqual(expect.stringMatching(/^probe by watchdog-1: fail in /));
    expect(phases.indexOf('evidence')).toBeLessThan(phases.indexOf('vote'));
    expect(phases).toContain('decision');
    expect(phases.at(-1)).toBe('outcome');
    const step = show.timeline.find((e) => e.phase === 'step' && e.text.includes('enable-standby succeeded'));
    expect(step?.durationMs).toBeGreaterThanOrEqual(0);
    expect(phases.indexOf('vote')).toBeLessThan(phases.indexOf('step'));
    const table = await vigil(['show', id]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/step enable-standby succeeded in/);
    console.log(`vigil show:\n${table.out}\nvigil history:\n${(await vigil(['history'])).out}\nvigil monitors:\n${(await vigil(['monitors'])).out}\nvigil status (exit 3):\n${(await vigil(['status'])).out}`);
    expect((await vigil(['show', 'no-such-activation'])).code).toBe(1);
  });

  it('approval mode: status exits 4 while an activation waits; approve with a reason runs it and records the reason', async () => {
    await billing.setMode('stopped');
    const pending = await waitFor('billing to wait for an approval', async () => (await activations('billing')).find((a) => a.status === 'awaiting-approval'), 20_000);
    const status = await vigil(['status', 'billing']);
    expect(status.code).toBe(4);
    expect(status.out).toContain(`vigil approve ${pending.id}`);
    expect((await vigil(['show', pending.id])).code).toBe(4);
    expect((await vigil(['approve', pending.id, '--reason', 'confirmed billing is down'], { env: { VIGIL_TOKEN: 'wrong-token-0123456789abcdefghijklmnop' } })).code).toBe(1);
    const approved = await json<{ activation: Activation }>(['approve', pending.id, '--reason', 'confirmed billing is down'], 0);
    expect(approved.activation.id).toBe(pending.id);
    await waitFor('billing on its secondary', async () => (await activeOf('billing')).active === 'secondary', 15_000);
    const audit = ((await (await fetch(`${activationUrl}/v1/activations/${pending.id}/audit`)).json()) as { records: { event: string; operator?: string; comment?: string }[] }).records;
    expect(audit.find((r) => r.event === 'approved')).toMatchObject({ operator: 'alice', comment: 'confirmed billing is down' });
  });

  it('cancel an activation that waits, with a reason', async () => {
    const base = activationRequest();
    const { payload, headers } = signed(activationRequest({ target: 'reports', incident: { ...base.incident, id: `reports-${Date.now()}`, startedAt: new Date().toISOString() } }));
    const res = await fetch(`${activationUrl}/v1/activations`, { method: 'POST', headers, body: payload });
    expect(res.status).toBe(202);
    const created = (await res.json()) as Activation;
    await waitFor('reports to wait for an approval', async () => (await activations('reports')).find((a) => a.id === created.id && a.status === 'awaiting-approval'));
    const cancelled = await json<{ activation: Activation }>(['cancel', created.id, '--reason', 'false alarm: reports is fine'], 0);
    expect(cancelled.activation.status).toBe('cancelled');
    const history = await json<{ activations: Activation[] }>(['history', 'reports'], 0);
    expect(history.activations.at(-1)).toMatchObject({ id: created.id, status: 'cancelled' });
  });

  it('status --watch in a table until interrupted: Ctrl-C (SIGINT) ends it with exit 0', async () => {
    const child = spawn(process.execPath, [VIGIL, 'status', '--watch'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor('the watch to follow the streams', () => out.includes('following changes') && err.includes('/v1/activations/stream'), 15_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/target shop: active SECONDARY, epoch 1/);
    expect(out).not.toContain('\u001b[');
  });

  it('failback --wait: exit 5 while the primary has not proved healthy long enough (still running, not failed); exit 0 once done', async () => {
    await billing.setMode('up');
    // billing's primary must pass for 20 s: a 2 s wait ends while the failback still holds off.
    const waiting = await vigil(['-o', 'json', 'failback', 'billing', '--reason', 'billing is back', '--wait', '2s']);
    expect(waiting.code, waiting.err).toBe(5);
    const body = JSON.parse(waiting.out) as { activation: Activation; final: boolean };
    expect(body.final).toBe(false);
    expect(body.activation.kind).toBe('failback');
    expect(waiting.err).toMatch(/still .*it has not failed/);
    expect(waiting.err.replace('it has not failed', '')).not.toMatch(/fail(ed|ure)/i);
    await json(['cancel', body.activation.id, '--reason', 'test over'], 0);

    await shop.setMode('up');
    const done = await json<{ activation: Activation; final: boolean }>(['failback', 'shop', '--reason', 'shop is healthy again', '--wait', '60s'], 0);
    expect(done.activation).toMatchObject({ kind: 'failback', status: 'succeeded' });
    expect(done.final).toBe(true);
    expect(await activeOf('shop')).toMatchObject({ active: 'primary', epoch: 2 });
    expect((await vigil(['failback', 'nosuch', '--reason', 'x'])).code).toBe(1);
  });
});
