/**
 * The activation service's live console in a real browser (Debian's chromium driven by
 * playwright-core): real activation and watchdog processes, a primary the watchdog probes, a
 * standby the plans call, and a test server posing as a second watchdog whose data is old. The
 * page must follow a failover by itself, show buttons only to an operator who signed in, approve
 * end to end, fail back, and never show old monitor data as healthy. Screenshots at desktop and
 * phone widths go to test-artifacts/console/.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationRequest, SECRET_1, signed } from '../services/activation/src/test-support/fixtures.js';
import { ARTIFACTS, DESKTOP, findChromium, launchChromium, PHONE } from './support/browser.js';

const chromiumPath = findChromium();
const TOKEN = 'console-operator-token-0123456789abcdefghij';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Evaluates an expression in the page (written as text: this project's TypeScript has no DOM types). */
function inPage<T = unknown>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** 96 buckets of 15 minutes ending now: mostly up, one down, two in maintenance. */
function history(now: number) {
  const bucketMs = 900_000;
  const last = Math.floor(now / bucketMs) * bucketMs;
  const buckets = Array.from({ length: 96 }, (_, i) => {
    const start = new Date(last - (95 - i) * bucketMs).toISOString();
    if (i === 40) return { start, up: 400, down: 50, maintenance: 0, avgMs: 35 };
    if (i === 60 || i === 61) return { start, up: 0, down: 0, maintenance: 450, avgMs: 30 };
    return { start, up: 450, down: 0, maintenance: 0, avgMs: 20 + (i % 7) };
  });
  return { bucketMs, buckets };
}

/** A monitor as a watchdog's `GET /v1/monitors?history=24h` lists it. */
function monitor(name: string, fields: Record<string, unknown>, now: number) {
  return {
    name,
    kind: 'http',
    target: `http://10.0.0.9/${name}`,
    schedule: 'every 2s',
    state: 'up',
    consecutiveFailures: 0,
    consecutiveSuccesses: 40,
    lastResult: { status: 'pass', durationMs: 23, time: new Date(now).toISOString() },
    incident: null,
    skippedTicks: 0,
    inMaintenance: false,
    intervalMs: 2_000,
    lastProbeAt: new Date(now).toISOString(),
    history: history(now),
    ...fields,
  };
}

