import { z } from 'zod';
import { evmAddressSchema, objectIdSchema } from '../../platform/schemas.js';

/**
 * The payer proof is accepted by the decentralized router (save, prove, verify) and by the legacy
 * `PUT /:id` that confirms a Web3 payment, so its shape sits below both.
 */
/** The challenge as `/payer-proof/challenge` issued it, sent back unchanged with the wallet's signature. */
export const payerProofSchema = z.strictObject({
  message: z.strictObject({
    purpose: z.string().max(200),
    purchaseRequestId: objectIdSchema,
    sellerOfferId: objectIdSchema,
    wallet: evmAddressSchema,
    receiver: evmAddressSchema,
    amount: z.string().max(64),
    token: z.string().max(16),
    issuedAtBlock: z.union([
      z.number().int().nonnegative(),
      z
        .string()
        .regex(/^\d{1,15}$/)
        .transform(Number),
    ]),
    expiresAt: z.union([
      z.number().int().nonnegative(),
      z
        .string()
        .regex(/^\d{1,15}$/)
        .transform(Number),
    ]),
    nonce: z.string().max(200),
  }),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte hex signature'),
});
export type PayerProofInput = z.output<typeof payerProofSchema>;
