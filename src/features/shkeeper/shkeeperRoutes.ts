import { Router, type RequestHandler } from 'express';
import type { MonitorStatus } from '../../platform/monitors/monitorRegistry.js';
import type { DeliveryLog } from '../../core/webhooks/deliveryLog.js';
import type { ConfirmTransactionService } from './confirmTransactionService.js';
import type { IntentService } from './intentService.js';
import { principalOf, requireAdmin, requireAuth } from '../../platform/auth/authMiddleware.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { shkeeperDevRoutes, type ShkeeperDevRouteDeps } from './shkeeperDevRoutes.js';
import { confirmTransactionBody, intentBody } from './shkeeperSchemas.js';

/** What the pay-in routes use; `idempotent` is the app's Idempotency-Key middleware. */
export interface ShkeeperRouteDeps extends ShkeeperDevRouteDeps {
  idempotent: RequestHandler;
  intents: IntentService;
  confirmations: ConfirmTransactionService;
  deliveries: DeliveryLog;
  /** The pay-in monitors' states, for their status routes. */
  monitorStatus: { walletMonitor(): MonitorStatus; autoWebhook(): MonitorStatus };
}

/** SHKeeper pay-in: intents, the buyer's confirm fallback, monitor states and webhook counters. */
export function shkeeperRoutes(deps: ShkeeperRouteDeps): Router {
  const router = Router();
  const auth = requireAuth(deps.tokens);

  router.post(
    '/intents',
    auth,
    deps.idempotent,
    endpoint({ body: intentBody }, ({ body }, req) => deps.intents.create(principalOf(req), body)),
  );

  router.post(
    '/confirm-transaction',
    auth,
    endpoint({ body: confirmTransactionBody }, async ({ body }, req, res) => {
      const { kind, message, data } = await deps.confirmations.confirm(principalOf(req), body);
      // 202 while more is to come (deeper confirmations, the rest of the amount); 200 once decided.
      const pending = kind === 'awaiting_confirmations' || kind === 'partially_funded';
      res.status(pending ? 202 : 200).json({ success: true, message, data });
    }),
  );

  router.get('/wallet-monitor/status', (_req, res) => {
    res.json(ok(deps.monitorStatus.walletMonitor()));
  });
  router.get('/auto-webhook/status', (_req, res) => {
    res.json(ok(deps.monitorStatus.autoWebhook()));
  });

  router.get(
    '/webhook-stats',
    requireAdmin(deps.tokens),
    endpoint({}, async () => ok({ invoice: await deps.deliveries.stats('invoice'), payout: await deps.deliveries.stats('payout') })),
  );

  if (deps.config.enableDevRoutes) router.use(shkeeperDevRoutes(deps));
  return router;
}
