import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { ErrorResponseSchema } from '../../platform/openapi/components.js';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { EscrowStateSchema, MoneySchema, PaymentSchema, PaymentStatusSchema, PublicPaymentSchema, json, okEnvelope } from '../shared/sharedSchemas.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';
import {
  adminPayoutBody,
  challengeBody,
  paymentIdParams,
  proveBody,
  receiverQuery,
  saveBody,
  updateBody,
  userIdParams,
  verifyBody,
} from './decentralizedSchemas.js';

/** Web3 (DePay) payments under /decentralized (src/decentralized/decentralizedPaymentRoutes.ts). */

const USDT = { pattern: '^[Uu][Ss][Dd][Tt]$', default: 'USDT', description: 'only USDT (any case)' };
const BSC = { pattern: '^([Bb][Ss][Cc]|[Bb][Nn][Bb]|[Bb][Ee][Pp]20)$', default: 'bsc', description: 'BSC: bsc, bnb or bep20 (any case)' };
describeSchema(adminPayoutBody.shape.currency, USDT);
describeSchema(adminPayoutBody.shape.network, BSC);
describeSchema(saveBody.shape.currency, { default: 'USDT', description: "the offer's currency (any case); another one is 409 `records_do_not_match`" });
describeSchema(saveBody.shape.network, {
  default: 'bsc',
  description: 'an enabled network id of the registry (NETWORKS; bsc by default, also bnb or bep20): 400 `unsupported_token` otherwise',
});
describeSchema(challengeBody.shape.network, { description: "the payment's network (registry id); default the registry's default network" });
describeSchema(saveBody.shape.token, {
  description: "a token of that network in the registry; default the offer's currency (400 `unsupported_token` if not enabled)",
});
describeSchema(saveBody.shape.sellerId, { description: 'names the offer; without it the one pending offer at exactly this amount is used' });
describeSchema(adminPayoutBody.shape.force, { description: 'pay although the purchase request already has an admin payout' });

const OUTCOMES = ['confirmed', 'pending', 'mismatch', 'not_found', 'no_hash', 'closed'] as const;

