import { z } from 'zod';
import {
  currencyCode,
  decimalAmount,
  metadataSchema,
  networkSchema,
  objectIdSchema,
  queryInt,
  tokenSchema,
  txHashSchema,
  userId,
} from '../../platform/schemas.js';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../core/store/records.js';

const blockchainSchema = z.strictObject({ network: networkSchema, token: tokenSchema });

export const createPaymentBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  sellerOfferId: objectIdSchema,
  buyerId: userId,
  sellerId: userId,
  amount: z.strictObject({ amount: decimalAmount, currency: currencyCode }),
  blockchain: blockchainSchema.optional(),
  metadata: metadataSchema.optional(),
});
export type CreatePaymentInput = z.output<typeof createPaymentBody>;

export const updatePaymentBody = z
  .strictObject({
    // released/refunded are not settable here: they need the chain-verified release/refund confirm.
    status: z.enum(['pending', 'processing', 'completed', 'failed', 'cancelled']).optional(),
    transactionHash: txHashSchema.optional(),
    blockchain: blockchainSchema.optional(),
    metadata: metadataSchema.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'at least one field to update is required');
export type UpdatePaymentInput = z.output<typeof updatePaymentBody>;

/** `success` is a status older clients send; no payment carries it, so it simply matches nothing. */
const LIST_STATUSES = [...PAYMENT_STATUSES, 'success'] as const;

const statusList = z
  .string()
  .max(200)
  .transform((v, ctx) => {
    const parts = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = parts.filter((s) => !(LIST_STATUSES as readonly string[]).includes(s));
    if (parts.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `status must be a comma-separated list of: ${LIST_STATUSES.join(', ')}` });
      return z.NEVER;
    }
    return [...new Set(parts)] as (PaymentStatus | 'success')[];
  });

export const listQuery = z.object({
  status: statusList.optional().transform((v) => v ?? (['completed', 'success'] as (PaymentStatus | 'success')[])),
  limit: queryInt(1, 200, 50),
  offset: queryInt(0, 1_000_000_000, 0),
});

export const exportQuery = z.object({
  format: z
    .enum(['json', 'csv'])
    .optional()
    .transform((v) => v ?? 'json'),
  status: statusList.optional(),
});

export const userParams = z.object({ userId });
