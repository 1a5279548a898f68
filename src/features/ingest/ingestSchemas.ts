import { z } from 'zod';
import { currencyCode, decimalAmount, evmAddressSchema, objectIdSchema, userId } from '../../platform/schemas.js';
import { PURCHASE_REQUEST_STATUSES, SELLER_OFFER_STATUSES } from '../../core/store/records.js';

/** The record's id in the path: a 24-hex id (400 `validation_error` otherwise). */
export const ingestParams = z.object({ id: objectIdSchema });

/**
 * A purchase request as the marketplace holds it. PUT replaces the record: `title` and
 * `buyerWalletAddress` left out are null. Every status of the record parses, so that the service's
 * own ones are refused with a code of their own (`status_not_settable`) rather than a bare
 * validation error.
 */
export const purchaseRequestBody = z.strictObject({
  buyerId: userId,
  title: z.string().min(1).max(500).nullable().default(null),
  buyerWalletAddress: evmAddressSchema.nullable().default(null),
  status: z.enum(PURCHASE_REQUEST_STATUSES),
});
export type PurchaseRequestInput = z.output<typeof purchaseRequestBody>;

/** A seller's offer on a purchase request; `amount` is the project's money schema (a decimal string back). */
export const sellerOfferBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  sellerId: userId,
  amount: decimalAmount,
  currency: currencyCode,
  walletAddress: evmAddressSchema.nullable().default(null),
  status: z.enum(SELLER_OFFER_STATUSES),
});
export type SellerOfferInput = z.output<typeof sellerOfferBody>;

/** The statuses the marketplace may set; the others are the payment service's own. */
export const MARKETPLACE_REQUEST_STATUSES = ['open', 'cancelled'] as const;
export const MARKETPLACE_OFFER_STATUSES = ['pending', 'rejected'] as const;
