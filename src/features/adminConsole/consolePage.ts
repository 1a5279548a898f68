import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../../platform/config.js';
import { servedOverTls } from '../../platform/http/http.js';

/**
 * The admin console's files, read from `src/features/adminConsole/console/`. The path is the same
 * from this module in `src/` (tsx) and in `dist/` (the build), both one level under the repository
 * root; the Dockerfile copies the folder next to `dist/`.
 */
const CONSOLE_DIR = fileURLToPath(new URL('../../../src/features/adminConsole/console/', import.meta.url));

/** What the page loads, by the name it is served under: its own files and one stylesheet from `@picocss/pico`. */
const ASSETS: Record<string, { file: string; type: string }> = {
  'pico.min.css': { file: createRequire(import.meta.url).resolve('@picocss/pico/css/pico.min.css'), type: 'text/css; charset=utf-8' },
  'console.css': { file: `${CONSOLE_DIR}console.css`, type: 'text/css; charset=utf-8' },
  'app.js': { file: `${CONSOLE_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
  'api.js': { file: `${CONSOLE_DIR}api.js`, type: 'text/javascript; charset=utf-8' },
  'dom.js': { file: `${CONSOLE_DIR}dom.js`, type: 'text/javascript; charset=utf-8' },
  'detail.js': { file: `${CONSOLE_DIR}detail.js`, type: 'text/javascript; charset=utf-8' },
  'paymentView.js': { file: `${CONSOLE_DIR}paymentView.js`, type: 'text/javascript; charset=utf-8' },
  'queue.js': { file: `${CONSOLE_DIR}queue.js`, type: 'text/javascript; charset=utf-8' },
  'wallet.js': { file: `${CONSOLE_DIR}wallet.js`, type: 'text/javascript; charset=utf-8' },
};

/** An asset's bytes, read once at start; a missing file stops the start with where it was looked for. */
function readAsset(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`admin console: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); the console's files belong in ${CONSOLE_DIR}`, {
      cause: err,
    });
  }
}

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's markup: empty containers that app.js fills; no inline script or style, no event attributes. */
function pageHtml(base: string): string {
  const at = (name: string) => escapeAttr(`${base}/admin/${name}`);
  return `<!DOCTYPE html>
<html lang="en" data-theme="light">
  <head>
    <meta charset="UTF-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Escrow admin console</title>
    <link rel="stylesheet" href="${at('pico.min.css')}">
    <link rel="stylesheet" href="${at('console.css')}">
    <script type="module" src="${at('app.js')}"></script>
  </head>
  <body>
    <header class="container">
      <nav>
        <ul><li><strong>Escrow admin console</strong></li></ul>
        <ul>
          <li id="who"></li>
          <li><button id="sign-out" class="secondary outline" hidden>Sign out</button></li>
        </ul>
      </nav>
    </header>
    <main class="container">
      <section id="sign-in" hidden>
        <form id="sign-in-form" autocomplete="off">
          <label for="token">Admin token (JWT)</label>
          <input type="password" id="token" name="token" autocomplete="off" spellcheck="false" placeholder="eyJ…" required>
          <small>Kept in this tab only (sessionStorage) and sent as a Bearer token to this service.</small>
          <button type="submit">Sign in</button>
        </form>
      </section>
      <p id="notice" role="alert" hidden></p>
      <section id="queue" hidden></section>
      <section id="detail" hidden></section>
    </main>
  </body>
</html>
`;
}

/**
 * The browser admin console at `/admin/` (mounted under `/api/payment`): the page and its assets,
 * as middleware, not API routes (not in the OpenAPI document; everything the page does goes through
 * the documented API with the admin's token). Anything else under `/admin` (the queue API) passes
 * on. The page gets its own CSP: scripts, styles and requests to this server only.
 */
export function consolePage(deps: { config: Pick<Config, 'publicBaseUrl'> }): RequestHandler {
  const files = new Map(Object.entries(ASSETS).map(([name, a]) => [`/${name}`, { body: readAsset(a.file), type: a.type }]));
  const csp = helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      // Pico draws its icons as data: SVGs.
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
      upgradeInsecureRequests: servedOverTls(deps.config) ? [] : null,
    },
  });
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const asset = files.get(req.path);
    if (req.path !== '/' && !asset) return next();
    csp(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (asset) {
        res.set('Cache-Control', 'no-cache').type(asset.type).send(asset.body);
        return;
      }
      // `/admin` → `/admin/`: one address for the page.
      if (!req.originalUrl.split('?')[0]!.endsWith('/')) {
        res.redirect(301, `${req.baseUrl}/`);
        return;
      }
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(pageHtml(req.baseUrl.replace(/\/admin$/, '')));
    });
  };
}
