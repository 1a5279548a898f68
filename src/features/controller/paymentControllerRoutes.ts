import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { principalOf, requireAuth } from '../../platform/auth/authMiddleware.js';
import { fail } from '../../platform/errors.js';
import { endpoint, ok, parseWith, sendPreparedJson } from '../../platform/http/http.js';
import { isObjectId } from '../../platform/ids.js';
import { idParams } from '../../platform/schemas.js';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { MonitorRegistry } from '../../platform/monitors/monitorRegistry.js';
import type { Store } from '../../core/store/store.js';
import type { PaymentService } from './paymentService.js';
import { assertSelfOrAdmin } from '../../core/payments/paymentAccess.js';
import { paymentsCsv, paymentsJson, paymentStats } from './paymentReports.js';
import { createPaymentBody, exportQuery, listQuery, updatePaymentBody, userParams } from './paymentSchemas.js';
import { paymentDebugView, paymentView, readOnlyPaymentView } from '../../core/payments/paymentView.js';

/** What the payment controller's routes use. */
export interface PaymentControllerRouteDeps {
  config: Pick<Config, 'bsc'>;
  networks: ChainNetworks;
  store: Store;
  clock: Clock;
  tokens: TokenService;
  monitors: Pick<MonitorRegistry, 'statuses'>;
  payments: PaymentService;
}

/**
 * Payment records: CRUD, stats and exports. `/:id` only takes 24-hex ids (anything else falls
 * through to the next route, and to the 404 for unknown routes), so words such as `stats` or
 * `export` can never be read as an id, wherever `/:id` is declared.
 */
export function paymentControllerRoutes(deps: PaymentControllerRouteDeps): Router {
  const router = Router();
  const auth = requireAuth(deps.tokens);
  const objectIdOnly: RequestHandler = (req, _res, next) => next(isObjectId(req.params.id) ? undefined : 'route');

  // GET /:id first: it is the hottest route, and each route declared before it is one more path
  // match for every read. It cannot shadow the fixed paths below: it takes one segment, 24-hex
  // ids only, and passes anything else on to the next route.
  router.get(
    '/:id',
    objectIdOnly,
    auth,
    // The hottest route: a read-only record's view is shaped once (see readOnlyPaymentView), and
    // its answer serialised once (sendPreparedJson).
    endpoint({ params: idParams }, async ({ params }, req, res) => {
      const view = readOnlyPaymentView(await deps.payments.get(principalOf(req), params.id));
      if (!Object.isFrozen(view)) return ok(view);
      sendPreparedJson(req, res, view, () => ok(view));
      return undefined;
    }),
  );

  router.post(
    '/',
    auth,
    endpoint({ body: createPaymentBody }, async ({ body }, req) => ok(paymentView(await deps.payments.create(principalOf(req), body))), {
      status: 201,
    }),
  );

  router.get(
    '/',
    auth,
    endpoint({ query: listQuery }, async ({ query }, req) => {
      const who = principalOf(req);
      const page = await deps.payments.listForUser(who, who.userId, query);
      return ok({ ...page, payments: page.payments.map(paymentView) });
    }),
  );

  router.get(
    '/user/:userId',
    auth,
    endpoint({ params: userParams, query: listQuery }, async ({ params, query }, req) => {
      const page = await deps.payments.listForUser(principalOf(req), params.userId, query);
      return ok({ ...page, payments: page.payments.map(paymentView) });
    }),
  );

  const stats = endpoint({}, async (_input, req) => {
    const who = principalOf(req);
    const userId = targetUser(req);
    assertSelfOrAdmin(who, userId);
    return ok(await paymentStats(deps.store, userId));
  });
  router.get('/stats', auth, stats);
  router.get('/stats/:userId', auth, stats);

  const exportHandler = endpoint({ query: exportQuery }, async ({ query }, req, res) => {
    const who = principalOf(req);
    const userId = targetUser(req);
    assertSelfOrAdmin(who, userId);
    await sendExport(res, deps, userId, query.format, query.status);
    return undefined;
  });
  router.get('/export', auth, exportHandler);
  router.get('/export/:userId', auth, exportHandler);

  router.put(
    '/:id',
    objectIdOnly,
    auth,
    endpoint({ params: idParams, body: updatePaymentBody }, async ({ params, body }, req) =>
      ok(paymentView(await deps.payments.update(principalOf(req), params.id, body))),
    ),
  );

  router.get(
    '/:id/debug',
    objectIdOnly,
    auth,
    endpoint({ params: idParams }, async ({ params }, req) => {
      const who = principalOf(req);
      if (!who.isAdmin) throw fail('admin_required', { message: 'the debug bundle is for admins' });
      const p = await deps.payments.get(who, params.id);
      const network = deps.networks.of(p)?.network;
      return ok({
        payment: paymentDebugView(p),
        blockchain: {
          network: p.blockchain?.network ?? null,
          token: p.blockchain?.token ?? null,
          transactionHash: p.transactionHash,
          payAddress: p.payAddress,
          chainId: network?.chainId ?? null,
          confirmationsRequired: network?.confirmations ?? null,
        },
        monitors: deps.monitors.statuses(),
      });
    }),
  );

  return router;
}

/** `/:userId` when the route has one (validated), else the caller. */
function targetUser(req: Request): string {
  return req.params.userId === undefined ? principalOf(req).userId : parseWith(userParams, req.params, 'path').userId;
}

async function sendExport(res: Response, deps: PaymentControllerRouteDeps, userId: string, format: 'json' | 'csv', status?: string[]) {
  const stamp = deps.clock.now().toISOString().slice(0, 10);
  const safeUser = userId.replace(/[^A-Za-z0-9_-]/g, '_');
  res.status(200);
  res.setHeader('Content-Disposition', `attachment; filename="payments-${safeUser}-${stamp}.${format}"`);
  res.setHeader('Cache-Control', 'no-store');
  if (format === 'csv') {
    res.type('text/csv; charset=utf-8');
    await pipeline(...paymentsCsv(deps.store, userId, status), res);
  } else {
    res.type('application/json; charset=utf-8');
    await pipeline(paymentsJson(deps.store, userId, status), res);
  }
}
