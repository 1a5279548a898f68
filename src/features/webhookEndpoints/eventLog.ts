import { fail } from '../../platform/errors.js';
import type { EventDeliveryRecord, PaymentEventRecord } from '../../core/store/eventRecords.js';
import type { Collection, Filter, Store } from '../../core/store/store.js';

/** The latest date JavaScript can hold: the first page's bound. */
const LATEST = new Date(8.64e15);

/** One page of a list, newest first: `has_more` says whether a page follows (`starting_after` = the last id). */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/**
 * Cursor pagination, as Stripe's lists: newest first by (createdAt, id); `startingAfter` is the
 * id of the last record of the previous page and must be a record of this list (else
 * `cursor_not_found`). Records added meanwhile never shift a page: the cursor is a position, not
 * an offset.
 */
export async function pageAfter<T extends { id: string; createdAt: Date }>(
  collection: Collection<T>,
  filter: Filter,
  startingAfter: string | undefined,
  limit: number,
): Promise<Page<T>> {
  // createdAt is always bounded, so the (…, createdAt, _id) index serves every page, the first included.
  let where: Filter = { ...filter, createdAt: { $lte: LATEST } };
  if (startingAfter !== undefined) {
    const cursor = await collection.findOne({ ...filter, id: startingAfter });
    if (!cursor) throw fail('cursor_not_found');
    where = {
      ...filter,
      $and: [{ createdAt: { $lte: cursor.createdAt } }, { $or: [{ createdAt: { $lt: cursor.createdAt } }, { id: { $lt: cursor.id } }] }],
    };
  }
  const rows = await collection.find(where, { sort: { createdAt: -1, id: -1 }, limit: limit + 1 });
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}

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
