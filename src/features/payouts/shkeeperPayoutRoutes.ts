import { Router, type RequestHandler } from 'express';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { PayoutService } from './payoutService.js';
import { principalOf, requireAdmin, requireAuth } from '../../platform/auth/authMiddleware.js';
import { endpoint } from '../../platform/http/http.js';
import { fail, httpStatusOfCode } from '../../platform/errors.js';
import { errorBody } from '../../platform/http/errorHandler.js';
import { bodyBytes, rawWebhookBody } from '../shared/rawWebhookBody.js';
import { payoutBody, payoutIdParams, taskParams } from './payoutSchemas.js';
import type { PayoutWebhookService } from './payoutWebhookService.js';

/** What the payout routes use; `idempotent` is the app's Idempotency-Key middleware. */
export interface PayoutRouteDeps {
  tokens: TokenService;
  idempotent: RequestHandler;
  payouts: PayoutService;
}

/** SHKeeper payouts to sellers (admin), and their status. The payout webhook is routed with the raw-body webhooks. */
export function shkeeperPayoutRoutes(deps: PayoutRouteDeps): Router {
  const router = Router();
  router.post(
    '/payout',
    requireAdmin(deps.tokens),
    deps.idempotent,
    endpoint({ body: payoutBody }, ({ body }, req) => deps.payouts.create(principalOf(req), body)),
  );
  router.get(
    '/payout/status/:taskId',
    requireAuth(deps.tokens),
    endpoint({ params: taskParams }, ({ params }, req) => deps.payouts.status(principalOf(req), params.taskId)),
  );
  // Abandoning needs SHKeeper's word that the payout was not executed (README: "a payout in doubt").
  router.post(
    '/payout/:payoutId/abandon',
    requireAdmin(deps.tokens),
    endpoint({ params: payoutIdParams }, ({ params }, req) => deps.payouts.abandon(principalOf(req), params.payoutId)),
  );
  return router;
}

/** `POST /shkeeper/payout/webhook`, SHKeeper's payout callback, on the raw bytes its signature covers. */
export function shkeeperPayoutWebhookRoutes(deps: { webhooks: PayoutWebhookService }): Router {
  const router = Router();
  router.post('/payout/webhook', rawWebhookBody, async (req, res) => {
    const outcome = await deps.webhooks.receive(req.headers, bodyBytes(req.body));
    // The spec's shape either way (payment-api.md: `{ success, message, data }`), a refusal with the
    // catalog's `error` beside it, as every other refusal carries; SHKeeper counts only 202 as delivered.
    if (outcome.kind === 'accepted') res.status(202).json({ success: true, message: outcome.message, data: outcome.data });
    else
      res.status(httpStatusOfCode(outcome.code)).json({ ...errorBody(fail(outcome.code, { message: outcome.message })), message: outcome.message, data: null });
  });
  return router;
}
