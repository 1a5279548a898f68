import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { errorHandler, notFoundHandler } from '../platform/http/errorHandler.js';
import { jsonBodies, MAX_JSON_DEPTH, servedOverTls } from '../platform/http/http.js';
import { createRateLimiters } from '../platform/http/rateLimits.js';
import { installRequestLog, requestLogger } from '../platform/http/requestLogger.js';
import { fixedHeaders } from '../platform/http/fixedHeaders.js';
import { inSequence } from '../platform/http/inSequence.js';
import type { FeatureModule } from '../platform/featureModule.js';
import { trackRouteTemplate } from '../platform/metrics/routeTemplate.js';
import { createConfigurationModule } from '../features/configuration/configurationModule.js';
import { createPaymentControllerModule } from '../features/controller/paymentControllerModule.js';
import { createDecentralizedModule } from '../features/decentralized/decentralizedModule.js';
import { createDocsModule } from '../features/docs/docsModule.js';
import { createEscrowModule } from '../features/escrow/escrowModule.js';
import { createIngestModule } from '../features/ingest/ingestModule.js';
import { createLegacyModule } from '../features/legacy/legacyModule.js';
import { createWebhookEndpointsModule } from '../features/webhookEndpoints/webhookEndpointsModule.js';
import { createAdminConsoleModule } from '../features/adminConsole/adminConsoleModule.js';
import { createPayoutsModule } from '../features/payouts/payoutsModule.js';
import { createShkeeperModule } from '../features/shkeeper/shkeeperModule.js';
import { buildCoreServices, type AppDeps, type CoreServices } from './composition.js';
import { registerMetricsDocs } from './metricsDocs.js';
import { buildOpenApiDocument } from './openapiDocument.js';

export type { AppDeps } from './composition.js';

/** What `createApp` built, for the server (monitors, leader, tokens) and for tests: the core and the services tests drive directly. */
export interface AppServices extends CoreServices {
  payments: ReturnType<typeof createPaymentControllerModule>['payments'];
  payouts: ReturnType<typeof createPayoutsModule>['payouts'];
  /** The outbound webhooks' delivery queue (the relay feeds it). */
  eventDeliveries: ReturnType<typeof createWebhookEndpointsModule>['deliveries'];
}

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
export function createApp(deps: AppDeps): Express & { locals: { ctx: AppServices } } {
  const core = buildCoreServices(deps);
  const { config } = core;
  // Dev routes (mounted by shkeeperRoutes when enableDevRoutes) never exist in production; the
  // config refuses ENABLE_DEV_ROUTES there, and a hand-built config is refused here.
  if (config.env === 'production' && config.enableDevRoutes) {
    throw new Error('ENABLE_DEV_ROUTES: dev routes are never mounted in production');
  }
  // Each feature gets the narrow deps it declares; this is the only place that knows them all.
  const controller = createPaymentControllerModule(core);
  const configuration = createConfigurationModule(core);
  const decentralized = createDecentralizedModule(core);
  const legacy = createLegacyModule({ ...core, web3: decentralized.web3 });
  const shkeeper = createShkeeperModule(core);
  const payouts = createPayoutsModule(core);
  const escrow = createEscrowModule(core);
  const ingest = createIngestModule(core);
  const webhookEndpoints = createWebhookEndpointsModule(core);
  const adminConsole = createAdminConsoleModule(core);
  let document = '';
  const docs = createDocsModule({ config, document: () => document });
  // Mount order: the controller first (GET /:id is the hottest route; it takes 24-hex ids only and
  // passes everything else on, and its fixed paths exist nowhere else).
  const modules: FeatureModule[] = [controller, configuration, decentralized, legacy, shkeeper, payouts, escrow, ingest, webhookEndpoints, adminConsole, docs];
  // The contract lists the features in the order of its tags.
  const documented = [configuration, controller, shkeeper, payouts, escrow, decentralized, legacy, ingest, webhookEndpoints, adminConsole, docs];
  document = JSON.stringify(buildOpenApiDocument([...documented.flatMap((m) => m.docs), registerMetricsDocs], { devRoutes: config.enableDevRoutes }));
  for (const m of modules) for (const monitor of m.monitors ?? []) core.monitors.register(monitor);
  const ctx: AppServices = { ...core, payments: controller.payments, payouts: payouts.payouts, eventDeliveries: webhookEndpoints.deliveries };

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', ctx.config.trustProxy);
  app.locals.ctx = ctx;

  // Both per-request hooks live on the app's request prototype, defined once here rather than on
  // each request: `req.log` (made on first use) and the tracker of `req.route`, which remembers
  // each matched route's full template so a route's errors and successes share a metrics label.
  installRequestLog(app.request);
  trackRouteTemplate(app.request);
  const logRequests = requestLogger(ctx.logger, {
    ignore: (url) => url === '/api/payment/health',
    // One finish hook per request feeds both the access line and the duration histogram.
    onFinish: (req, res, seconds) => ctx.metrics.httpRequest(req, res, seconds),
  });
  // helmet's headers that matter for a JSON API; the docs page sets its own CSP for its assets.
  // HSTS only when clients reach the service over TLS (PUBLIC_BASE_URL is https): over plain HTTP
  // it means nothing, and on a shared host name it would pin other services to https. None of
  // them depends on the request, so helmet runs once here and its headers are replayed
  // (fixedHeaders.ts).
  const securityHeaders = fixedHeaders(
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
  const corsGate: RequestHandler = (req, res, next) => (req.headers.origin === undefined || req.path === OPEN_CORS_PATH ? next() : corsPolicy(req, res, next));
  // What every request passes, in this order, as one router layer (inSequence.ts).
  const countArrival: RequestHandler = (_req, _res, next) => {
    ctx.traffic.arrived();
    next();
  };
  app.use(inSequence(countArrival, logRequests, securityHeaders, corsGate));
  app.get('/metrics', ctx.metrics.endpoint(ctx.config.metricsToken));

  // SHKeeper's deliveries have a limit of their own, so a busy API never starves them.
  const limits = createRateLimiters(ctx.config, ctx.tokens, ctx.limiterFactory);
  app.use(WEBHOOK_PATHS, limits.webhooks);
  // Webhooks have their own limit; health probes are never limited (a load balancer must always
  // learn the truth, Redis down included).
  const unlimited = new Set([...WEBHOOK_PATHS, '/api/payment/health']);
  app.use('/api/payment', (req, res, next) => (unlimited.has(req.baseUrl + req.path) ? next() : limits.api(req, res, next)));

  // Webhooks verify signatures over the raw body, so they are routed before JSON parsing.
  for (const m of modules) for (const r of m.rawRoutes ?? []) app.use(`/api/payment${r.path === '/' ? '' : r.path}`, r.router);
  // Over JSON_BODY_LIMIT → 413 `payload_too_large`; nested deeper than 32 → 400 `json_too_deep`.
  app.use(jsonBodies(express.json({ limit: ctx.config.jsonBodyLimit, strict: true }), MAX_JSON_DEPTH));

  // Mounted on the app itself, not through one more `/api/payment` router: the same paths and
  // order, one router dispatch less for every API request.
  for (const m of modules) for (const r of m.routes) app.use(`/api/payment${r.path === '/' ? '' : r.path}`, r.router);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app as Express & { locals: { ctx: AppServices } };
}
