import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { HistoryEntrySchema, MonitorStatusSchema, PaymentSchema, PaymentStatusSchema, json, okEnvelope } from '../shared/sharedSchemas.js';
import { describeSchema, z } from '../../platform/openapi/zod.js';
import { CSV_COLUMNS } from './paymentReports.js';
import { createPaymentBody, exportQuery, listQuery, updatePaymentBody, userParams } from './paymentSchemas.js';
import { idParams } from '../../platform/schemas.js';

/** Payment records (src/controller/paymentControllerRoutes.ts), mounted last under /api/payment. */

describeSchema(idParams.shape.id, {
  pattern: '^[0-9a-f]{24}$',
  description: 'payment id; anything but 24 lower-case hex characters is not this route (404 `route_not_found`)',
});
const statusText = 'comma-separated statuses (pending, processing, completed, failed, cancelled, released, refunded, success)';
describeSchema(listQuery.shape.status, { description: `${statusText}; default \`completed,success\``, example: 'pending,processing' });
describeSchema(listQuery.shape.limit, { description: 'page size, 1–200, default 50' });
describeSchema(listQuery.shape.offset, { description: 'rows to skip, default 0' });
describeSchema(exportQuery.shape.format, { description: 'default `json`' });
describeSchema(exportQuery.shape.status, { description: `${statusText}; default: every status` });

