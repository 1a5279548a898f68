import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { PaymentSchema, json, okEnvelope } from '../shared/sharedSchemas.js';
import { z } from '../../platform/openapi/zod.js';
import { idParams } from '../../platform/schemas.js';
import { autoFetchBody, callbackBody, cleanupBody, verifyBody } from './paymentRoutes.js';

/**
 * The legacy endpoints kept for older clients (src/legacy/paymentRoutes.ts). Callers' statuses are
 * claims: a hash may be recorded, only chain verification moves a payment.
 */

const SOURCES = ['recorded', 'shkeeper', 'chain'] as const;

const ClaimVerifiedSchema = okEnvelope(
  z.object({
    payment: PaymentSchema,
    outcome: z.enum(['confirmed', 'pending', 'mismatch', 'not_found', 'no_hash', 'closed']),
    confirmations: z.number().int().nullable(),
    reason: z.string().nullable(),
  }),
).openapi('LegacyVerification');

const FetchTxSchema = z.object({
  success: z.literal(true),
  transactionHash: z.string(),
  network: z.string(),
  source: z.enum(SOURCES).openapi({ description: '`recorded`: it was already there' }),
  message: z.string(),
});

const AutoFetchSchema = z.object({
  success: z.literal(true),
  processed: z.number().int(),
  found: z.number().int(),
  results: z.array(
    z.object({
      paymentId: z.string(),
      transactionHash: z.string().nullable(),
      source: z.enum(SOURCES).optional(),
      error: z.string().optional().openapi({ description: 'the error code when nothing was found for this payment' }),
    }),
  ),
});

const CHAIN_ERRORS = ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'];

export function registerLegacyDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'legacy', ...d });
  doc({
    method: 'post',
    path: '/payments/cleanup-pending',
    summary: 'Delete old pending payments that have no transaction and no SHKeeper invoice',
    description:
      'Default age: `LEGACY_CLEANUP_AFTER_MINUTES`. SHKeeper invoices are kept: late money must still find its payment. Each is ' +
      'first cancelled (announced as `payment.cancelled` to webhook endpoints), then deleted once that event is recorded.',
    auth: 'admin',
    body: { schema: cleanupBody, required: false },
    responses: {
      200: json('How many were deleted', z.object({ success: z.literal(true), deletedCount: z.number().int(), message: z.string() })),
    },
  });
  doc({
    method: 'post',
    path: '/payments/{id}/fetch-tx',
    summary: "Find and record a completed payment's missing transaction hash (party or admin)",
    description:
      "From SHKeeper's invoice for SHKeeper payments, else from the token's Transfer logs in a bounded block window, bound " +
      "like every inflow: to the invoice's own address, or (shared escrow receiver) from a wallet the payer proved, mined after the proof.",
    auth: 'bearer',
    params: idParams,
    responses: { 200: json('The hash', FetchTxSchema) },
    errors: {
      400: ['unsupported_network'],
      404: ['payment_not_found', 'transaction_not_found'],
      409: ['payment_not_completed', 'transaction_hash_in_use', 'wallet_not_proven'],
      502: [...CHAIN_ERRORS, 'shkeeper_error', 'shkeeper_timeout', 'shkeeper_unreachable', 'shkeeper_auth'],
      503: ['not_configured'],
    },
  });
  doc({
    method: 'post',
    path: '/payments/auto-fetch-missing',
    summary: 'The same for up to `limit` completed payments without a hash, newest first',
    description: 'Across every user\'s payments, hence admin only (the spec says only "JWT").',
    auth: 'admin',
    body: { schema: autoFetchBody, required: false },
    responses: { 200: json('One result per payment tried', AutoFetchSchema) },
  });
  doc({
    method: 'post',
    path: '/callback',
    summary: 'Legacy Web3 callback: record a claimed hash, then verify on chain',
    description:
      "No token: the caller proves itself with the payment's own reference (`data.reference` or `data.paymentRef` = " +
      'its external id); without it the payment does not exist. `status` is accepted and ignored.',
    auth: 'none',
    body: { schema: callbackBody },
    responses: { 200: json('What the chain says', ClaimVerifiedSchema) },
    errors: {
      404: ['payment_not_found'],
      409: ['transaction_hash_in_use', 'transaction_hash_already_set'],
      502: CHAIN_ERRORS,
      503: ['not_configured'],
    },
  });
  doc({
    method: 'post',
    path: '/verify',
    summary: 'Verify a Web3 payment (party or admin): its claim, or the hash given, optionally with a payer proof',
    auth: 'bearer',
    body: { schema: verifyBody },
    responses: {
      200: json('Confirmed on chain', ClaimVerifiedSchema),
      202: json('Not settled yet (waiting for confirmations, or the transaction is not found yet); verify again later', ClaimVerifiedSchema),
    },
    errors: {
      404: ['payment_not_found'],
      409: [
        'wrong_provider',
        'no_transaction_hash',
        'payment_closed',
        'transfer_mismatch',
        'wallet_not_proven',
        'transaction_hash_in_use',
        'transaction_hash_already_set',
        'payment_not_open',
        'payer_already_proven',
      ],
      502: CHAIN_ERRORS,
      503: ['not_configured'],
    },
  });
}
