import express, { type Express } from 'express';
import { buildContext, type AppContext, type AppDeps } from './appContext.js';
import { configurationRoutes } from './configuration/configurationRoutes.js';
import { paymentControllerRoutes } from './controller/paymentControllerRoutes.js';
import { errorHandler, notFoundHandler } from './common/errorHandler.js';
import { requestLogger } from './common/requestLogger.js';
import { shkeeperRoutes } from './shkeeper/shkeeperRoutes.js';
import { escrowRoutes } from './escrow/escrowRoutes.js';
import { decentralizedPaymentRoutes } from './decentralized/decentralizedPaymentRoutes.js';
import { paymentRoutes } from './legacy/paymentRoutes.js';
import { shkeeperPayoutRoutes } from './payouts/shkeeperPayoutRoutes.js';
import { shkeeperWebhookRoutes } from './shkeeper/shkeeperWebhookRoutes.js';

export type { AppDeps } from './appContext.js';

export const JSON_BODY_LIMIT = '100kb';

/**
 * Builds the Express app from its dependencies. The entry point passes real ones; tests pass the
 * same kinds, built on local stand-ins where the real system cannot run here.
 */
export function createApp(deps: AppDeps): Express & { locals: { ctx: AppContext } } {
  const ctx = buildContext(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.locals.ctx = ctx;

  app.use(requestLogger(ctx.logger, { ignore: (url) => url === '/api/payment/health' }));
  // Webhooks verify signatures over the raw body, so they are routed before JSON parsing.
  app.use('/api/payment/shkeeper', shkeeperWebhookRoutes(ctx));
  app.use(express.json({ limit: JSON_BODY_LIMIT, strict: true }));

  const api = express.Router();
  api.use(configurationRoutes(ctx));
  api.use('/decentralized', decentralizedPaymentRoutes(ctx));
  api.use(paymentRoutes(ctx));
  api.use('/shkeeper', shkeeperRoutes(ctx));
  api.use('/shkeeper', shkeeperPayoutRoutes(ctx));
  api.use('/shkeeper', escrowRoutes(ctx));
  // Routers with fixed prefixes (/shkeeper, /decentralized, /payments) mount here, before the
  // controller, whose `/:id` would otherwise see their first path segment.
  api.use(paymentControllerRoutes(ctx));
  app.use('/api/payment', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app as Express & { locals: { ctx: AppContext } };
}
