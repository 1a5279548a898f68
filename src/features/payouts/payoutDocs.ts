import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { ErrorResponseSchema } from '../../platform/openapi/components.js';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { PaymentStatusSchema, json } from '../shared/sharedSchemas.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';
import { payoutBody, payoutCallback, payoutIdParams, taskParams } from './payoutSchemas.js';

/** SHKeeper payouts: src/payouts/shkeeperPayoutRoutes.ts and the payout webhook of shkeeperWebhookRoutes.ts. */

describeSchema(payoutBody.shape.token, { default: 'USDT', description: 'token symbol, upper-cased' });
describeSchema(payoutBody.shape.network, { default: 'bsc' });
describeSchema(payoutBody.shape.force, {
  description: 'accepted for old clients and recorded; it never allows a second payout of an escrow (one in flight, or released / refunded)',
});
describeSchema(payoutBody.shape.overrideReason, {
  description: "why an admin pays another wallet than the offer's; required when `recipientAddress` is not that wallet (recorded on the escrow)",
});

const PayoutCreatedSchema = z
  .object({
    success: z.literal(true),
    data: z.object({ payoutId: z.string(), taskId: z.string(), status: PaymentStatusSchema }),
    message: z.string(),
  })
  .openapi('PayoutCreated');

const PayoutTaskSchema = z
  .object({
    success: z.literal(true),
    data: z.object({
      taskId: z.string(),
      status: z.string().openapi({ description: "SHKeeper's task status (PENDING, SUCCESS, FAILURE…)" }),
      result: z.unknown().openapi({ description: "SHKeeper's task result (txids, or the failure message)" }),
      payoutId: z.string(),
      payoutStatus: PaymentStatusSchema,
    }),
  })
  .openapi('PayoutTask');

const PayoutWebhookAnswer = z
  .object({
    success: z.boolean(),
    message: z.string(),
    data: z.object({ deliveryId: z.string().openapi({ description: 'the recorded delivery; the inbox applies it' }) }).nullable(),
  })
  .openapi('PayoutWebhookAnswer', { description: "SHKeeper's `{ success, message, data }`, for errors too (not the API's error shape)" });

const PayoutWebhookRefusal = PayoutWebhookAnswer.extend({
  data: z.null(),
  error: z.object({ code: z.string(), message: z.string() }).openapi({ description: "the catalog's code, as every other refusal carries" }),
}).openapi('PayoutWebhookRefusal', { description: "SHKeeper's `{ success: false, message, data: null }`, with the API's `error` beside it" });

const webhookHeaders = z.object({
  'X-Shkeeper-Timestamp': z.string().regex(/^\d+$/).optional().openapi({ description: 'unix seconds; signs `ts + "." + body`' }),
  'X-Shkeeper-Signature': z.string().openapi({ description: 'hex HMAC-SHA256 (see the security scheme); no API-key form here' }),
});

