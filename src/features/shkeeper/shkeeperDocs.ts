import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { MonitorStatusSchema, PaymentStatusSchema, json, okEnvelope } from '../shared/sharedSchemas.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';
import { confirmTransactionBody, intentBody } from './shkeeperSchemas.js';
import { invoiceCallback, unconfirmedCallback } from '../../adapters/shkeeper/webhookPayload.js';

/** SHKeeper pay-in: src/shkeeper/shkeeperRoutes.ts and the invoice webhook of shkeeperWebhookRoutes.ts. */

describeSchema(intentBody.shape.token, {
  default: 'USDT',
  description:
    "an enabled token of `network` in the registry (POST /configuration lists them), and the offer's currency: 400 `unsupported_token` / 409 `records_do_not_match` otherwise",
});
describeSchema(intentBody.shape.network, {
  default: 'bsc',
  description: "an enabled network id of the registry (NETWORKS; bsc by default); the invoice is in its token's SHKeeper crypto",
});

const IntentSchema = okEnvelope(
  z.object({
    paymentId: z.string(),
    paymentUrl: z.string().nullable().openapi({ description: "SHKeeper's hosted invoice page" }),
    externalId: z.string().nullable().openapi({ example: 'AMN_65a0c0ffee00000000000001' }),
    expiresAt: z.string().nullable().openapi({ format: 'date-time' }),
    payAddress: z.string().nullable().openapi({ description: 'the invoice address to pay' }),
    amountCrypto: z.string().nullable(),
    crypto: z.string().nullable().openapi({ example: 'BNB-USDT' }),
  }),
).openapi('ShkeeperIntent');

const ConfirmationSchema = z
  .object({
    success: z.literal(true),
    message: z.string(),
    data: z.object({ paymentId: z.string(), transactionHash: z.string().nullable(), status: PaymentStatusSchema }),
  })
  .openapi('TransactionConfirmation');

const DeliveryStatsSchema = z.object({
  total: z.number().int(),
  success: z.number().int(),
  duplicate: z.number().int(),
  badSignature: z.number().int(),
  failure: z.number().int(),
  latePayments: z.number().int(),
  stale: z.number().int(),
  inFlight: z.number().int(),
  excess: z.number().int().openapi({ description: 'deliveries whose money was recorded as excess (after completion)' }),
  refused: z.number().int().openapi({ description: 'signed deliveries for another crypto or address: nothing funded' }),
  inbox: z
    .object({
      depth: z.number().int().openapi({ description: 'deliveries recorded (answered 202) and not yet applied' }),
      running: z.number().int().openapi({ description: 'of those, being applied now' }),
      dead: z.number().int().openapi({ description: 'deliveries whose every attempt failed (WEBHOOK_INBOX_MAX_ATTEMPTS): an operator’s' }),
      lagSeconds: z.number().openapi({ description: 'age of the oldest delivery not yet applied; 0 when none waits' }),
    })
    .openapi({ description: 'The webhook inbox: what was answered and is still to be applied' }),
});

const webhookHeaders = z.object({
  'X-Shkeeper-Timestamp': z.string().regex(/^\d+$/).optional().openapi({ description: 'unix seconds; signs `ts + "." + body`' }),
  'X-Shkeeper-Signature': z.string().optional().openapi({ description: 'hex HMAC-SHA256 (see the security scheme)' }),
  'X-Shkeeper-Api-Key': z.string().optional().openapi({ description: 'accepted only with SHKEEPER_ALLOW_LEGACY_API_KEY=true' }),
});

const Accepted = z.object({ success: z.literal(true) }).openapi('WebhookAccepted');

