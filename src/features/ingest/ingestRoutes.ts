import { Router } from 'express';
import { principalOf, requireServiceOrAdmin } from '../../platform/auth/authMiddleware.js';
import type { ServiceKey } from '../../platform/auth/serviceKeys.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import { endpoint, ok } from '../../platform/http/http.js';
import type { Upserted } from './ingestRecords.js';
import { ingestParams, purchaseRequestBody, sellerOfferBody } from './ingestSchemas.js';
import type { PurchaseRequestIngest } from './purchaseRequestIngest.js';
import type { SellerOfferIngest } from './sellerOfferIngest.js';

/** What the ingest routes use. */
export interface IngestRouteDeps {
  tokens: TokenService;
  /** SERVICE_API_KEYS: keys accepted in `X-Service-Key`. */
  serviceKeys: readonly ServiceKey[];
  requests: PurchaseRequestIngest;
  offers: SellerOfferIngest;
}

/** 201 for a record created, 200 for one updated or repeated; the record as stored, in the envelope. */
const statusOf = (r: Upserted<unknown>) => (r.kind === 'created' ? 201 : 200);

/**
 * Records in: the marketplace's purchase requests and seller offers, upserted by id. Only a
 * service credential (`role: "service"`) or an admin (401 without a token, 403 `admin_required`
 * otherwise); the guard runs before the input is read.
 */
export function ingestRoutes(deps: IngestRouteDeps): Router {
  const router = Router();
  const guard = requireServiceOrAdmin(deps.tokens, deps.serviceKeys);

  router.put(
    '/purchase-requests/:id',
    guard,
    endpoint({ params: ingestParams, body: purchaseRequestBody }, async ({ params, body }, req, res) => {
      const r = await deps.requests.upsert(principalOf(req).userId, params.id, body);
      res.status(statusOf(r)).json(ok(r.record));
    }),
  );
  router.put(
    '/seller-offers/:id',
    guard,
    endpoint({ params: ingestParams, body: sellerOfferBody }, async ({ params, body }, _req, res) => {
      const r = await deps.offers.upsert(params.id, body);
      res.status(statusOf(r)).json(ok(r.record));
    }),
  );
  return router;
}
