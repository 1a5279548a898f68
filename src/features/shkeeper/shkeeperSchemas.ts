import { z } from 'zod';
import { decimalAmount, metadataSchema, networkSchema, objectIdSchema, txHashSchema, userId } from '../../platform/schemas.js';

const tokenSymbol = z
  .string()
  .regex(/^[A-Za-z0-9]{2,16}$/, 'must be a token symbol such as USDT')
  .transform((v) => v.toUpperCase());

export const intentBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  sellerOfferId: objectIdSchema,
  amount: decimalAmount,
  sellerId: userId,
  token: tokenSymbol.optional().transform((v) => v ?? 'USDT'),
  network: networkSchema.optional().transform((v) => v ?? 'bsc'),
  metadata: metadataSchema.optional(),
});

export const confirmTransactionBody = z.strictObject({
  paymentId: objectIdSchema,
  transactionHash: txHashSchema,
  network: networkSchema.optional(),
});

export const triggerWebhookBody = z.strictObject({
  paymentId: objectIdSchema,
  status: z
    .enum(['PAID', 'OVERPAID', 'PARTIAL'])
    .optional()
    .transform((v) => v ?? 'PAID'),
  txid: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/)
    .optional(),
});

export const createTestPaymentBody = z.strictObject({
  amount: decimalAmount.optional(),
  buyerId: userId.optional(),
  sellerId: userId.optional(),
});