export function registerShkeeperDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'shkeeper', ...d });
  doc({
    method: 'post',
    path: '/shkeeper/intents',
    summary: "Create (or return the live) SHKeeper invoice for an offer — the request's buyer only",
    description:
      'Amount and seller must match the offer. The Payment is written before SHKeeper is asked; if SHKeeper fails the ' +
      'payment is marked `failed`. One live intent per offer: a repeat returns the same intent. Emits `payment-created`.',
    auth: 'bearer',
    idempotent: true,
    body: { schema: intentBody },
    responses: { 200: json('The invoice to pay (200 for a new and for a repeated intent)', IntentSchema) },
    errors: {
      400: ['unsupported_token'],
      403: ['not_buyer'],
      404: ['purchase_request_not_found', 'seller_offer_not_found'],
      409: ['records_do_not_match', 'offer_not_open', 'payment_exists'],
      502: ['shkeeper_error', 'shkeeper_timeout', 'shkeeper_unreachable', 'shkeeper_auth'],
      503: ['not_configured'],
    },
  });
  doc({
    method: 'post',
    path: '/shkeeper/confirm-transaction',
    summary: 'Confirm a pay-in by its transaction: the chain decides (party or admin)',
    description:
      "The chain is read: an ERC-20 `Transfer` of the configured token to the invoice's own pay address (any sender), " +
      '`BSC_CONFIRMATIONS` deep, is credited to the escrow for what it moved (its sender recorded as the payer). The ' +
      'payment completes once what arrived reaches the price less `UNDERPAYMENT_TOLERANCE`; below that it stays ' +
      '`processing` (202) with the shortfall recorded. A claim the chain does not prove (refuted, not mined, unknown) ' +
      'changes and reserves nothing. On a completed payment only its own funding hash answers "already confirmed"; a ' +
      'new real transfer to the invoice address is recorded as excess (200, said in `message`), any other hash is 409 ' +
      '`transfer_mismatch` (`details.reason: not_this_payment`). On a cancelled or failed payment a real transfer is ' +
      'recorded as excess for an admin and nothing else changes.',
    auth: 'bearer',
    body: { schema: confirmTransactionBody },
    responses: {
      200: json('Confirmed (`status: completed`), already confirmed, or a transfer recorded as excess', ConfirmationSchema),
      202: json('Seen but not deep enough yet, or credited but short of the price (`status: processing`); confirm again later', ConfirmationSchema),
    },
    errors: {
      400: ['unsupported_network'],
      404: ['payment_not_found'],
      409: ['no_pay_address', 'payment_closed', 'transaction_not_found', 'transfer_mismatch', 'transfer_already_credited'],
      502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
      503: ['not_configured', 'decimals_mismatch', 'contention'],
    },
  });
  for (const [path, name] of [
    ['/shkeeper/wallet-monitor/status', 'wallet monitor (Transfer logs to open pay addresses)'],
    ['/shkeeper/auto-webhook/status', 'auto-webhook fallback (polls SHKeeper invoices)'],
  ] as const) {
    doc({
      method: 'get',
      path,
      summary: `State of the ${name}`,
      auth: 'none',
      responses: { 200: json('Its state (`data: null` when the monitor is not registered)', okEnvelope(MonitorStatusSchema.nullable())) },
    });
  }
  doc({
    method: 'get',
    path: '/shkeeper/webhook-stats',
    summary: 'Webhook delivery counters and the inbox, from the recorded deliveries',
    auth: 'admin',
    responses: { 200: json('Counters per webhook kind', okEnvelope(z.object({ invoice: DeliveryStatsSchema, payout: DeliveryStatsSchema }))) },
  });
  doc({
    method: 'post',
    path: '/shkeeper/webhook',
    summary: "SHKeeper's invoice callback",
    description:
      "Verified on the raw bytes before anything is parsed (any Content-Type). **Answers 202, not the spec's 200**: " +
      "SHKeeper counts only 202 as delivered and re-sends anything else every ~60 s. Each transaction of the invoice's " +
      'crypto to its pay address is credited to the escrow for what it brought (`amount_crypto`), whatever the status ' +
      'word says: the payment completes once what arrived reaches the price less `UNDERPAYMENT_TOLERANCE`, stays ' +
      '`processing` with the shortfall recorded below that, and money after completion or for a cancelled/failed ' +
      'payment is recorded as excess. A callback for another crypto or address is recorded as `refused` and funds ' +
      'nothing. **The 202 comes once the delivery is recorded**; the inbox applies it right after (deliveries of one ' +
      'invoice in arrival order; a failure of ours retried with backoff, not left to SHKeeper), and its outcome — ' +
      'applied, duplicate, stale, late, excess, refused, unknown invoice — is written on the delivery (see ' +
      '`webhook-stats`). A failure to record it is a 5xx so SHKeeper retries.',
    auth: 'signature',
    rawBody: true,
    headers: webhookHeaders,
    body: {
      schema: z.union([invoiceCallback, unconfirmedCallback]),
      contentTypes: ['application/json', 'text/plain'],
      description: 'An invoice callback (PAID / OVERPAID / PARTIAL) or the `unconfirmed` variant; extra fields are allowed',
    },
    responses: { 202: json('Recorded; the inbox applies it', Accepted) },
    errors: { 400: ['malformed_json', 'json_too_deep', 'invalid_text', 'validation_error'], 503: ['not_configured'] },
  });
}
