import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../openapi/documentRoute.js';
import { PaymentSchema, json, messageEnvelope, okEnvelope } from '../openapi/sharedSchemas.js';
import { describeSchema, z } from '../openapi/zod.js';
import { confirmBody, params } from './escrowRoutes.js';

/** Escrow release / refund under /shkeeper (src/escrow/escrowRoutes.ts), admin only. */

describeSchema(params.shape.id, {
  pattern: '^[0-9a-f]{24}$',
  description: 'payment id; anything but 24 lower-case hex characters is not this route (404 `route_not_found`)',
});

const PreparedSchema = okEnvelope(
  z.object({
    payload: z
      .object({
        to: z.string().openapi({ description: 'the token contract' }),
        data: z.string().openapi({ description: 'ERC-20 `transfer(recipient, baseUnits)`' }),
        value: z.literal('0x0'),
        chainId: z.number().int(),
        from: z.string().openapi({ description: 'the escrow address' }),
        gasLimit: z.string().openapi({ description: "hex quantity: the node's estimate + 20 %" }),
        nonce: z.number().int(),
      })
      .loose()
      .openapi({ description: 'the unsigned EVM transaction to sign and broadcast as is' }),
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
      })
      .openapi({ description: 'what the payload does, for a human to check' }),
  }),
).openapi('EscrowPreparedTransfer');

const ConfirmedSchema = messageEnvelope(PaymentSchema).openapi('EscrowConfirmation');

const ACTION_TEXT = {
  release: { to: "the seller (the offer's `walletAddress`)", wallet: 'seller_wallet_missing', status: 'released', request: 'seller_paid' },
  refund: {
    to: 'the buyer (the wallet the pay-in came from, else the purchase request\'s `buyerWalletAddress`)',
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
        'Only for a `completed` payment with escrow `funded`. The server holds no escrow key: it returns the unsigned ' +
        'transfer for the admin\'s wallet. Asking again returns the same payload.',
      auth: 'admin',
      idempotent: true,
      params,
      responses: { 200: json('The transfer to sign', PreparedSchema) },
      errors: {
        404: ['payment_not_found'],
        409: ['escrow_not_funded', 'other_action_prepared', t.wallet, 'transfer_would_revert', 'insufficient_gas_funds', 'precondition_failed'],
        502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
        503: ['not_configured'],
      },
    });
    doc({
      method: 'post',
      path: `/shkeeper/{id}/${kind}/confirm`,
      summary: `Confirm the ${kind} with the broadcast transaction; the chain decides`,
      description:
        'Checked on chain first: a successful transfer of the configured token from the escrow address to the expected ' +
        `recipient for exactly the amount, with \`BSC_CONFIRMATIONS\` confirmations. Then, exactly once: status and escrow ` +
        `\`${t.status}\`, the purchase request \`${t.request}\`, \`purchase-request-update\` to the request room. ` +
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
        404: ['payment_not_found'],
        409: ['escrow_not_funded', 'transaction_hash_in_use', 'transaction_not_found', 'transfer_mismatch', t.wallet],
        502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
        503: ['not_configured', 'contention', 'lock_timeout'],
      },
    });
  }
  doc({
    method: 'delete',
    path: '/shkeeper/{id}/prepared',
    summary: 'Withdraw the prepared release or refund',
    auth: 'admin',
    params,
    responses: { 200: json('What was withdrawn', okEnvelope(z.object({ cancelled: z.enum(['release', 'refund']) }))) },
    errors: { 404: ['payment_not_found', 'nothing_prepared'], 409: ['escrow_not_funded', 'precondition_failed'] },
  });
}
