import helmet from 'helmet';
import express, { Router, type RequestHandler } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Config } from '../../platform/config.js';
import { servedOverTls } from '../../platform/http/http.js';

/** The files of swagger-ui-dist the page uses; nothing else of the package is served. */
const ASSETS = new Set(['/swagger-ui.css', '/index.css', '/swagger-ui-bundle.js', '/favicon-32x32.png', '/favicon-16x16.png']);

/**
 * Swagger UI's start-up code, served as a file (not inline) so the page works under a CSP of
 * `script-src 'self'` such as helmet's default. The document's URL is derived from this script's
 * own, so the page works wherever the API is mounted.
 */
const INIT_JS = `(function () {
  var script = document.currentScript;
  window.addEventListener('load', function () {
    window.ui = SwaggerUIBundle({
      url: new URL('../openapi.json', script.src).href,
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
    });
  });
})();
`;

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function docsPage(base: string): string {
  const at = (file: string) => escapeAttr(`${base}/docs/${file}`);
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Escrow payment service — API</title>
    <link rel="stylesheet" type="text/css" href="${at('swagger-ui.css')}">
    <link rel="stylesheet" type="text/css" href="${at('index.css')}">
    <link rel="icon" type="image/png" href="${at('favicon-32x32.png')}" sizes="32x32">
    <link rel="icon" type="image/png" href="${at('favicon-16x16.png')}" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${at('swagger-ui-bundle.js')}" charset="UTF-8"></script>
    <script src="${at('init.js')}" charset="UTF-8"></script>
  </body>
</html>
`;
}

/**
 * `GET /openapi.json`: the contract, generated once when the app is built. `GET /docs`: a page
 * rendering it, whose assets come from the swagger-ui-dist package on this same server.
 */
/** What the docs routes use: the contract as the app composed it. */
export interface OpenapiRouteDeps {
  config: Pick<Config, 'publicBaseUrl'>;
  /** The OpenAPI document, serialised once by the app after every module is composed. */
  document: () => string;
}

export function openapiRoutes(deps: OpenapiRouteDeps): Router {
  const router = Router();
  const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const files = express.static(swaggerUiDir, { index: false, fallthrough: true, maxAge: '1h' });

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(deps.document());
  });
  // The API answers with `default-src 'none'`; the docs page needs its own scripts and styles.
  // `upgrade-insecure-requests` only behind TLS: over plain HTTP it would rewrite the page's own
  // assets to https and leave it blank on any host but localhost.
  const pageCsp = helmet.contentSecurityPolicy({ directives: { upgradeInsecureRequests: servedOverTls(deps.config) ? [] : null } });
  router.use('/docs', pageCsp);
  router.get('/docs', (req, res) => {
    res.type('html').send(docsPage(req.baseUrl));
  });
  // Assets are middleware, not routes: they are not part of the API and not in the document.
  const assets: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/init.js') {
      res.type('application/javascript').send(INIT_JS);
      return;
    }
    if (!ASSETS.has(req.path)) return next();
    files(req, res, next);
  };
  router.use('/docs', assets);
  return router;
}
