import type { ZodType } from 'zod';
import {
  currencyCode,
  decimalAmount,
  evmAddressSchema,
  metadataSchema,
  networkSchema,
  objectIdSchema,
  tokenSchema,
  txHashSchema,
  userId,
} from '../common/schemas.js';
import { DIRECTIONS, ESCROW_STATES, PAYMENT_STATUSES, PROVIDERS } from '../store/records.js';
import { describeSchema, z } from './zod.js';

/*
 * The building blocks of src/common/schemas.ts, documented in place. Several are refinements or
 * transforms whose rule JSON Schema cannot see, so the rule is stated here.
 */
describeSchema(objectIdSchema, {
  pattern: '^[0-9a-f]{24}$',
  description: '24-character lower-case hex id',
  example: '65a0c0ffee00000000000001',
});
describeSchema(userId, { description: 'user id (the JWT `sub`)', example: 'user-1' });
describeSchema(decimalAmount, {
  description:
    'positive amount below 10^12 with at most 18 decimals: a decimal string ("25.5"), or a plain JSON number ' +
    'with at most 15 significant digits and no exponent. Answered back as a normalised decimal string.',
  example: '25.5',
});
describeSchema(currencyCode, { description: 'currency code, upper-cased', example: 'USDT' });
describeSchema(evmAddressSchema, {
  pattern: '^0x[0-9a-fA-F]{40}$',
  description: 'EVM address (any case; stored in its checksum form)',
  example: '0x00000000000000000000000000000000000e5c40',
});
describeSchema(txHashSchema, { description: 'transaction hash (stored lower-cased)' });
describeSchema(networkSchema, { description: 'network name, lower-cased', example: 'bsc' });
describeSchema(tokenSchema, { description: 'token symbol or contract address', example: 'USDT' });
describeSchema(metadataSchema, {
  type: 'object',
  additionalProperties: true,
  description:
    'free-form JSON object: at most 16 KiB serialised, nested at most 6 levels, keys 1–64 characters without ' +
    '"." or a leading "$", no __proto__/constructor/prototype',
});

/* Response shapes. The API answers these; they are written for the docs only. */

export const PaymentStatusSchema = z.enum(PAYMENT_STATUSES).openapi('PaymentStatus');
export const EscrowStateSchema = z.enum(ESCROW_STATES).openapi('EscrowState');

export const MoneySchema = z
  .object({
    amount: z.string().openapi({ description: 'exact decimal string', example: '25.5' }),
    currency: z.string().openapi({ example: 'USDT' }),
  })
  .openapi('Money');

const nullableString = z.string().nullable();
const isoDate = z.string().openapi({ format: 'date-time' });

export const PaymentSchema = z
  .object({
    id: z.string(),
    provider: z.enum(PROVIDERS),
    direction: z.enum(DIRECTIONS).openapi({ description: '`in`: pay-in to escrow; `out`: payout' }),
    status: PaymentStatusSchema,
    escrowState: EscrowStateSchema,
    purchaseRequestId: z.string(),
    sellerOfferId: nullableString,
    buyerId: z.string(),
    sellerId: nullableString,
    amount: MoneySchema,
    blockchain: z.object({ network: z.string(), token: z.string() }).nullable(),
    transactionHash: nullableString,
    externalId: nullableString,
    paymentUrl: nullableString,
    payAddress: nullableString,
    expiresAt: isoDate.nullable(),
    providerTaskId: nullableString,
    releaseTxHash: nullableString,
    refundTxHash: nullableString,
    metadata: z.record(z.string(), z.unknown()),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .openapi('Payment');

export const HistoryEntrySchema = z
  .object({
    fromStatus: PaymentStatusSchema.nullable(),
    toStatus: PaymentStatusSchema,
    fromEscrow: EscrowStateSchema.nullable(),
    toEscrow: EscrowStateSchema,
    source: z.string(),
    actor: z.string(),
    at: isoDate,
    reason: nullableString,
  })
  .openapi('HistoryEntry');

export const MonitorStatusSchema = z
  .looseObject({
    running: z.boolean(),
    enabled: z.boolean(),
    intervalMs: z.number(),
    lastRunAt: isoDate.nullable(),
    lastError: nullableString,
    runs: z.number().int(),
    errors: z.number().int(),
  })
  .openapi('MonitorStatus', { description: 'a background monitor; each monitor adds its own facts (watched addresses, counters…)' });

/** `{ success: true, data }`, the envelope of most successful answers. */
export const okEnvelope = <T extends ZodType>(data: T) => z.object({ success: z.literal(true), data });

/** `{ success: true, message, data }`, used where the answer also says what happened. */
export const messageEnvelope = <T extends ZodType>(data: T) => z.object({ success: z.literal(true), message: z.string(), data });

/** A JSON response, for `registerPath` responses. */
export const json = (description: string, schema: ZodType) => ({ description, content: { 'application/json': { schema } } });
