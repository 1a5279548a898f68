import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { json, okEnvelope } from '../shared/sharedSchemas.js';
import { z } from '../../platform/openapi/zod.js';
import { createTestPaymentBody, triggerWebhookBody } from './shkeeperSchemas.js';

/** src/shkeeper/shkeeperDevRoutes.ts: mounted only when ENABLE_DEV_ROUTES is on, documented only then. */

const Attempt = z.object({ ok: z.boolean(), result: z.unknown().optional(), error: z.string().optional() });

const Echo = okEnvelope(
  z.object({
    method: z.string(),
    query: z.record(z.string(), z.unknown()),
    body: z.unknown().openapi({ description: 'the parsed JSON body, or null' }),
    headers: z.record(z.string(), z.unknown()).openapi({ description: 'without authorization, cookie and SHKeeper secrets' }),
    receivedAt: z.string().openapi({ format: 'date-time' }),
  }),
);

export function registerShkeeperDevDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag' | 'devOnly'>) => documentRoute(registry, opts, { tag: 'shkeeper', devOnly: true, ...d });
  doc({
    method: 'post',
    path: '/shkeeper/test',
    summary: 'Check the connection to SHKeeper (crypto list, one authenticated call)',
    auth: 'none',
    responses: {
      200: json('What each call did', okEnvelope(z.object({ cryptoList: Attempt, authenticatedCall: Attempt }))),
    },
    errors: { 503: ['not_configured'] },
  });
  for (const method of ['get', 'post'] as const) {
    doc({
      method,
      path: '/shkeeper/callback-test',
      summary: 'Echo the request (to check what a caller sends)',
      auth: 'none',
      responses: { 200: json('The request as received', Echo) },
    });
  }
  doc({
    method: 'post',
    path: '/shkeeper/create-test-payment',
    summary: 'Create a purchase request, an offer and a pending SHKeeper test payment',
    auth: 'none',
    body: { schema: createTestPaymentBody, required: false },
    responses: {
      201: json(
        'Created',
        okEnvelope(z.object({ paymentId: z.string(), externalId: z.string().nullable(), purchaseRequestId: z.string(), sellerOfferId: z.string() })),
      ),
    },
  });
  doc({
    method: 'post',
    path: '/shkeeper/trigger-webhook',
    summary: 'Send this server a correctly signed invoice callback for a payment',
    description: 'Admin only, even in development: a signed PAID delivery completes a payment.',
    auth: 'admin',
    body: { schema: triggerWebhookBody },
    responses: {
      200: json(
        "The webhook's answer and the payload sent",
        okEnvelope(z.object({ webhookStatus: z.number().int(), webhookResponse: z.unknown(), payload: z.record(z.string(), z.unknown()) })),
      ),
    },
    errors: { 404: ['payment_not_found'], 503: ['not_configured'] },
  });
}
