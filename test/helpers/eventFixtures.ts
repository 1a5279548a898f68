import { newObjectId } from '../../src/platform/ids.js';
import type { Store } from '../../src/core/store/store.js';

/** A webhook endpoint with one event and one succeeded delivery of it (what redelivery repeats). */
export async function endpointWithDelivery(k: { store: Store }): Promise<{ endpointId: string; eventId: string; deliveryId: string; eventPaymentId: string }> {
  const now = new Date();
  const endpointId = newObjectId();
  const eventId = newObjectId();
  const deliveryId = newObjectId();
  const paymentId = newObjectId();
  await k.store.webhookEndpoints.insertOne({
    id: endpointId,
    url: 'https://hooks.example.com/escrow',
    description: null,
    enabled: true,
    eventTypes: ['*'],
    secrets: [{ secret: 'whsec_matrix', createdAt: now, expiresAt: null }],
    createdBy: 'admin-user',
    createdAt: now,
    updatedAt: now,
  });
  const data = { payment: { id: paymentId } };
  await k.store.paymentEvents.insertOne({ id: eventId, type: 'payment.created', paymentId, data, expiresAt: null, createdAt: now, updatedAt: now });
  await k.store.eventDeliveries.insertOne({
    id: deliveryId,
    endpointId,
    eventId,
    eventType: 'payment.created',
    paymentId,
    requestBody: JSON.stringify({ id: eventId, type: 'payment.created', data }),
    status: 'succeeded',
    attemptLog: [{ at: now, responseCode: 200, error: null, durationMs: 3 }],
    responseCode: 200,
    responseBody: 'ok',
    error: null,
    deliveredAt: now,
    redeliveryOf: null,
    requestedBy: null,
    job: null,
    expiresAt: null,
    createdAt: now,
    updatedAt: now,
  });
  return { endpointId, eventId, deliveryId, eventPaymentId: paymentId };
}
