import express, { type Express } from 'express';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import { buildContext, type AppContext, type AppDeps } from './appContext.js';
import { configurationRoutes } from './configuration/configurationRoutes.js';
import { paymentControllerRoutes } from './controller/paymentControllerRoutes.js';
import { errorHandler, notFoundHandler } from './common/errorHandler.js';

export type { AppDeps } from './appContext.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
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

  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      // A lean line per request: headers are not logged at all (they carry credentials and
      // signatures, and serialising them was a large share of a fast request's cost).
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/api/payment/health' },
    }),
  );
  app.use(express.json({ limit: JSON_BODY_LIMIT, strict: true }));

  const api = express.Router();
  api.use(configurationRoutes(ctx));
  // Routers with fixed prefixes (/shkeeper, /decentralized, /payments) mount here, before the
  // controller, whose `/:id` would otherwise see their first path segment.
  api.use(paymentControllerRoutes(ctx));
  app.use('/api/payment', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app as Express & { locals: { ctx: AppContext } };
}
