import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { PaymentSchema, json, messageEnvelope, okEnvelope } from '../shared/sharedSchemas.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';
import { confirmBody, params, prepareBody, recipientOverride } from './escrowRoutes.js';

/** Escrow release / refund under /shkeeper (src/escrow/escrowRoutes.ts), admin only. */

describeSchema(params.shape.id, {
  pattern: '^[0-9a-f]{24}$',
  description: 'payment id; anything but 24 lower-case hex characters is not this route (404 `route_not_found`)',
});

describeSchema(recipientOverride, {
  description:
    "Pay this address instead of the rule's recipient (the offer's wallet for a release, the proven payer for a refund). " +
    'Admin only, with a reason; recorded on the disbursement and in the payment history.',
});

const PreparedSchema = okEnvelope(
  z.object({
    payload: z
      .object({
        from: z.string().openapi({ description: 'the escrow address' }),
        to: z.string().openapi({ description: 'the token contract' }),
        data: z.string().openapi({ description: 'ERC-20 `transfer(recipient, baseUnits)`' }),
        value: z.literal('0x0'),
        gas: z.string().openapi({ description: "hex quantity: the node's estimate + 20 %" }),
        chainId: z.string().openapi({ description: 'hex quantity' }),
      })
      .openapi({
        description:
          'The EIP-1193 `eth_sendTransaction` parameters, to send as they are: every number a hex quantity, no nonce ' +
          '(the wallet picks it, so the payload never goes stale).',
      }),
    summary: z
      .object({
        action: z.enum(['release', 'refund']),
        recipient: z.string(),
        amount: z.string(),
        amountBaseUnits: z.string(),
        token: z.string(),
        tokenAddress: z.string(),
        network: z.literal('bsc'),
        chainId: z.number().int(),
        from: z.string(),
        override: z.object({ by: z.string(), reason: z.string() }).nullable().openapi({ description: 'set when an admin named another recipient' }),
      })
      .openapi({ description: 'what the payload does, for a human to check' }),
    disbursementId: z.string().openapi({ description: 'the prepared disbursement holding the escrow' }),
  }),
).openapi('EscrowPreparedTransfer');

const ConfirmedSchema = messageEnvelope(PaymentSchema).openapi('EscrowConfirmation');

const ACTION_TEXT = {
  release: { to: "the seller (the offer's `walletAddress`)", wallet: 'seller_wallet_missing', status: 'released', request: 'seller_paid' },
  refund: {
    to: "the buyer (the proven payer: the wallet the funding transfer came from, else the purchase request's `buyerWalletAddress`)",
    wallet: 'buyer_wallet_missing',
    status: 'refunded',
    request: 'refunded',
  },
} as const;

export function registerEscrowDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'escrow', ...d });
  for (const kind of ['release', 'refund'] as const) {
    const t = ACTION_TEXT[kind];
    doc({
      method: 'post',
      path: `/shkeeper/{id}/${kind}`,
      summary: `Prepare the ${kind} of a funded escrow to ${t.to}`,
      description:
        'Only for a `completed` payment with escrow `funded` and nothing else leaving it. Opens a disbursement of the ' +
        "escrow (state `prepared`) holding the unsigned transfer for the admin's wallet — the server holds no escrow key — " +
        'and refuses every other way out of the escrow (release, refund, payouts) until it is confirmed or withdrawn. ' +
        'Amount: the price (or what arrived, when less) for a release; everything the escrow still holds for a refund. ' +
        'Asking again returns the same payload.',
      auth: 'admin',
      idempotent: true,
      params,
      body: { schema: prepareBody, required: false },
      responses: { 200: json('The transfer to sign', PreparedSchema) },
      errors: {
        400: ['unsupported_network'],
        404: ['payment_not_found'],
        409: [
          'escrow_not_funded',
          'disbursement_in_flight',
          'payout_outcome_unknown',
          'exceeds_escrow_balance',
          t.wallet,
          'transfer_would_revert',
          'insufficient_gas_funds',
        ],
        502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
        503: ['not_configured', 'contention'],
      },
    });
    doc({
      method: 'post',
      path: `/shkeeper/{id}/${kind}/confirm`,
      summary: `Confirm the ${kind} with the broadcast transaction; the chain decides`,
      description:
        'Checked on chain first: a successful transfer of the configured token from the escrow address to the prepared ' +
        "disbursement's recipient for exactly its amount, with `BSC_CONFIRMATIONS` confirmations. With nothing prepared, " +
        `the rule's recipient (or \`recipientOverride\`) and the default amount are expected, and the disbursement is opened ` +
        `and settled in one step. Then, exactly once: status and escrow \`${t.status}\`, the purchase request ` +
        `\`${t.request}\`, \`purchase-request-update\` to the request room; nothing can leave the escrow again. ` +
        '`Idempotency-Key` is honoured for final answers; a 202 is not stored, so a retry with the same key runs again.',
      auth: 'admin',
      idempotent: true,
      params,
      body: { schema: confirmBody },
      responses: {
        200: json(`Settled (\`${t.status}\`), or already settled by this transaction`, ConfirmedSchema),
        202: json('Seen but not deep enough yet; nothing changed, confirm again later', ConfirmedSchema),
      },
      errors: {
        400: ['unsupported_network'],
        404: ['payment_not_found'],
        409: [
          'escrow_not_funded',
          'disbursement_in_flight',
          'payout_outcome_unknown',
          'exceeds_escrow_balance',
          'transaction_hash_in_use',
          'transaction_not_found',
          'transfer_mismatch',
          'precondition_failed',
          t.wallet,
        ],
        502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
        503: ['not_configured', 'contention', 'lock_timeout'],
      },
    });
  }
  doc({
    method: 'delete',
    path: '/shkeeper/{id}/prepared',
    summary: 'Withdraw the prepared release or refund',
    description:
      'Only a `prepared` escrow transaction can be withdrawn. A payout in flight (submitted to SHKeeper or broadcast from the ' +
      "hot wallet, or in doubt after a lost answer) is not: it moves only on the provider's or the chain's evidence.",
    auth: 'admin',
    params,
    responses: { 200: json('What was withdrawn', okEnvelope(z.object({ cancelled: z.enum(['release', 'refund']) }))) },
    errors: {
      404: ['payment_not_found', 'nothing_prepared'],
      409: ['escrow_not_funded', 'disbursement_in_flight', 'payout_outcome_unknown'],
      503: ['contention'],
    },
  });
}
