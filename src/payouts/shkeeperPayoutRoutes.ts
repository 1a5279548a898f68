import { Router } from 'express';
import type { AppContext } from '../appContext.js';
import { principalOf, requireAdmin, requireAuth } from '../auth/authMiddleware.js';
import { endpoint } from '../common/http.js';
import { idempotency } from '../idempotency/idempotencyMiddleware.js';
import { payoutBody, payoutIdParams, taskParams } from './payoutSchemas.js';

/** SHKeeper payouts to sellers (admin), and their status. The payout webhook is routed with the raw-body webhooks. */
export function shkeeperPayoutRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post(
    '/payout',
    requireAdmin(ctx.tokens),
    idempotency(ctx.store, ctx.clock, ctx.config.retention.idempotencyHours * 3_600_000),
    endpoint({ body: payoutBody }, ({ body }, req) => ctx.payouts.create(principalOf(req), body)),
  );
  router.get(
    '/payout/status/:taskId',
    requireAuth(ctx.tokens),
    endpoint({ params: taskParams }, ({ params }, req) => ctx.payouts.status(principalOf(req), params.taskId)),
  );
  // Abandoning needs SHKeeper's word that the payout was not executed (README: "a payout in doubt").
  router.post(
    '/payout/:payoutId/abandon',
    requireAdmin(ctx.tokens),
    endpoint({ params: payoutIdParams }, ({ params }, req) => ctx.payouts.abandon(principalOf(req), params.payoutId)),
  );
  return router;
}
