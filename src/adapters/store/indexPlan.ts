/**
 * Every index of every collection, in one list that both stores read: the MongoDB schemas declare
 * exactly these (src/store/mongoModels.ts), and the in-process store keeps a hash index on the
 * leading field of each (src/store/memoryIndexes.ts). The query shapes the services send, and the
 * index serving each, are in src/store/queryShapes.ts; a test checks that list against this one.
 *
 * `partialString`: only records whose leading field holds a string take part (a MongoDB partial
 * index with `{ field: { $type: 'string' } }`), so the many records with `null` there neither
 * collide on a unique key nor bloat the index. MongoDB uses such an index only for a query that
 * proves the type, so the MongoDB adapter adds `$type: 'string'` to every equality on these
 * fields (`partialStringFields`). Source: MongoDB manual, "Partial Indexes → Query Coverage".
 */

export type CollectionName =
  'payments' | 'purchaseRequests' | 'sellerOffers' | 'webhookDeliveries' | 'idempotencyKeys' | 'paymentEvents' | 'webhookEndpoints' | 'eventDeliveries';

export interface IndexSpec {
  /** Field → direction, in order; `id` is written `_id` as MongoDB names it. */
  keys: Record<string, 1 | -1>;
  unique?: boolean;
  /** Only records whose leading field is a string are indexed (see above). */
  partialString?: boolean;
  /** A TTL index: MongoDB deletes a record once the date in this field has passed. */
  expireAtField?: boolean;
}

export const INDEXES: Record<CollectionName, readonly IndexSpec[]> = {
  payments: [
    // One value, one payment: the hashes and ids that name a payment from outside.
    { keys: { transactionHash: 1 }, unique: true, partialString: true },
    { keys: { externalId: 1 }, unique: true, partialString: true },
    { keys: { releaseTxHash: 1 }, unique: true, partialString: true },
    { keys: { refundTxHash: 1 }, unique: true, partialString: true },
    { keys: { liveOfferKey: 1 }, unique: true, partialString: true },
    // One transfer credits one escrow: a unique multikey index over every payment's credit keys.
    { keys: { creditKeys: 1 }, unique: true, partialString: true },
    // One funded escrow per purchase request.
    { keys: { fundedRequestKey: 1 }, unique: true, partialString: true },
    { keys: { providerTaskId: 1 }, partialString: true },
    { keys: { sellerOfferId: 1 }, partialString: true },
    // The outbox: payments with steps still to carry out.
    { keys: { pendingEffects: 1 }, partialString: true },
    // The admin's work queue (src/features/adminConsole/adminQueue.ts): flagged, excess and short payments.
    { keys: { 'attention.reason': 1 }, partialString: true },
    { keys: { 'escrow.credits.reason': 1 }, partialString: true },
    { keys: { 'escrow.shortfall': 1 }, partialString: true },
    // The event outbox: payments with events the relay has not recorded yet.
    { keys: { 'pendingEvents.id': 1 }, partialString: true },
    // Disbursements in flight, by state (monitors, metrics, the sweeper).
    { keys: { 'escrow.inFlight.state': 1 }, partialString: true },
    // A user's payments as buyer or as seller, newest first (list, stats, export).
    { keys: { buyerId: 1, createdAt: -1, _id: -1 } },
    { keys: { sellerId: 1, createdAt: -1, _id: -1 } },
    // The monitors' and crons' work lists: by status and provider, oldest first.
    { keys: { status: 1, provider: 1, createdAt: 1 } },
    { keys: { escrowState: 1, direction: 1 } },
    { keys: { purchaseRequestId: 1, sellerOfferId: 1 } },
  ],
  // Read by id only.
  purchaseRequests: [],
  sellerOffers: [{ keys: { purchaseRequestId: 1, sellerId: 1 } }],
  webhookDeliveries: [
    { keys: { dedupeKey: 1 }, unique: true, partialString: true },
    // An untimestamped proof's body, seen once: its replays are answered from the first row.
    { keys: { replayKey: 1 }, unique: true, partialString: true },
    { keys: { kind: 1, outcome: 1 } },
    // One invoice's deliveries, newest first: what an operator reads to explain a payment.
    { keys: { externalId: 1, receivedAt: -1 } },
    // The bad-signature sample, newest first, capped by deleting beyond its size.
    { keys: { outcome: 1, receivedAt: -1 } },
    { keys: { expiresAt: 1 }, expireAtField: true },
    // The inbox: unfinished deliveries by state and due time (done rows hold null).
    { keys: { 'job.state': 1, 'job.runAt': 1 } },
    // A key's (an invoice's) unfinished deliveries, oldest first: only unfinished rows hold a key.
    { keys: { 'job.key': 1, createdAt: 1, _id: 1 }, partialString: true },
  ],
  idempotencyKeys: [
    { keys: { scopeKey: 1 }, unique: true },
    { keys: { expiresAt: 1 }, expireAtField: true },
  ],
  // The event log, newest first (GET /events pages on createdAt, then id), and one payment's events.
  paymentEvents: [
    { keys: { createdAt: -1, _id: -1 } },
    { keys: { type: 1, createdAt: -1, _id: -1 } },
    { keys: { paymentId: 1, createdAt: -1, _id: -1 } },
    { keys: { expiresAt: 1 }, expireAtField: true },
  ],
  // Read whole: an instance has a handful of endpoints.
  webhookEndpoints: [],
  eventDeliveries: [
    // An endpoint's deliveries, newest first (the operator's log).
    { keys: { endpointId: 1, createdAt: -1, _id: -1 } },
    { keys: { eventId: 1 } },
    // The queue, as on the inbox: due work, and a key's unfinished deliveries oldest first.
    { keys: { 'job.state': 1, 'job.runAt': 1 } },
    { keys: { 'job.key': 1, createdAt: 1, _id: 1 }, partialString: true },
    { keys: { expiresAt: 1 }, expireAtField: true },
  ],
};

/** The leading field of an index, in the services' spelling (`_id` → `id`). */
export function leadingField(spec: IndexSpec): string {
  const first = Object.keys(spec.keys)[0]!;
  return first === '_id' ? 'id' : first;
}

/** The name MongoDB gives an index of these keys: `field_dir` pairs joined by `_` (e.g. `buyerId_1_createdAt_-1`). */
export function indexNameOf(keys: Record<string, unknown>): string {
  return Object.entries(keys)
    .map(([k, v]) => `${k}_${String(v)}`)
    .join('_');
}

export function indexName(spec: IndexSpec): string {
  return indexNameOf(spec.keys);
}

/** Fields that are the leading field of a unique index: one value names at most one record. */
export function uniqueFields(collection: CollectionName): string[] {
  return INDEXES[collection].filter((s) => s.unique && Object.keys(s.keys).length === 1).map(leadingField);
}

/** Fields whose indexes are partial on `$type: 'string'` (see the note at the top). */
export function partialStringFields(collection: CollectionName): Set<string> {
  return new Set(INDEXES[collection].filter((s) => s.partialString).map(leadingField));
}
