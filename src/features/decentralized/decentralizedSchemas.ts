import { z } from 'zod';
import { decimalAmount, evmAddressSchema, metadataSchema, objectIdSchema, txHashSchema, userId } from '../../platform/schemas.js';
import { networkIdOf } from '../../platform/networkRegistry.js';
import { payerProofSchema } from '../shared/payerProofSchema.js';

/**
 * A network id of the registry (NETWORKS; 'bsc' by default), lower-cased; `bnb` and `bep20` are
 * read as `bsc`, as DePay widgets name it. Whether the network is enabled is the service's check
 * (400 `unsupported_token`), against the registry, not a list fixed here.
 */
const network = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'a network id such as bsc'))
  .transform(networkIdOf);
/** A token symbol, upper-cased ('USDT', 'USDC'); enabled per network in the registry. */
const symbol = z
  .string()
  .transform((v) => v.toUpperCase())
  .pipe(z.string().regex(/^[A-Z0-9]{1,16}$/, 'a token symbol such as USDT'));
/** The escrow pays out in USDT on BSC only (the admin hot wallet is on the default network). */
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
  /** The network the payment will be made on; default the registry's default network. */
  network: network.optional(),
});
export type ChallengeInput = z.output<typeof challengeBody>;

export const proveBody = z.strictObject({ paymentId: objectIdSchema, payerProof: payerProofSchema });
export const verifyBody = z.strictObject({ transactionHash: txHashSchema.optional(), payerProof: payerProofSchema.optional() });

export const saveBody = z.strictObject({
  purchaseRequestId: objectIdSchema,
  buyerId: userId,
  sellerId: userId.optional(),
  amount: decimalAmount,
  currency: symbol.optional().transform((v) => v ?? 'USDT'),
  transactionHash: txHashSchema.optional(),
  network: network.optional().transform((v) => v ?? 'bsc'),
  token: symbol.optional(),
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
/** Unknown query parameters are ignored, as everywhere. */
export const receiverQuery = z.object({ network: network.optional() });
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
