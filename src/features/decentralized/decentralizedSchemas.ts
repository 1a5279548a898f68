import { z } from 'zod';
import { decimalAmount, evmAddressSchema, metadataSchema, objectIdSchema, txHashSchema, userId } from '../../platform/schemas.js';
import { payerProofSchema } from '../shared/payerProofSchema.js';

/** Only USDT on BSC is accepted by the escrow today; anything else is refused, not guessed. */
const bsc = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['bsc', 'bnb', 'bep20']).transform(() => 'bsc' as const));
const usdt = z
  .string()
  .transform((v) => v.toUpperCase())
  .pipe(z.literal('USDT'));

export const challengeBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  sellerOfferId: objectIdSchema,
  walletAddress: evmAddressSchema,
});
export type ChallengeInput = z.output<typeof challengeBody>;

export const proveBody = z.strictObject({ paymentId: objectIdSchema, payerProof: payerProofSchema });
export const verifyBody = z.strictObject({ transactionHash: txHashSchema.optional(), payerProof: payerProofSchema.optional() });

export const saveBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  buyerId: userId,
  sellerId: userId.optional(),
  amount: decimalAmount,
  currency: usdt.optional().transform((v) => v ?? 'USDT'),
  transactionHash: txHashSchema.optional(),
  network: bsc.optional().transform((v) => v ?? 'bsc'),
  token: usdt.optional().transform((v) => v ?? 'USDT'),
  walletAddress: evmAddressSchema.optional(),
  metadata: metadataSchema.optional(),
  payerProof: payerProofSchema.optional(),
});
export type SaveInput = z.output<typeof saveBody>;

export const updateBody = z.strictObject({
  paymentId: objectIdSchema,
  status: z.enum(['pending', 'processing', 'completed', 'failed', 'cancelled']),
  // Reported by the client and never trusted: accepted so old clients keep working, then ignored.
  confirmations: z.number().int().min(0).max(1_000_000).optional(),
});
export type UpdateInput = z.output<typeof updateBody>;

export const paymentIdParams = z.object({ paymentId: objectIdSchema });
export const userIdParams = z.object({ userId });

/**
 * `receiverWalletAddress` must be the wallet of the escrow's offer unless `overrideReason` says
 * why an admin pays another one. `force` is accepted for old clients and recorded; it never allows
 * a second payout of an escrow.
 */
export const adminPayoutBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  receiverWalletAddress: evmAddressSchema,
  amount: decimalAmount,
  currency: usdt.optional().transform((v) => v ?? 'USDT'),
  network: bsc.optional().transform((v) => v ?? 'bsc'),
  force: z.boolean().optional(),
  overrideReason: z.string().trim().min(3).max(300).optional(),
});
export type AdminPayoutInput = z.output<typeof adminPayoutBody>;
