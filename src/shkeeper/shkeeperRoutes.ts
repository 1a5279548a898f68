import { Router } from 'express';
import type { AppContext } from '../appContext.js';
import { principalOf, requireAdmin, requireAuth } from '../auth/authMiddleware.js';
import { endpoint, ok } from '../common/http.js';
import { idempotency } from '../idempotency/idempotencyMiddleware.js';
import { shkeeperDevRoutes } from './shkeeperDevRoutes.js';
import { confirmTransactionBody, intentBody } from './shkeeperSchemas.js';

/** SHKeeper pay-in: intents, the buyer's confirm fallback, monitor states and webhook counters. */
export function shkeeperRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = requireAuth(ctx.tokens);

  router.post(
    '/intents',
    auth,
    idempotency(ctx.store, ctx.clock, ctx.config.retention.idempotencyHours * 3_600_000),
    endpoint({ body: intentBody }, ({ body }, req) => ctx.intents.create(principalOf(req), body)),
  );

  router.post(
    '/confirm-transaction',
    auth,
    endpoint({ body: confirmTransactionBody }, async ({ body }, req, res) => {
      const { httpStatus, ...answer } = await ctx.confirmations.confirm(principalOf(req), body);
      res.status(httpStatus).json(answer);
    }),
  );

  router.get('/wallet-monitor/status', (_req, res) => {
    res.json(ok(ctx.monitors.get('walletMonitor')?.status() ?? null));
  });
  router.get('/auto-webhook/status', (_req, res) => {
    res.json(ok(ctx.monitors.get('autoWebhook')?.status() ?? null));
  });

  router.get(
    '/webhook-stats',
    requireAdmin(ctx.tokens),
    endpoint({}, async () => ok({ invoice: await ctx.deliveries.stats('invoice'), payout: await ctx.deliveries.stats('payout') })),
  );

  if (ctx.config.enableDevRoutes) router.use(shkeeperDevRoutes(ctx));
  return router;
}
