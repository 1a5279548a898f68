import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions } from '../../platform/openapi/documentRoute.js';
import { z } from '../../platform/openapi/zod.js';
import { PURCHASE_REQUEST_STATUSES, SELLER_OFFER_STATUSES } from '../../core/store/records.js';
import { json, okEnvelope } from '../shared/sharedSchemas.js';
import { ingestParams, purchaseRequestBody, sellerOfferBody } from './ingestSchemas.js';

const PurchaseRequestSchema = z
  .object({
    id: z.string(),
    buyerId: z.string(),
    title: z.string().nullable(),
    buyerWalletAddress: z.string().nullable().openapi({ description: 'where a refund goes when the paying wallet is not known from the chain' }),
    status: z.enum(PURCHASE_REQUEST_STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('PurchaseRequest');

const SellerOfferSchema = z
  .object({
    id: z.string(),
    purchaseRequestId: z.string(),
    sellerId: z.string(),
    amount: z.string().openapi({ description: 'decimal string' }),
    currency: z.string(),
    walletAddress: z.string().nullable().openapi({ description: 'where a release pays the seller' }),
    status: z.enum(SELLER_OFFER_STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('SellerOffer');

const AUTH_NOTE =
  'Allowed for a **service key** (`X-Service-Key`, one of SERVICE_API_KEYS: `npm run service-key`; any other key is 401 ' +
  '`invalid_service_key`), a **service credential** (a JWT whose `role` is `"service"`, or whose `roles` contain it) or an ' +
  'admin; anyone else gets 403 `admin_required`. Idempotent by id: created → 201, updated or repeated → 200, with the record as stored.';

/** The service key, when the marketplace's backend uses one instead of a bearer token. */
const serviceKeyHeader = z.object({
  'X-Service-Key': z.string().optional().openapi({ description: 'a key from `npm run service-key` (the service keeps only its SHA-256)' }),
});

/** The ingest routes' part of the contract. */
export function registerIngestDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const tag = 'marketplace';
  documentRoute(registry, opts, {
    method: 'put',
    path: '/purchase-requests/{id}',
    tag,
    summary: "Upsert one of the marketplace's purchase requests",
    description:
      `${AUTH_NOTE}\n\n` +
      '`status` may be `open` or `cancelled` (the others are the service’s own: 400 `status_not_settable`); `open` on a ' +
      'request the service has moved on keeps its status. `cancelled` is final (409 `purchase_request_cancelled`) and ' +
      'cannot be reached from `seller_paid`, `refunded` or `closed` (409 `purchase_request_finished`). Cancelling cancels ' +
      'the request’s pending payments and flags processing payments and funded escrows for an admin, changing nothing ' +
      'else of them. `buyerId` (and a `buyerWalletAddress` already set) cannot change once a payment exists (409 ' +
      '`purchase_request_in_use`).',
    auth: 'admin',
    headers: serviceKeyHeader,
    params: ingestParams,
    body: { schema: purchaseRequestBody },
    responses: {
      200: json('Updated, or the same record again', okEnvelope(PurchaseRequestSchema)),
      201: json('Created', okEnvelope(PurchaseRequestSchema)),
    },
    errors: {
      400: ['status_not_settable'],
      401: ['invalid_service_key'],
      409: ['purchase_request_cancelled', 'purchase_request_finished', 'purchase_request_in_use'],
      503: ['contention'],
    },
  });
  documentRoute(registry, opts, {
    method: 'put',
    path: '/seller-offers/{id}',
    tag,
    summary: "Upsert one of the marketplace's seller offers",
    description:
      `${AUTH_NOTE}\n\n` +
      'The purchase request must exist (404). `status` may be `pending` or `rejected` (`accepted` is set when an escrow ' +
      'is funded: 400 `status_not_settable`; `pending` on an accepted offer keeps it accepted). While a live payment ' +
      'holds the offer, or it is accepted, its amount, currency, wallet, seller and request cannot change and it cannot ' +
      'be rejected (409 `offer_in_use`).',
    auth: 'admin',
    headers: serviceKeyHeader,
    params: ingestParams,
    body: { schema: sellerOfferBody },
    responses: {
      200: json('Updated, or the same record again', okEnvelope(SellerOfferSchema)),
      201: json('Created', okEnvelope(SellerOfferSchema)),
    },
    errors: {
      400: ['status_not_settable'],
      401: ['invalid_service_key'],
      404: ['purchase_request_not_found'],
      409: ['offer_in_use'],
      503: ['contention'],
    },
  });
}