const PageSchema = okEnvelope(
  z.object({ payments: z.array(PaymentSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
).openapi('PaymentPage');

const StatsSchema = okEnvelope(
  z.object({
    userId: z.string(),
    count: z.number().int(),
    byStatus: z.array(
      z.object({ status: PaymentStatusSchema, currency: z.string(), count: z.number().int(), total: z.string().openapi({ description: 'exact decimal sum' }) }),
    ),
  }),
).openapi('PaymentStats');

const DebugSchema = okEnvelope(
  z.object({
    payment: PaymentSchema.extend({ providerData: z.record(z.string(), z.unknown()), history: z.array(HistoryEntrySchema) }),
    blockchain: z.object({
      network: z.string().nullable(),
      token: z.string().nullable(),
      transactionHash: z.string().nullable(),
      payAddress: z.string().nullable(),
      chainId: z.number().int().nullable().openapi({ description: "the payment's network's chain id; null when its network is not enabled here" }),
      confirmationsRequired: z.number().int().nullable(),
    }),
    monitors: z.record(z.string(), MonitorStatusSchema),
  }),
).openapi('PaymentDebug');

const onePayment = (description: string) => json(description, okEnvelope(PaymentSchema));

const exportResponse = {
  description:
    'Streamed as an attachment (`Content-Disposition: attachment; filename="payments-<user>-<date>.<format>"`, ' +
    '`Cache-Control: no-store`). A failure midway truncates the body.',
  content: {
    'application/json': { schema: z.array(PaymentSchema) },
    'text/csv': {
      schema: z.string().openapi({
        description: `header row then one row per payment: ${CSV_COLUMNS.join(', ')}. Cells starting with = + - @ are prefixed with '.`,
      }),
    },
  },
};

export function registerPaymentDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag'>) => documentRoute(registry, opts, { tag: 'payments', ...d });
  doc({
    method: 'post',
    path: '/',
    operationId: 'createPayment',
    summary: 'Create a pending manual payment',
    description: 'A non-admin may only be the buyer. Emits `payment-created` globally and to `request:<id>`.',
    auth: 'bearer',
    body: { schema: createPaymentBody },
    responses: { 201: onePayment('Created') },
    errors: {
      403: ['not_buyer'],
      404: ['purchase_request_not_found', 'seller_offer_not_found'],
      409: ['records_do_not_match', 'purchase_request_not_open', 'offer_not_pending', 'payment_exists'],
    },
  });
  doc({
    method: 'get',
    path: '/',
    operationId: 'listPayments',
    summary: "The caller's payments as buyer or seller",
    auth: 'bearer',
    query: listQuery,
    responses: { 200: json('A page, newest first', PageSchema) },
  });
  doc({
    method: 'get',
    path: '/user/{userId}',
    operationId: 'listUserPayments',
    summary: "A user's payments (self or admin)",
    auth: 'bearer',
    params: userParams,
    query: listQuery,
    responses: { 200: json('A page, newest first', PageSchema) },
    errors: { 403: ['forbidden_user'] },
  });
  for (const path of ['/stats', '/stats/{userId}']) {
    doc({
      method: 'get',
      path,
      operationId: path === '/stats' ? 'getPaymentStats' : 'getUserPaymentStats',
      summary: path === '/stats' ? "The caller's payment totals" : "A user's payment totals (self or admin)",
      auth: 'bearer',
      ...(path === '/stats' ? {} : { params: userParams }),
      responses: { 200: json('Counts and exact totals by status and currency', StatsSchema) },
      errors: path === '/stats' ? {} : { 403: ['forbidden_user'] },
    });
  }
  for (const path of ['/export', '/export/{userId}']) {
    doc({
      method: 'get',
      path,
      operationId: path === '/export' ? 'exportPayments' : 'exportUserPayments',
      summary: path === '/export' ? "Export the caller's payments" : "Export a user's payments (self or admin)",
      auth: 'bearer',
      ...(path === '/export' ? {} : { params: userParams }),
      query: exportQuery,
      responses: { 200: exportResponse },
      errors: path === '/export' ? {} : { 403: ['forbidden_user'] },
    });
  }
  doc({
    method: 'get',
    path: '/{id}',
    operationId: 'getPayment',
    summary: 'One payment (its buyer, its seller or an admin)',
    auth: 'bearer',
    params: idParams,
    responses: { 200: onePayment('The payment') },
    errors: { 404: ['payment_not_found'] },
  });
  doc({
    method: 'put',
    path: '/{id}',
    operationId: 'updatePayment',
    summary: 'Update a payment: status (admin), cancel, metadata or a claimed transaction hash',
    description:
      'Admins cancel or fail a payment along the transition table, and complete one only with a `transactionHash` the chain ' +
      'proves pays it (same settlement as every other path; otherwise 409 `evidence_required`). A party may cancel its own ' +
      '`pending` payment, merge `metadata`, or attach a `transactionHash` (a claim: it reserves nothing and changes no status). ' +
      'Nobody marks their own payment `completed`. `released`/`refunded` are reached only through the escrow routes ' +
      '(`disbursement_required`). Payouts (outbound rows) are read-only: `outbound_read_only`.',
    auth: 'bearer',
    params: idParams,
    body: { schema: updatePaymentBody },
    responses: { 200: onePayment('The updated payment') },
    errors: {
      400: ['conflicting_fields'],
      403: ['self_completion_forbidden', 'status_change_forbidden', 'outbound_read_only', 'not_buyer'],
      404: ['payment_not_found'],
      409: [
        'evidence_required',
        'disbursement_required',
        'transfer_mismatch',
        'wallet_not_proven',
        'transaction_not_found',
        'not_deep_enough',
        'transfer_already_credited',
        'invalid_transition',
        'payment_not_pending',
        'network_fixed',
        'payment_not_open',
        'transaction_hash_already_set',
        'transaction_hash_in_use',
        'precondition_failed',
      ],
      502: ['rpc_unavailable', 'rpc_error', 'rpc_wrong_chain'],
      503: ['contention', 'lock_timeout', 'not_configured', 'decimals_mismatch'],
    },
  });
  doc({
    method: 'get',
    path: '/{id}/debug',
    operationId: 'getPaymentDebug',
    summary: 'A payment with its transition history, chain facts and monitor states',
    description: 'Only 24-hex ids reach this route, so `/user/debug` is never read as a debug request.',
    auth: 'admin',
    params: idParams,
    responses: { 200: json('The debug bundle', DebugSchema) },
    errors: { 404: ['payment_not_found'] },
  });
}
