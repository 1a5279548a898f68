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
} from '../../platform/schemas.js';
import { DIRECTIONS, ESCROW_STATES, PAYMENT_STATUSES, PROVIDERS } from '../../core/store/records.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';

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

const DisbursementSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['release', 'refund', 'payout']),
    method: z.enum(['escrow_tx', 'shkeeper', 'hot_wallet']),
    recipient: z.string(),
    amount: z.string(),
    state: z.enum(['prepared', 'submitted', 'in_doubt', 'settled', 'failed', 'withdrawn']),
    override: z.object({ by: z.string(), reason: z.string() }).nullable(),
    payoutId: nullableString,
    evidence: nullableString,
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .openapi('Disbursement');

const CreditSchema = z
  .object({
    kind: z.enum(['funding', 'excess']),
    reason: nullableString.openapi({ description: '`overpaid`, `second_payment`, `late_payment`, `request_already_funded`…' }),
    transactionHash: z.string(),
    from: nullableString,
    to: nullableString,
    amount: z.string(),
    baseUnits: nullableString,
    blockNumber: z.number().int().nullable(),
    source: z.string(),
    at: isoDate,
  })
  .openapi('Credit');

export const EscrowLedgerSchema = z
  .object({
    received: z.string().openapi({ description: 'everything that arrived (funding and excess credits), decimal' }),
    excess: z.string().openapi({ description: 'what arrived beyond the price or after the payment could take it' }),
    shortfall: nullableString.openapi({ description: 'price − funding, while short or when completed within UNDERPAYMENT_TOLERANCE' }),
    available: z.string().openapi({ description: 'received − disbursed − in flight' }),
    disbursed: z.string(),
    payer: nullableString.openapi({ description: 'where a refund goes: the largest funding contributor' }),
    provenWallets: z.array(z.object({ wallet: z.string(), provenAt: isoDate, provenAtBlock: z.number().int() })),
    credits: z.array(CreditSchema),
    inFlight: DisbursementSchema.nullable(),
    disbursements: z.array(DisbursementSchema),
  })
  .openapi('EscrowLedger');

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
    transactionHash: nullableString.openapi({ description: 'the transfer that funded the escrow; while unproven, the latest claim' }),
    claim: z
      .object({ transactionHash: z.string(), at: isoDate })
      .nullable()
      .openapi({ description: 'a hash someone named, not yet proven; it reserves nothing' }),
    escrow: EscrowLedgerSchema.nullable().openapi({ description: 'inbound payments: what arrived, from whom, and where it went; null for payouts' }),
    escrowPaymentId: nullableString.openapi({ description: 'payouts: the inbound payment whose escrow they disburse' }),
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

/** What an unauthenticated caller sees (Web3 save, payer proof): no party data. */
export const PublicPaymentSchema = PaymentSchema.omit({ buyerId: true, sellerId: true, metadata: true, escrow: true })
  .extend({
    escrow: EscrowLedgerSchema.omit({ payer: true, provenWallets: true, credits: true })
      .extend({ walletProven: z.boolean(), credits: z.array(CreditSchema.omit({ from: true })) })
      .nullable(),
  })
  .openapi('PublicPayment');

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
