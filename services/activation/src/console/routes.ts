import { readFileSync } from 'node:fs';
import type { FastifyPluginCallback, FastifyReply } from 'fastify';
import { renderShell } from './html.js';

/** The console's Content-Security-Policy: only its own script, style and API; no inline code, no framing. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface ConsoleOptions {
  /** The configured targets' names, rendered into the page. */
  targets: readonly string[];
  version: string;
  /** Where app.js and app.css are; by default beside this module (src/console, or dist/console after the build's copy step). */
  assets?: URL;
}

function readAsset(dir: URL, name: string): Buffer {
  try {
    return readFileSync(new URL(name, dir));
  } catch (error) {
    throw new Error(`the console's ${name} is missing from ${dir.pathname} (the build copies it there: npm run build)`, { cause: error });
  }
}

/**
 * `GET /console`: the live console, an HTML shell rendered here plus one script and one style
 * sheet (no build step, no framework). The page reads the public APIs and follows the event
 * streams; operator actions send the token the operator typed, held in the page's memory only.
 */
export const consoleRoutes: FastifyPluginCallback<ConsoleOptions> = (app, options, done) => {
  const dir = options.assets ?? new URL('./', import.meta.url);
  // Read once at start: a missing file fails the start, not the first visit.
  let script: Buffer;
  let style: Buffer;
  try {
    script = readAsset(dir, 'app.js');
    style = readAsset(dir, 'app.css');
  } catch (error) {
    done(error as Error);
    return;
  }
  const html = renderShell({ targets: options.targets, version: options.version });

  // Scoped to this plugin's routes.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
  });

  const page = async (_request: unknown, reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  app.get('/console', page);
  app.get('/console/', page);
  // Revalidated on every load (no-cache), so that a new version is picked up at once after an upgrade.
  app.get('/console/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script));
  app.get('/console/app.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(style));
  done();
};