const StatusViewSchema = z
  .object({
    paymentId: z.string(),
    status: PaymentStatusSchema,
    escrowState: EscrowStateSchema,
    transactionHash: z.string().nullable(),
    confirmations: z.number().int().nullable(),
    amount: MoneySchema,
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Web3PaymentStatus');

const SavedSchema = z
  .object({
    success: z.literal(true),
    data: PublicPaymentSchema,
    verification: z
      .object({
        outcome: z.enum([...OUTCOMES, 'error']),
        confirmations: z.number().int().optional(),
        reason: z.string().optional(),
        code: z.string().optional().openapi({ description: 'when `outcome: error`: the verification could not run; the claim is kept' }),
      })
      .nullable()
      .openapi({ description: 'null when no hash was given or the payment was already saved' }),
  })
  .openapi('Web3PaymentSaved');

const VerifiedSchema = okEnvelope(
  StatusViewSchema.extend({
    outcome: z.enum(OUTCOMES),
    confirmations: z.number().int().nullable(),
    required: z.number().int().nullable(),
    reason: z.string().nullable(),
  }),
);

const ReceiverSchema = okEnvelope(
  z.object({
    address: z.string(),
    network: z.string().openapi({ description: 'the registry id of the network', example: 'bsc' }),
    chainId: z.number().int(),
    confirmations: z.number().int(),
    tokens: z.array(z.object({ symbol: z.string().openapi({ example: 'USDT' }), address: z.string(), decimals: z.number().int() })),
  }),
);

const VerifyAllSchema = okEnvelope(
  z.object({
    checked: z.number().int(),
    confirmed: z.number().int(),
    stillPending: z.number().int(),
    failed: z.number().int(),
    errors: z.number().int(),
    concurrency: z.number().int(),
    chunkSize: z.number().int(),
  }),
);

const AdminPayoutSchema = z
  .object({
    success: z.boolean().openapi({ description: 'false (with HTTP 502) when the transfer reverted' }),
    message: z.string(),
    data: z.object({
      payoutId: z.string(),
      status: PaymentStatusSchema,
      transactionHash: z.string(),
      from: z.string(),
      to: z.string().nullable(),
      amount: z.string(),
      currency: z.string(),
      receipt: z.unknown().openapi({ description: 'the mined receipt, or null while still waiting (status `processing`)' }),
    }),
  })
  .openapi('AdminPayout');

const CHAIN_ERRORS = ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'];
/** A refuted claim (details.reason names why); nothing is reserved or changed. */
const REFUTED = ['transfer_mismatch', 'wallet_not_proven', 'transaction_hash_in_use'];

const ChallengeSchema = okEnvelope(
  z
    .object({
      domain: z.object({ name: z.string(), version: z.string(), chainId: z.number().int() }),
      types: z.record(z.string(), z.array(z.object({ name: z.string(), type: z.string() }))),
      primaryType: z.literal('PayerProof'),
      message: z.record(z.string(), z.unknown()),
    })
    .openapi('PayerProofChallenge', { description: 'EIP-712 typed data: sign it with `eth_signTypedData_v4` and send it back unchanged with the signature' }),
);

export function registerDecentralizedDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'decentralized', ...d });
  doc({
    method: 'post',
    path: '/decentralized/save',
    summary: 'Record a Web3 payment (before login); a given hash is a claim, verified on chain',
    description:
      "The offer is the named seller's, else the one pending offer at exactly this amount. Saving the same hash again " +
      'answers the same payment. Emits `payment-created`.',
    auth: 'none',
    body: { schema: saveBody },
    responses: { 200: json('Saved (or the payment already saved)', SavedSchema) },
    errors: {
      400: ['unsupported_token'],
      404: ['purchase_request_not_found'],
      409: ['records_do_not_match', 'offer_ambiguous', 'payment_exists', ...REFUTED, 'payment_not_open', 'payer_already_proven', 'purchase_request_not_open'],
    },
  });
  doc({
    method: 'post',
    path: '/decentralized/payer-proof/challenge',
    summary: 'The message a wallet signs to prove it pays this offer (EIP-712)',
    description:
      'Names the purchase request, the offer, the wallet, the escrow receiver, the chain, the head block when issued, an expiry ' +
      'and a server-authenticated nonce. Only transfers from this wallet mined after `issuedAtBlock` can fund the payment. ' +
      "`network` (default: the registry's default network) is the chain the payment will be made on: the proof is dated in " +
      'its blocks and signed for its chain id, and verifies only for a payment on that network.',
    auth: 'none',
    body: { schema: challengeBody },
    responses: { 200: json('The typed data to sign', ChallengeSchema) },
    errors: { 400: ['unsupported_token'], 404: ['seller_offer_not_found'], 502: CHAIN_ERRORS, 503: ['not_configured', 'decimals_mismatch'] },
  });
  doc({
    method: 'post',
    path: '/decentralized/payer-proof',
    summary: "Record a wallet's signed payer proof on a Web3 payment (the signature is the credential)",
    auth: 'none',
    body: { schema: proveBody },
    responses: { 200: json('The payment, with the proven wallet', okEnvelope(PublicPaymentSchema)) },
    errors: { 404: ['payment_not_found'], 409: ['wallet_not_proven', 'payment_not_open', 'payer_already_proven'], 503: ['not_configured'] },
  });
  doc({
    method: 'get',
    path: '/decentralized/status/{paymentId}',
    summary: "A Web3 payment's status",
    auth: 'none',
    params: paymentIdParams,
    responses: { 200: json('Its status', okEnvelope(StatusViewSchema)) },
    errors: { 404: ['payment_not_found'] },
  });
  doc({
    method: 'put',
    path: '/decentralized/update',
    summary: 'Ask for a status; applied only when the chain agrees (cancelling needs a party or admin token)',
    description:
      '`cancelled` needs a bearer token of a party (pending payments only) or an admin. Any other status is checked against ' +
      'the chain, asked afresh; `confirmations` is accepted and ignored. A refuted claim is dropped; the payment is not failed.',
    auth: 'optionalBearer',
    body: { schema: updateBody },
    responses: { 200: json("The payment's status after the chain was asked", okEnvelope(StatusViewSchema)) },
    errors: {
      401: ['missing_token'],
      403: ['not_buyer'],
      404: ['payment_not_found'],
      409: ['chain_disagrees', 'payment_not_pending', 'invalid_transition'],
      502: CHAIN_ERRORS,
      503: ['not_configured'],
    },
  });
  doc({
    method: 'get',
    path: '/decentralized/receiver',
    summary: 'Where Web3 payments go: escrow address, chain and tokens (the default network, or `?network=`)',
    auth: 'none',
    query: receiverQuery,
    responses: { 200: json('The receiver', ReceiverSchema) },
    errors: { 400: ['unsupported_network'], 503: ['not_configured'] },
  });
  doc({
    method: 'get',
    path: '/decentralized/history/{userId}',
    summary: "A user's Web3 payments, newest first, at most 200 (self or admin)",
    description: 'Deliberately stricter than the spec\'s "no auth": a history reveals a user\'s payments.',
    auth: 'bearer',
    params: userIdParams,
    responses: { 200: json('The payments', okEnvelope(z.array(PaymentSchema))) },
    errors: { 403: ['forbidden_user'] },
  });
  doc({
    method: 'post',
    path: '/decentralized/verify/{paymentId}',
    summary: 'Verify a Web3 payment on chain now (its claim, or the hash given)',
    description:
      'Optional body `{ transactionHash?, payerProof? }`. A hash the chain refutes is dropped: 409 with `details.reason` ' +
      '(`wrong_sender`, `mined_before_proof`, `wrong_token`, `wrong_address`, `reverted`, `already_credited`…). An unmined ' +
      'transaction moves nothing (`pending`, reason `not_mined`); a reorged-out one sends the payment back to pending.',
    auth: 'none',
    params: paymentIdParams,
    body: { schema: verifyBody },
    responses: { 200: json("The chain's verdict and the payment's status", VerifiedSchema) },
    errors: {
      404: ['payment_not_found'],
      409: [...REFUTED, 'payment_not_open', 'payer_already_proven'],
      502: CHAIN_ERRORS,
      503: ['not_configured', 'decimals_mismatch'],
    },
  });
  doc({
    method: 'post',
    path: '/decentralized/verify-all-pending',
    summary: 'Re-verify every open Web3 payment with a claimed hash (for a cron)',
    auth: 'cronSecret',
    responses: { 200: json('Counts', VerifyAllSchema) },
  });
  doc({
    method: 'post',
    path: '/decentralized/admin-payout',
    summary: 'Pay a seller from the hot wallet (no SHKeeper)',
    description:
      "A disbursement of the purchase request's funded escrow: to its offer's wallet (another one only with " +
      '`overrideReason`), for at most what the escrow still holds, and only while nothing else leaves it. The payout is ' +
      'recorded before anything is broadcast, broadcast once, and its receipt decides: success releases the escrow, a ' +
      'revert or failed send frees it again; without a receipt yet it stays in flight (the next call reads its receipt ' +
      'first). `force` never allows a second payout. Emits `payout-created`, then `payout-completed` or `payout-updated`.',
    auth: 'admin',
    idempotent: true,
    body: { schema: adminPayoutBody },
    responses: {
      200: json('Sent (completed), or broadcast and still waiting for its receipt (processing)', AdminPayoutSchema),
      502: json(
        'The transfer reverted (`success: false`, status `failed`), or the broadcast failed (`rpc_unavailable`, error shape)',
        z.union([AdminPayoutSchema, ErrorResponseSchema]),
      ),
    },
    errors: {
      404: ['purchase_request_not_found'],
      409: [
        'escrow_not_funded',
        'recipient_not_allowed',
        'currency_mismatch',
        'exceeds_escrow_balance',
        'disbursement_in_flight',
        'payout_outcome_unknown',
        'insufficient_balance',
        'transfer_would_revert',
        'insufficient_gas_funds',
      ],
      503: ['not_configured', 'contention'],
    },
  });
}