export function registerPayoutDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'payouts', ...d });
  doc({
    method: 'post',
    path: '/shkeeper/payout',
    summary: 'Pay a seller through SHKeeper',
    description:
      "A disbursement of the purchase request's funded escrow (its one `completed` inbound payment): the offer must be that " +
      "escrow's offer, `recipientAddress` its wallet (another one only with `overrideReason`), `token` the escrow's currency " +
      'and `amount` at most what the escrow still holds. The disbursement is opened first — it holds the escrow against ' +
      'release, refund and hot-wallet payouts — then the outbound Payment (`direction: out`, `externalId: PAYOUT_<id>`, ' +
      '`escrowPaymentId`) is written, then SHKeeper is called with the crypto fixed on the payout. SHKeeper refusing → ' +
      '502, payout `failed`, escrow free again. A lost answer (timeout, reset) → 502, payout `pending`, disbursement in ' +
      'doubt: nothing else can leave the escrow (`payout_outcome_unknown`) until SHKeeper answers for it (callback, task ' +
      "status, reconciler by external id); it is never re-sent. SHKeeper's success releases the escrow. Emits `payout-created`.",
    auth: 'admin',
    idempotent: true,
    body: { schema: payoutBody },
    responses: { 200: json('Sent to SHKeeper', PayoutCreatedSchema) },
    errors: {
      400: ['unsupported_token'],
      404: ['purchase_request_not_found', 'seller_offer_not_found'],
      409: [
        'records_do_not_match',
        'escrow_not_funded',
        'recipient_not_allowed',
        'currency_mismatch',
        'exceeds_escrow_balance',
        'disbursement_in_flight',
        'payout_outcome_unknown',
      ],
      502: ['shkeeper_error', 'shkeeper_auth', 'shkeeper_timeout', 'shkeeper_unreachable', 'shkeeper_duplicate_payout'],
      503: ['not_configured', 'contention'],
    },
  });
  doc({
    method: 'get',
    path: '/shkeeper/payout/status/{taskId}',
    summary: "Poll a payout's SHKeeper task and move the payout (and its escrow) to match (its buyer, its seller or an admin)",
    auth: 'bearer',
    params: taskParams,
    responses: { 200: json("The task and the payout's status", PayoutTaskSchema) },
    errors: {
      404: ['payout_not_found'],
      502: ['shkeeper_error', 'shkeeper_auth', 'shkeeper_timeout', 'shkeeper_unreachable'],
      503: ['not_configured'],
    },
  });
  doc({
    method: 'post',
    path: '/shkeeper/payout/{payoutId}/abandon',
    summary: "Abandon an open payout, only on SHKeeper's word that it was not executed (admin)",
    description:
      'SHKeeper is asked now, in the crypto the payout was sent in. "Never received" or failed: the payout and its ' +
      'disbursement fail and the escrow is free again. Paid: recorded as completed (409 `payout_not_open`). Anything ' +
      'else: 409 `payout_outcome_unknown` — it may still pay.',
    auth: 'admin',
    params: payoutIdParams,
    responses: {
      200: json(
        'Abandoned',
        z.object({ success: z.literal(true), message: z.string(), data: z.object({ payoutId: z.string(), status: z.literal('failed') }) }),
      ),
    },
    errors: {
      404: ['payout_not_found'],
      409: ['payout_not_open', 'payout_outcome_unknown'],
      502: ['shkeeper_error', 'shkeeper_auth', 'shkeeper_timeout', 'shkeeper_unreachable'],
      503: ['not_configured'],
    },
  });
  doc({
    method: 'post',
    path: '/shkeeper/payout/webhook',
    summary: "SHKeeper's payout callback",
    description:
      'Verified on the raw bytes (HMAC forms only). **Answers 202, not 200**, once recorded (SHKeeper retries anything ' +
      'else, at most 7 times); the inbox then applies it, deduplicated by (external id, tx hash), a failure of ours ' +
      'retried there. Errors use `{ success: false, message, data: null }` with the `error` code beside it.',
    auth: 'signature',
    rawBody: true,
    headers: webhookHeaders,
    body: { schema: payoutCallback, contentTypes: ['application/json', 'text/plain'], description: 'A flat payout callback' },
    responses: {
      202: json('Recorded (`data.deliveryId`); the inbox applies it', PayoutWebhookAnswer),
      400: json(
        'Not a payout callback (`validation_error`), nested too deep (`json_too_deep`), text no store keeps as sent (`invalid_text`); or a body the parser refused (error shape)',
        z.union([PayoutWebhookRefusal, ErrorResponseSchema]),
      ),
      401: json('Signature missing or invalid (`invalid_signature`)', PayoutWebhookRefusal),
      503: json(
        'SHKEEPER_WEBHOOK_SECRET (or SHKEEPER_API_KEY) is not configured; or rate limiting is unavailable (`rate_limit_unavailable`, error shape)',
        z.union([PayoutWebhookRefusal, ErrorResponseSchema]),
      ),
    },
  });
}
