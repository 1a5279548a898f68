import { Router } from 'express';
import { z } from 'zod';
import { principalOf, requireAdmin } from '../../platform/auth/authMiddleware.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import { endpoint, ok } from '../../platform/http/http.js';
import { objectIdSchema, queryInt } from '../../platform/schemas.js';
import { EVENT_TYPES } from '../../core/events/paymentEventLog.js';
import type { EndpointService } from './endpointService.js';
import { deliveryView, type EventLog } from './eventLog.js';

const eventType = z.enum(EVENT_TYPES);
/** `['*']` for every type, or a list of known types (unknown ones are refused: a typo would silently receive nothing). */
export const eventTypes = z.union([z.tuple([z.literal('*')]), z.array(eventType).min(1).max(EVENT_TYPES.length)]);
export const endpointBody = z.strictObject({
  url: z.string().min(1).max(2048),
  description: z.string().trim().max(300).nullable().optional(),
  enabled: z.boolean().optional(),
  eventTypes: eventTypes.optional(),
});
export const endpointPatch = endpointBody.partial();
export const rotateBody = z.strictObject({
  /** How long the replaced secret keeps signing beside the new one: 0 retires it now. */
  overlapHours: z.number().int().min(0).max(168).optional(),
});
export const endpointParams = z.object({ id: objectIdSchema });
export const deliveryParams = z.object({ id: objectIdSchema, deliveryId: objectIdSchema });
export const eventParams = z.object({ id: objectIdSchema });
export const eventsQuery = z.strictObject({
  limit: queryInt(1, 100, 20),
  starting_after: objectIdSchema.optional(),
  type: eventType.optional(),
  paymentId: objectIdSchema.optional(),
});
export const deliveriesQuery = z.strictObject({ limit: queryInt(1, 100, 20), starting_after: objectIdSchema.optional() });

export interface WebhookEndpointRouteDeps {
  tokens: TokenService;
  endpoints: EndpointService;
  eventLog: EventLog;
}

/** Admin only: webhook endpoints, their deliveries and redelivery, and the event log. */
export function webhookEndpointRoutes(deps: WebhookEndpointRouteDeps): Router {
  const router = Router();
  const admin = requireAdmin(deps.tokens);
  const { endpoints, eventLog } = deps;

  router.post(
    '/webhook-endpoints',
    admin,
    endpoint({ body: endpointBody }, async ({ body }, req) => ok(await endpoints.create(principalOf(req).userId, body)), { status: 201 }),
  );
  router.get(
    '/webhook-endpoints',
    admin,
    endpoint({}, async () => ok({ endpoints: await endpoints.list() })),
  );
  router.get(
    '/webhook-endpoints/:id',
    admin,
    endpoint({ params: endpointParams }, async ({ params }) => ok(await endpoints.get(params.id))),
  );
  router.patch(
    '/webhook-endpoints/:id',
    admin,
    endpoint({ params: endpointParams, body: endpointPatch }, async ({ params, body }) => ok(await endpoints.update(params.id, body))),
  );
  router.delete(
    '/webhook-endpoints/:id',
    admin,
    endpoint({ params: endpointParams }, async ({ params }) => {
      await endpoints.remove(params.id);
      return ok({ id: params.id, deleted: true });
    }),
  );
  router.post(
    '/webhook-endpoints/:id/rotate-secret',
    admin,
    endpoint({ params: endpointParams, body: rotateBody }, async ({ params, body }) => ok(await endpoints.rotateSecret(params.id, body.overlapHours ?? 24))),
  );
  router.get(
    '/webhook-endpoints/:id/deliveries',
    admin,
    endpoint({ params: endpointParams, query: deliveriesQuery }, async ({ params, query }) => {
      await endpoints.get(params.id);
      return ok(await eventLog.deliveries(params.id, { limit: query.limit, startingAfter: query.starting_after }));
    }),
  );
  router.get(
    '/webhook-endpoints/:id/deliveries/:deliveryId',
    admin,
    endpoint({ params: deliveryParams }, async ({ params }) => ok(await eventLog.delivery(params.id, params.deliveryId))),
  );
  router.post(
    '/webhook-endpoints/:id/deliveries/:deliveryId/redeliver',
    admin,
    endpoint(
      { params: deliveryParams },
      async ({ params }, req) => ok(deliveryView(await endpoints.redeliver(principalOf(req).userId, params.id, params.deliveryId))),
      { status: 202 },
    ),
  );
  router.get(
    '/events',
    admin,
    endpoint({ query: eventsQuery }, async ({ query }) =>
      ok(await eventLog.events({ limit: query.limit, startingAfter: query.starting_after, type: query.type, paymentId: query.paymentId })),
    ),
  );
  router.get(
    '/events/:id',
    admin,
    endpoint({ params: eventParams }, async ({ params }) => ok(await eventLog.event(params.id))),
  );
  return router;
}
