import { fail } from '../../platform/errors.js';
import type { EventDeliveryRecord, PaymentEventRecord } from '../../core/store/eventRecords.js';
import type { Filter, Store } from '../../core/store/store.js';
import { pageAfter } from '../shared/cursorPage.js';

export const eventView = (e: PaymentEventRecord) => ({
  id: e.id,
  object: 'event' as const,
  type: e.type,
  paymentId: e.paymentId,
  createdAt: e.createdAt.toISOString(),
  data: e.data,
});

/** A delivery as the operator reads it after an outage: what was sent, what came back, what is next. */
export const deliveryView = (r: EventDeliveryRecord) => ({
  id: r.id,
  endpointId: r.endpointId,
  eventId: r.eventId,
  eventType: r.eventType,
  paymentId: r.paymentId,
  status: r.status,
  requestBody: r.requestBody,
  responseCode: r.responseCode,
  responseBody: r.responseBody,
  error: r.error,
  attempts: r.job?.attempts ?? r.attemptLog.length,
  nextAttemptAt: r.job?.state === 'queued' ? r.job.runAt.toISOString() : null,
  attemptLog: r.attemptLog.map((a) => ({ ...a, at: a.at.toISOString() })),
  deliveredAt: r.deliveredAt?.toISOString() ?? null,
  redeliveryOf: r.redeliveryOf,
  requestedBy: r.requestedBy,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** The reads of the event log and of each endpoint's deliveries. */
export class EventLog {
  constructor(private readonly store: Store) {}

  async events(q: { limit: number; startingAfter?: string; type?: string; paymentId?: string }) {
    const filter: Filter = { ...(q.type ? { type: q.type } : {}), ...(q.paymentId ? { paymentId: q.paymentId } : {}) };
    const page = await pageAfter(this.store.paymentEvents, filter, q.startingAfter, q.limit);
    return { events: page.items.map(eventView), has_more: page.hasMore };
  }

  async event(id: string) {
    const e = await this.store.paymentEvents.findById(id);
    if (!e) throw fail('event_not_found');
    return eventView(e);
  }

  async deliveries(endpointId: string, q: { limit: number; startingAfter?: string }) {
    const page = await pageAfter(this.store.eventDeliveries, { endpointId }, q.startingAfter, q.limit);
    return { deliveries: page.items.map(deliveryView), has_more: page.hasMore };
  }

  async delivery(endpointId: string, id: string) {
    const r = await this.store.eventDeliveries.findOne({ id, endpointId });
    if (!r) throw fail('event_delivery_not_found');
    return deliveryView(r);
  }
}