describe.skipIf(!chromiumPath)('the live console in a real browser', () => {
  let dir = '';
  let browser: Browser;
  let activation: ServiceProcess | undefined;
  let watchdog: ServiceProcess | undefined;
  let base = '';
  let watchdogUrl = '';
  const servers: Server[] = [];
  const primary = { healthy: true };
  const standbyCalls: string[] = [];
  const pageErrors: string[] = [];
  let oldWatchdogUrl = '';

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const active = (target: string) => get<ActiveSide>(`/v1/active?target=${target}`);

  async function open(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    // A CSP violation or a script error shows here: the page must have none.
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(message.text())) pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const res = await page.goto(`${base}/console`);
    expect(res?.headers()['content-security-policy']).toBe(CSP);
    await expect.poll(() => page.locator('#live').getAttribute('data-state'), { timeout: 10_000 }).toBe('live');
    return page;
  }

  const section = (page: Page, target: string) => page.locator(`article.target[data-target="${target}"]`);
  const activeText = (page: Page, target: string) => section(page, target).locator('[data-part="active"]').innerText();
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function signIn(page: Page) {
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#operator').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(false);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
    browser = await launchChromium(chromiumPath!);
    // The primary region's health endpoint, as the watchdog and the failback guard probe it.
    const primaryServer = await listen((_req, res) => res.writeHead(primary.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(primary.healthy ? '{"status":"pass"}' : '{"status":"fail"}'));
    // The standby's admin endpoint; enabling `shop` takes a while, so that the page shows its step running.
    const standby = await listen((req, res) => {
      standbyCalls.push(req.url ?? '');
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('enabled'), req.url === '/shop/enable' ? 1_500 : 0);
    });
    // A watchdog whose data is old: its last probe was 10 minutes ago for a monitor probed every 2 s.
    const oldWatchdog = await listen((req, res) => {
      const now = Date.now();
      const monitors = [
        monitor('payments-old', { lastProbeAt: new Date(now - 600_000).toISOString(), lastResult: { status: 'pass', durationMs: 20, time: new Date(now - 600_000).toISOString() } }, now),
        monitor('reports-paused', { paused: { since: new Date(now - 60_000).toISOString(), until: new Date(now + 1_740_000).toISOString(), reason: 'database upgrade', operator: 'alice' }, inMaintenance: true, lastProbeAt: new Date(now - 60_000).toISOString() }, now),
        monitor('search-maintenance', { inMaintenance: true }, now),
        monitor('api-fresh', { lastProbeAt: new Date(now - 500).toISOString() }, now),
      ];
      res.writeHead(req.url?.startsWith('/v1/monitors') ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify({ monitors }));
    });
    servers.push(primaryServer.server, standby.server, oldWatchdog.server);
    oldWatchdogUrl = oldWatchdog.url;

    const [activationPort, watchdogPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${activationPort}`;
    watchdogUrl = `http://127.0.0.1:${watchdogPort}`;
    writeFileSync(
      join(dir, 'activation.yaml'),
      `server: { host: 127.0.0.1, port: ${activationPort} }
dataDir: ${dir}/activation
voters: [{ id: watchdog-1, secret: "\${VOTER_SECRET}" }]
operators: [{ name: alice, token: "\${OPERATOR_TOKEN}" }]
console: { watchdogs: ["${watchdogUrl}", "${oldWatchdog.url}"] }
targets:
  - name: shop
    plan: [{ name: enable-standby, kind: http, method: POST, url: "${standby.url}/shop/enable", timeout: 5s }]
    failback:
      plan: [{ name: disable-standby, kind: http, method: POST, url: "${standby.url}/shop/disable" }]
      primaryHealthy: { probe: { kind: http, url: "${primaryServer.url}/health" }, for: 200ms, interval: 50ms }
  - name: billing
    mode: approval
    holdOff: { enabled: false }
    plan:
      - { name: promote-replica, kind: http, method: POST, url: "${standby.url}/billing/promote" }
      - { name: enable-billing, kind: http, method: POST, url: "${standby.url}/billing/enable", retries: 1 }
`,
    );
    writeFileSync(
      join(dir, 'watchdog.yaml'),
      `server: { host: 127.0.0.1, port: ${watchdogPort} }
dataDir: ${dir}/watchdog
voter: { id: watchdog-1, secret: "\${VOTER_SECRET}" }
activation: { urls: ["${base}"], timeout: 5s }
monitors:
  - { name: shop-primary, url: "${primaryServer.url}/health", interval: 500ms, timeout: 300ms, failureThreshold: 2, successThreshold: 1, activate: { target: shop } }
`,
    );
    const env = { VOTER_SECRET: SECRET_1, OPERATOR_TOKEN: TOKEN };
    activation = startService('activation', join(dir, 'activation.yaml'), { env });
    watchdog = startService('watchdog', join(dir, 'watchdog.yaml'), { env });
    for (const [name, service, url] of [['activation', activation, base], ['watchdog', watchdog, watchdogUrl]] as const) {
      await waitFor(`${name} to be ready`, async () => {
        if (service.child.exitCode !== null) throw new Error(`${name} exited: ${service.lines.join('\n')}`);
        return (await fetch(`${url}/readyz`)).ok;
      }, 30_000);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([activation?.stop('SIGKILL'), watchdog?.stop('SIGKILL')]);
    await Promise.all(servers.map(close));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows each target\'s active side and epoch first, and no action buttons without a token', async () => {
    for (const [name, options] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const context = await browser.newContext(options);
      const page = await open(context);
      await expect.poll(() => activeText(page, 'shop')).toMatch(/Active: PRIMARY epoch 0/i);
      await expect.poll(() => activeText(page, 'billing')).toMatch(/Active: PRIMARY epoch 0/i);
      // The first thing in each target's section, after its name, is the active side.
      const order = await inPage<string[]>(page, `[...document.querySelectorAll('article.target[data-target="shop"] :is(h3, [data-part])')].map((e) => e.getAttribute('data-part') ?? e.tagName)`);
      expect(order.slice(0, 2)).toEqual(['H3', 'active']);
      // Nothing half-rendered.
      expect(await page.locator('body').innerText()).not.toMatch(/\bnull\b|\bundefined\b|\bNaN\b/);
      // Signed out: the sign-in form, not the sign-out button.
      expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
      // Details from GET /v1/targets.
      await expect.poll(() => section(page, 'billing').locator('[data-part="meta"]').innerText()).toContain('mode: approval');
      await expect(page.getByRole('button', { name: /approve|cancel|fail back/i }).count()).resolves.toBe(0);
      expect(await page.locator('[data-part="actions"] button').count()).toBe(0);
      // Headings and the live indicator as text, not colour alone.
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Vigil console');
      expect(await page.locator('#live').innerText()).toContain('live');
      if (name === 'phone') expect(await inPage<number>(page, 'document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await shot(page, `${name}-read-only`);
      await context.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it('follows a failover by itself: active side, epoch, votes, the direct probe and the steps as they run, without a reload', async () => {
    const context = await browser.newContext(DESKTOP);
    const page = await open(context);
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await inPage(page, 'window.marker = 42');

    primary.healthy = false;
    // The plan's only step takes 1.5 s at the standby: the page shows it running, then done.
    await expect.poll(() => section(page, 'shop').locator('[data-part="timeline"]').innerText(), { timeout: 30_000, interval: 100 }).toMatch(/Step enable-standby \(http\): running/);
    await expect.poll(() => activeText(page, 'shop'), { timeout: 20_000 }).toMatch(/SECONDARY epoch 1/i);
    const timeline = await section(page, 'shop').locator('[data-part="timeline"]').innerText();
    expect(timeline).toMatch(/Vote from watchdog-1/);
    expect(timeline).toMatch(/Decision: fail over/);
    expect(timeline).toMatch(/Primary probed directly: fail/);
    expect(timeline).toMatch(/Step enable-standby \(http\): succeeded/);
    await expect.poll(() => section(page, 'shop').locator('[data-part="timeline"]').innerText()).toMatch(/Outcome: succeeded/);
    expect(await page.locator('body').innerText()).not.toMatch(/\bnull\b|\bundefined\b|\bNaN\b/);
    // The same page, never reloaded.
    expect(await inPage<number>(page, 'window.marker')).toBe(42);
    expect(navigations).toEqual([]);
    expect((await active('shop')).active).toBe('secondary');
    await shot(page, 'desktop-after-failover');
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  it('approves end to end: sign in, the plan and the data-loss reading, a confirmation naming the target, the reason in the audit', async () => {
    const context = await browser.newContext(PHONE);
    const page = await open(context);
    await signIn(page);
    // The token is in the page's memory only.
    expect(await inPage<unknown[]>(page, '[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);

    const incident = activationRequest().incident;
    const { payload, headers } = signed(activationRequest({ target: 'billing', incident: { ...incident, id: `billing-${Date.now()}`, startedAt: new Date().toISOString() } }));
    const voted = await fetch(`${base}/v1/activations`, { method: 'POST', headers, body: payload });
    expect(voted.status).toBe(202);
    const created = (await voted.json()) as Activation;
    expect(created.status).toBe('awaiting-approval');

    // The button appears by itself once the activation waits for an approval.
    const approve = page.getByRole('button', { name: 'Approve failover of billing' });
    await approve.waitFor({ timeout: 15_000 });
    await expect.poll(() => section(page, 'billing').locator('[data-part="timeline"]').innerText()).toMatch(/Waiting for an operator/);
    // The plan and the data-loss reading beside the buttons, before any click.
    await expect.poll(() => section(page, 'billing').locator('[data-part="actions"]').innerText()).toMatch(/Plan: promote-replica → enable-billing · worst case .* · data loss: no data-loss guard is configured for this target/);
    await approve.click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor();
    // The plan and the data-loss reading, before the click.
    const body = dialog.locator('#confirm-body');
    await expect.poll(() => body.innerText()).toMatch(/promote-replica \(http\)[\s\S]*enable-billing \(http\) · timeout .* · 2 attempts/);
    await expect.poll(() => body.innerText()).toMatch(/no data-loss guard is configured for this target/);
    expect(await dialog.locator('#confirm-title').innerText()).toContain('billing');
    const confirm = dialog.getByRole('button', { name: 'Approve billing' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Reason').fill('primary DB confirmed lost by the on-call DBA');
    await dialog.getByLabel(/Type the target's name/).fill('billin');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the target's name/).fill('billing');
    expect(await confirm.isDisabled()).toBe(false);
    await shot(page, 'phone-approve-dialog');
    await confirm.click();

    await expect.poll(() => activeText(page, 'billing'), { timeout: 20_000 }).toMatch(/SECONDARY epoch 1/i);
    await expect.poll(() => section(page, 'billing').locator('[data-part="timeline"]').innerText()).toMatch(/Approved by alice reason: primary DB confirmed lost by the on-call DBA/);
    await expect.poll(() => section(page, 'billing').locator('[data-part="timeline"]').innerText()).toMatch(/Step enable-billing \(http\): succeeded/);
    expect(standbyCalls).toEqual(expect.arrayContaining(['/billing/promote', '/billing/enable']));
    const audit = await get<{ records: { event: string; operator?: string; comment?: string }[] }>(`/v1/activations/${created.id}/audit`);
    expect(audit.records).toContainEqual(expect.objectContaining({ event: 'approved', operator: 'alice', comment: 'primary DB confirmed lost by the on-call DBA' }));
    expect(await inPage<number>(page, 'document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'phone-after-approve');
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  it('fails back from the page once the primary is healthy again', async () => {
    primary.healthy = true;
    const context = await browser.newContext(DESKTOP);
    const page = await open(context);
    await expect.poll(() => activeText(page, 'shop')).toMatch(/SECONDARY/i);
    expect(await page.getByRole('button', { name: /fail back/i }).count()).toBe(0);
    await signIn(page);
    await page.getByRole('button', { name: 'Fail back shop to the primary' }).click();
    const dialog = page.locator('#confirm');
    await expect.poll(() => dialog.locator('#confirm-body').innerText()).toMatch(/disable-standby \(http\)/);
    await dialog.getByLabel('Reason').fill('primary region restored');
    await dialog.getByLabel(/Type the target's name/).fill('shop');
    await shot(page, 'desktop-failback-dialog');
    await dialog.getByRole('button', { name: 'Fail back shop' }).click();
    await expect.poll(() => activeText(page, 'shop'), { timeout: 20_000 }).toMatch(/PRIMARY epoch 2/i);
    await expect.poll(() => section(page, 'shop').locator('[data-part="timeline"]').innerText()).toMatch(/Failback requested by alice reason: primary region restored[\s\S]*Outcome: succeeded/);
    await shot(page, 'desktop-after-failback');
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  it('shows monitors with 24 h bars and response times; paused and maintenance apart; old data grey with its age, never green', async () => {
    const context = await browser.newContext(DESKTOP);
    const page = await open(context);
    const monitorEl = (name: string) => page.locator(`article.monitor[data-monitor="${name}"]`);
    const status = (name: string) => monitorEl(name).getAttribute('data-status');
    await expect.poll(() => status('payments-old'), { timeout: 10_000 }).toBe('stale');
    expect(await monitorEl('payments-old').innerText()).toMatch(/stale: last probe 10 min( \d+ s)? ago \(expected every 2\.0 s\)/);
    expect(await status('reports-paused')).toBe('paused');
    expect(await monitorEl('reports-paused').innerText()).toMatch(/paused until .*: database upgrade \(alice\)/);
    expect(await status('search-maintenance')).toBe('maintenance');
    expect(await status('api-fresh')).toBe('up');
    expect(await monitorEl('api-fresh').innerText()).toMatch(/response 23 ms last · 2\d ms avg 24 h · 99\.\d+% up over 24 h/);
    expect(await monitorEl('api-fresh').locator('.bar').count()).toBe(96);
    expect(await monitorEl('api-fresh').locator('.bar.down').count()).toBe(1);
    expect(await monitorEl('api-fresh').locator('.bar.maintenance').count()).toBe(2);
    // Grey, not green: the stale monitor's badge colour is the unknown grey, and says so in words.
    const colour = (name: string) => inPage<string>(page, `getComputedStyle(document.querySelector('article.monitor[data-monitor="${name}"] .badge')).backgroundColor`);
    expect(await colour('payments-old')).toBe('rgb(138, 144, 153)');
    expect(await colour('api-fresh')).toBe('rgb(31, 122, 58)');
    expect(await colour('reports-paused')).not.toBe(await colour('search-maintenance'));
    // The real watchdog's monitor, fresh.
    await expect.poll(() => status('shop-primary'), { timeout: 10_000 }).toBe('up');
    await shot(page, 'desktop-monitors');

    // The watchdog stops answering: its monitor turns grey with the age of its data, on the same page.
    await watchdog?.stop('SIGKILL');
    await expect.poll(() => status('shop-primary'), { timeout: 15_000 }).toBe('stale');
    expect(await monitorEl('shop-primary').innerText()).toMatch(/stale: watchdog unreachable, last probe .* ago/);
    expect(await page.locator(`section.watchdog[data-watchdog="${watchdogUrl}"]`).innerText()).toMatch(/Unreachable/);
    const phone = await browser.newContext(PHONE);
    const phonePage = await open(phone);
    await expect.poll(() => phonePage.locator(`article.monitor[data-monitor="payments-old"]`).getAttribute('data-status')).toBe('stale');
    await shot(phonePage, 'phone-monitors');
    await phone.close();
    await context.close();
    expect(pageErrors).toEqual([]);
    expect(oldWatchdogUrl).not.toBe('');
  });

  it('says "reconnecting" with its age while the service is down, and is live again after', async () => {
    const context = await browser.newContext(DESKTOP);
    const page = await open(context);
    await activation?.stop('SIGKILL');
    await expect.poll(() => page.locator('#live').getAttribute('data-state'), { timeout: 10_000 }).toBe('reconnecting');
    await expect.poll(() => page.locator('#live').innerText(), { timeout: 5_000 }).toMatch(/reconnecting \(\d+(\.\d)? s\)/);
    expect(await page.locator('#live').innerText()).toContain('may be out of date');
    // The active side, greyed while it may be old, keeps its text.
    expect(await inPage<string>(page, `getComputedStyle(document.querySelector('article.target[data-target="shop"] .active-side .badge')).backgroundColor`)).toBe('rgb(138, 144, 153)');
    expect(await activeText(page, 'shop')).toMatch(/PRIMARY epoch 2/i);
    // Monitor data read through the service that is gone is no longer vouched for: grey, not green.
    await expect.poll(() => page.locator('article.monitor[data-monitor="api-fresh"]').getAttribute('data-status'), { timeout: 5_000 }).toBe('stale');
    await shot(page, 'desktop-reconnecting');
    activation = startService('activation', join(dir, 'activation.yaml'), { env: { VOTER_SECRET: SECRET_1, OPERATOR_TOKEN: TOKEN } });
    await expect.poll(() => page.locator('#live').getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    await expect.poll(() => activeText(page, 'shop')).toMatch(/PRIMARY epoch 2/i);
    await context.close();
  });
});
