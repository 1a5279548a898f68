import { z } from 'zod';
import { decimalAmount, evmAddressSchema, metadataSchema, networkSchema, objectIdSchema, userId } from '../../platform/schemas.js';

const tokenSymbol = z
  .string()
  .regex(/^[A-Za-z0-9]{2,16}$/, 'must be a token symbol such as USDT')
  .transform((v) => v.toUpperCase());

/**
 * Every field the spec lists is required (400 names each missing one). `recipientAddress` must be
 * the wallet of the escrow's offer unless `overrideReason` says why an admin pays another one.
 * `force` is accepted for old clients and recorded; it never allows a second payout of an escrow.
 */
export const payoutBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  sellerOfferId: objectIdSchema,
  buyerId: userId,
  sellerId: userId,
  amount: decimalAmount,
  recipientAddress: evmAddressSchema,
  token: tokenSymbol.optional().transform((v) => v ?? 'USDT'),
  network: networkSchema.optional().transform((v) => v ?? 'bsc'),
  metadata: metadataSchema.optional(),
  force: z.boolean().optional(),
  overrideReason: z.string().trim().min(3).max(300).optional(),
});
export type PayoutInput = z.output<typeof payoutBody>;

export const payoutIdParams = z.object({ payoutId: objectIdSchema });

export const taskParams = z.object({ taskId: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be a task id') });

/** SHKeeper's payout callback (§6.5): a flat object, unlike what its OpenAPI schema claims. */
export const payoutCallback = z.object({
  payout_id: z.union([z.number(), z.string()]).optional(),
  external_id: z.string().min(1).max(128),
  tx_hash: z.string().min(1).max(256),
  status: z.string().min(1).max(32),
  amount: z.string().regex(/^\d+(\.\d+)?$/),
  crypto: z.string().min(1).max(64),
});
