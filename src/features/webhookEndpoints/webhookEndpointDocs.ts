import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { documentRoute, type DocsOptions, type RouteDoc } from '../../platform/openapi/documentRoute.js';
import { z } from '../../platform/openapi/zod.js';
import { EVENT_TYPES } from '../../core/events/paymentEventLog.js';
import { EVENT_DELIVERY_STATUSES } from '../../core/store/eventRecords.js';
import { json, okEnvelope } from '../shared/sharedSchemas.js';
import { deliveriesQuery, deliveryParams, endpointBody, endpointParams, endpointPatch, eventParams, eventsQuery, rotateBody } from './webhookEndpointRoutes.js';

/** Signed events out (src/features/webhookEndpoints), admin only. */

const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    enabled: z.boolean(),
    eventTypes: z.array(z.string()).openapi({ description: '`["*"]` for every type' }),
    secrets: z
      .array(z.object({ createdAt: z.string(), expiresAt: z.string().nullable() }))
      .openapi({ description: 'when each live secret was made; a retired one signs beside the new one until `expiresAt`. Never the secret itself.' }),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint');

const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: 'the new signing secret (`whsec_…`): shown in this answer only; keep it' }),
}).openapi('WebhookEndpointWithSecret');

const EventSchema = z
  .object({
    id: z.string(),
    object: z.literal('event'),
    type: z.enum(EVENT_TYPES),
    paymentId: z.string(),
    createdAt: z.string().openapi({ description: 'when the change it announces happened' }),
    data: z.record(z.string(), z.unknown()).openapi({
      description:
        '`payment`: the payment after the change (id, direction, provider, status, escrowState, amount, parties, received…); ' +
        'plus `previousStatus` on status events, `credit` on `escrow.excess_received`, `disbursement` on releases, refunds and ' +
        '`disbursement.in_doubt`, `reason` on `payment.attention_required`',
    }),
  })
  .openapi('Event');

