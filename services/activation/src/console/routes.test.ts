import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { config, memoryLogger, SECRET_1, tempDir } from '../test-support/fixtures.js';
import { escapeHtml, renderShell } from './html.js';
import { CONSOLE_CSP, consoleRoutes } from './routes.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function plugin(targets: string[]) {
  const app = Fastify();
  await app.register(consoleRoutes, { targets, version: '1.2.3' });
  closers.push(() => app.close());
  return app;
}

const script = readFileSync(new URL('./app.js', import.meta.url), 'utf8');

describe('console routes', () => {
  it('serves the page with the strict CSP, nosniff, no referrer and no caching', async () => {
    const app = await plugin(['shop']);
    const res = await app.inject({ method: 'GET', url: '/console' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain('<script src="/console/app.js" defer></script>');
    expect(res.body).toContain('<link rel="stylesheet" href="/console/app.css">');
    // No inline script or style: the CSP would block them, and none is needed.
    expect(res.body).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    expect((await app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(200);
  });

  it('serves app.js and app.css with their types, nosniff and the CSP', async () => {
    const app = await plugin([]);
    const js = await app.inject({ method: 'GET', url: '/console/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(js.body).toBe(script);
    const css = await app.inject({ method: 'GET', url: '/console/app.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    expect(css.body).toBe(readFileSync(new URL('./app.css', import.meta.url), 'utf8'));
  });

  it('escapes target names and every other server-rendered text', async () => {
    const evil = `<script>alert("x")</script>&'"`;
    const app = await plugin([evil, 'shop']);
    const res = await app.inject({ method: 'GET', url: '/console' });
    expect(res.body).not.toContain('<script>alert');
    expect(res.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;');
    expect(res.body).toContain('data-target="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;"');
    expect(res.body).toContain('data-target="shop"');
    expect(escapeHtml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f');
    expect(renderShell({ targets: [], version: '<v>' })).toContain('&lt;v&gt;');
    expect(renderShell({ targets: [], version: '1' })).toContain('No targets are configured.');
  });

  it('renders one section per target, in config order, with the active side first', async () => {
    const app = await plugin(['b', 'a']);
    const body = (await app.inject({ method: 'GET', url: '/console' })).body;
    expect(body.indexOf('data-target="b"')).toBeLessThan(body.indexOf('data-target="a"'));
    const section = body.slice(body.indexOf('data-target="b"'));
    // The active side comes right after the target's name, before anything else about it.
    expect(section.indexOf('data-part="active"')).toBeLessThan(section.indexOf('data-part="meta"'));
    expect(section.indexOf('data-part="active"')).toBeLessThan(section.indexOf('data-part="timeline"'));
  });

  it('leaves other routes alone: no console headers outside /console', async () => {
    const app = Fastify();
    await app.register(consoleRoutes, { targets: [], version: '1' });
    app.get('/other', () => ({ ok: true }));
    closers.push(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/other' });
    expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it('refuses to start without its static files, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
    closers.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const app = Fastify();
    closers.push(() => app.close());
    await expect(app.register(consoleRoutes, { targets: [], version: '1', assets: pathToFileURL(`${dir}/`) })).rejects.toThrow(/app\.js is missing .*npm run build/);
  });

  it('keeps the token in memory and builds the page without HTML strings', () => {
    // The operator token lives in a variable: never in web storage or a cookie.
    expect(script).not.toMatch(/localStorage|sessionStorage|document\.cookie|indexedDB/);
    // Data reaches the page as text nodes only, so a name or an output cannot inject markup.
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
  });

  it('is served by the activation service', async () => {
    const dir = await tempDir();
    closers.push(() => dir.remove());
    const app = await buildApp({
      config: config({ dataDir: dir.path, voters: [{ id: 'watchdog-1', secret: SECRET_1 }], targets: [{ name: 'shop', plan: [{ name: 'noop', kind: 'http', url: 'http://127.0.0.1:9/' }] }] }),
      logger: memoryLogger().logger,
    });
    closers.push(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/console' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('data-target="shop"');
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    // The API beside it keeps its own headers.
    expect((await app.inject({ method: 'GET', url: '/v1/active?target=shop' })).headers['content-security-policy']).toBeUndefined();
  });
});
