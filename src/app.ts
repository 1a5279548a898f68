import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { createRateLimiters } from './limits/rateLimits.js';
import { buildContext, type AppContext, type AppDeps } from './appContext.js';
import { configurationRoutes } from './configuration/configurationRoutes.js';
import { paymentControllerRoutes } from './controller/paymentControllerRoutes.js';
import { errorHandler, notFoundHandler } from './common/errorHandler.js';
import { jsonDepthLimit, MAX_JSON_DEPTH, servedOverTls } from './common/http.js';
import { requestLogger } from './common/requestLogger.js';
import { trackRouteTemplate } from './metrics/routeTemplate.js';
import { shkeeperRoutes } from './shkeeper/shkeeperRoutes.js';
import { escrowRoutes } from './escrow/escrowRoutes.js';
import { decentralizedPaymentRoutes } from './decentralized/decentralizedPaymentRoutes.js';
import { paymentRoutes } from './legacy/paymentRoutes.js';
import { shkeeperPayoutRoutes } from './payouts/shkeeperPayoutRoutes.js';
import { shkeeperWebhookRoutes } from './shkeeper/shkeeperWebhookRoutes.js';
import { openapiRoutes } from './openapi/openapiRoutes.js';

export type { AppDeps } from './appContext.js';

/** CORS_ORIGINS: none → no cross-origin access; `*` → any origin; else exactly those origins. */
function corsFor(origins: readonly string[]) {
  if (origins.includes('*')) return cors({ origin: '*' });
  return cors({ origin: (origin, cb) => cb(null, origin !== undefined && origins.includes(origin)) });
}

const WEBHOOK_PATHS = ['/api/payment/shkeeper/webhook', '/api/payment/shkeeper/payout/webhook'];
/** The SHKeeper widget reads this cross-origin from anywhere: it sets its own CORS headers. */
const OPEN_CORS_PATH = '/api/payment/shkeeper/config';

/**
 * Builds the Express app from its dependencies. The entry point passes real ones; tests pass the
 * same kinds, built on local stand-ins where the real system cannot run here.
 */
export function createApp(deps: AppDeps): Express & { locals: { ctx: AppContext } } {
  const ctx = buildContext(deps);
  // Dev routes (mounted by shkeeperRoutes when enableDevRoutes) never exist in production; the
  // config refuses ENABLE_DEV_ROUTES there, and a hand-built config is refused here.
  if (ctx.config.env === 'production' && ctx.config.enableDevRoutes) {
    throw new Error('ENABLE_DEV_ROUTES: dev routes are never mounted in production');
  }
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', ctx.config.trustProxy);
  app.locals.ctx = ctx;

  app.use(
    requestLogger(ctx.logger, {
      ignore: (url) => url === '/api/payment/health',
      // One finish hook per request feeds both the access line and the duration histogram.
      onFinish: (req, res, seconds) => ctx.metrics.httpRequest(req, res, seconds),
    }),
  );
  // Remembers each matched route's full template, so a route's errors and successes share a label.
  app.use(trackRouteTemplate());
  // helmet's headers that matter for a JSON API; the docs page sets its own CSP for its assets.
  // HSTS only when clients reach the service over TLS (PUBLIC_BASE_URL is https): over plain HTTP
  // it means nothing, and on a shared host name it would pin other services to https.
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      strictTransportSecurity: servedOverTls(ctx.config),
      crossOriginEmbedderPolicy: false,
      crossOriginOpenerPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      // Covered by the CSP's frame-ancestors; X-XSS-Protection is deprecated and ignored.
      xFrameOptions: false,
      xXssProtection: false,
    }),
  );
  const corsPolicy = corsFor(ctx.config.corsOrigins);
  // Only a browser's cross-origin request carries Origin; nothing to decide without one.
  app.use((req, res, next) => (req.headers.origin === undefined || req.path === OPEN_CORS_PATH ? next() : corsPolicy(req, res, next)));
  app.get('/metrics', ctx.metrics.endpoint(ctx.config.metricsToken));

  // SHKeeper's deliveries have a limit of their own, so a busy API never starves them.
  const limits = createRateLimiters(ctx.config, ctx.tokens, ctx.limiterFactory);
  app.use(WEBHOOK_PATHS, limits.webhooks);
  // Webhooks have their own limit; health probes are never limited (a load balancer must always
  // learn the truth, Redis down included).
  const unlimited = new Set([...WEBHOOK_PATHS, '/api/payment/health']);
  app.use('/api/payment', (req, res, next) => (unlimited.has(req.baseUrl + req.path) ? next() : limits.api(req, res, next)));

  // Webhooks verify signatures over the raw body, so they are routed before JSON parsing.
  app.use('/api/payment/shkeeper', shkeeperWebhookRoutes(ctx));
  // Over JSON_BODY_LIMIT → 413 `payload_too_large`; nested deeper than 32 → 400 `json_too_deep`.
  app.use(express.json({ limit: ctx.config.jsonBodyLimit, strict: true }));
  app.use(jsonDepthLimit(MAX_JSON_DEPTH));

  const api = express.Router();
  // The controller comes first because GET /:id is the hottest route. It cannot capture another
  // router's path: its `/:id` routes take 24-hex ids only and pass everything else on, and its
  // fixed paths (/stats, /export, /user) exist nowhere else.
  api.use(paymentControllerRoutes(ctx));
  api.use(configurationRoutes(ctx));
  api.use('/decentralized', decentralizedPaymentRoutes(ctx));
  api.use(paymentRoutes(ctx));
  api.use('/shkeeper', shkeeperRoutes(ctx));
  api.use('/shkeeper', shkeeperPayoutRoutes(ctx));
  api.use('/shkeeper', escrowRoutes(ctx));
  api.use(openapiRoutes(ctx));
  app.use('/api/payment', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app as Express & { locals: { ctx: AppContext } };
}