const DeliverySchema = z
  .object({
    id: z.string(),
    endpointId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    paymentId: z.string(),
    status: z.enum(EVENT_DELIVERY_STATUSES),
    requestBody: z.string().openapi({ description: 'the exact bytes sent (each try signs them with a fresh timestamp)' }),
    responseCode: z.number().int().nullable(),
    responseBody: z.string().nullable().openapi({ description: 'the start of the latest answer (at most 1 KiB)' }),
    error: z.string().nullable(),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    attemptLog: z.array(z.object({ at: z.string(), responseCode: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number() })),
    deliveredAt: z.string().nullable(),
    redeliveryOf: z.string().nullable(),
    requestedBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('EventDelivery');

const SIGNING =
  'Each delivery is a POST of the event as JSON with `Escrow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` ' +
  "(Stripe's form; one `v1` per live secret), plus `Escrow-Event-Id`, `Escrow-Event-Type` and `Escrow-Delivery-Id`. A 2xx within " +
  'OUTBOUND_WEBHOOK_TIMEOUT_MS is delivered; anything else is retried with exponential backoff for OUTBOUND_WEBHOOK_RETRY_HOURS ' +
  '(72), in order per payment, then `failed`. Redirects are not followed.';

export function registerWebhookEndpointDocs(registry: OpenAPIRegistry, opts: DocsOptions): void {
  const doc = (d: Omit<RouteDoc, 'tag' | 'auth'>) => documentRoute(registry, opts, { tag: 'webhook endpoints', auth: 'admin', ...d });
  const one = json('The endpoint', okEnvelope(EndpointSchema));
  const withSecret = json('The endpoint and its new secret (shown once)', okEnvelope(EndpointWithSecretSchema));
  doc({
    method: 'post',
    path: '/webhook-endpoints',
    summary: 'Add an endpoint that receives signed events',
    description:
      `${SIGNING} The URL must be https in production and may not name a loopback, private, link-local or reserved address ` +
      '(checked again, with DNS, on every send) unless WEBHOOK_ENDPOINTS_ALLOW_PRIVATE is set.',
    body: { schema: endpointBody },
    responses: { 201: withSecret },
    errors: { 400: ['endpoint_url_refused'] },
  });
  doc({
    method: 'get',
    path: '/webhook-endpoints',
    summary: 'List the endpoints',
    responses: { 200: json('Every endpoint, oldest first', okEnvelope(z.object({ endpoints: z.array(EndpointSchema) }))) },
  });
  doc({
    method: 'get',
    path: '/webhook-endpoints/{id}',
    summary: 'One endpoint',
    params: endpointParams,
    responses: { 200: one },
    errors: { 404: ['webhook_endpoint_not_found'] },
  });
  doc({
    method: 'patch',
    path: '/webhook-endpoints/{id}',
    summary: 'Change an endpoint (URL, description, enabled, event types)',
    description: 'A disabled endpoint receives nothing; its queued deliveries end `skipped` (redeliver them once it is enabled again).',
    params: endpointParams,
    body: { schema: endpointPatch },
    responses: { 200: one },
    errors: { 400: ['endpoint_url_refused'], 404: ['webhook_endpoint_not_found'] },
  });
  doc({
    method: 'delete',
    path: '/webhook-endpoints/{id}',
    summary: 'Delete an endpoint',
    params: endpointParams,
    responses: { 200: json('Deleted', okEnvelope(z.object({ id: z.string(), deleted: z.literal(true) }))) },
    errors: { 404: ['webhook_endpoint_not_found'] },
  });
  doc({
    method: 'post',
    path: '/webhook-endpoints/{id}/rotate-secret',
    summary: 'Rotate the signing secret',
    description:
      'A new current secret; the replaced one keeps signing beside it for `overlapHours` (default 24, 0 retires it now), so each ' +
      'delivery then carries two `v1` signatures and receivers can switch without missing an event.',
    params: endpointParams,
    body: { schema: rotateBody, required: false },
    responses: { 200: withSecret },
    errors: { 404: ['webhook_endpoint_not_found'], 409: ['precondition_failed'] },
  });
  doc({
    method: 'get',
    path: '/webhook-endpoints/{id}/deliveries',
    summary: "An endpoint's deliveries, newest first (cursor pagination)",
    description: 'Each with the request body, the latest response code and body, the error, and the log of tries. Page with `starting_after` = the last id.',
    params: endpointParams,
    query: deliveriesQuery,
    responses: { 200: json('One page', okEnvelope(z.object({ deliveries: z.array(DeliverySchema), has_more: z.boolean() }))) },
    errors: { 400: ['cursor_not_found'], 404: ['webhook_endpoint_not_found'] },
  });
  doc({
    method: 'get',
    path: '/webhook-endpoints/{id}/deliveries/{deliveryId}',
    summary: 'One delivery',
    params: deliveryParams,
    responses: { 200: json('The delivery', okEnvelope(DeliverySchema)) },
    errors: { 404: ['event_delivery_not_found'] },
  });
  doc({
    method: 'post',
    path: '/webhook-endpoints/{id}/deliveries/{deliveryId}/redeliver',
    summary: 'Send a delivered, failed or skipped event again',
    description: 'Queues a new delivery of the same body (the log keeps both), behind what is still queued for the payment at this endpoint.',
    params: deliveryParams,
    responses: { 202: json('Queued', okEnvelope(DeliverySchema)) },
    errors: { 404: ['webhook_endpoint_not_found', 'event_delivery_not_found'], 409: ['delivery_pending', 'webhook_endpoint_disabled'] },
  });
  doc({
    method: 'get',
    path: '/events',
    summary: 'The event log, newest first (cursor pagination)',
    description:
      'Every event of every payment, written in the same atomic update as the change it announces. Page with ' +
      '`starting_after` = the last id of the previous page while `has_more`; filter by `type` or `paymentId`. Kept EVENT_RETENTION_DAYS.',
    query: eventsQuery,
    responses: { 200: json('One page', okEnvelope(z.object({ events: z.array(EventSchema), has_more: z.boolean() }))) },
    errors: { 400: ['cursor_not_found'] },
  });
  doc({
    method: 'get',
    path: '/events/{id}',
    summary: 'One event',
    params: eventParams,
    responses: { 200: json('The event', okEnvelope(EventSchema)) },
    errors: { 404: ['event_not_found'] },
  });
}
