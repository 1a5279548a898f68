import type { EventDeliveryRecord, PaymentEventRecord, WebhookEndpointRecord } from './eventRecords.js';
import type { IdempotencyRecord, PaymentRecord, PurchaseRequestRecord, SellerOfferRecord, WebhookDeliveryRecord } from './records.js';

/**
 * The persistence contract every service uses. Filters and updates are MongoDB query/update
 * documents (a subset: comparison, $in/$nin, $exists, $type, $and/$or; $set/$unset/$push/$pull/$inc),
 * so the MongoDB store passes them through and the in-process store evaluates the very same
 * documents with a MongoDB query engine. `id` stands for `_id`. Both stores normalise and check
 * every write the same way first (src/store/recordRules.ts), and neither has multi-record
 * transactions: a step that writes several records is made safe by the payment's outbox
 * (src/payments/paymentEffects.ts).
 *
 * Filters are built by services from validated values only: nothing a client sends is spread
 * into a filter.
 */
export type Filter = Record<string, unknown>;

export interface Update {
  $set?: Record<string, unknown>;
  $unset?: Record<string, ''>;
  $push?: Record<string, unknown>;
  $pull?: Record<string, unknown>;
  $inc?: Record<string, number>;
}

export type SortSpec = Record<string, 1 | -1>;

export interface FindOptions {
  sort?: SortSpec;
  skip?: number;
  limit?: number;
}

export interface WriteOptions {
  /**
   * `false` leaves `updatedAt` as it is: bookkeeping that changes nothing a reader means by "the
   * record changed" (the event relay emptying a payment's outbox). Every other write stamps it.
   */
  touch?: boolean;
}

export interface Collection<T extends { id: string }> {
  /** Throws AppError(conflict, code `duplicate_key`) when a unique key is taken. */
  insertOne(doc: T): Promise<T>;
  /** Inserts unless a record with this id exists; true when inserted. Used for idempotent seeding. */
  insertIfAbsent(doc: T): Promise<boolean>;
  findById(id: string): Promise<T | null>;
  findOne(filter: Filter): Promise<T | null>;
  find(filter: Filter, options?: FindOptions): Promise<T[]>;
  count(filter: Filter): Promise<number>;
  /** Lazily yields matching records; memory use does not grow with the number of rows. */
  stream(filter: Filter, options?: FindOptions): AsyncIterable<T>;
  /**
   * Atomically applies `update` to the first record matching `filter` and returns it as it is
   * after the update, or null when nothing matched. This is the conditional write every state
   * transition relies on.
   */
  updateOne(filter: Filter, update: Update, options?: WriteOptions): Promise<T | null>;
  updateMany(filter: Filter, update: Update): Promise<number>;
  deleteMany(filter: Filter): Promise<number>;
}

export type StoreKind = 'mongodb' | 'memory';

export interface Store {
  readonly kind: StoreKind;
  /** Why this store was chosen (shown by /health and logged at start). */
  readonly description: string;
  readonly payments: Collection<PaymentRecord>;
  readonly purchaseRequests: Collection<PurchaseRequestRecord>;
  readonly sellerOffers: Collection<SellerOfferRecord>;
  readonly webhookDeliveries: Collection<WebhookDeliveryRecord>;
  readonly idempotencyKeys: Collection<IdempotencyRecord>;
  /** The event log: one record per payment event, recorded by the relay from the payments' outbox. */
  readonly paymentEvents: Collection<PaymentEventRecord>;
  readonly webhookEndpoints: Collection<WebhookEndpointRecord>;
  /** One per (event, endpoint): the outbound webhooks' durable queue and their delivery log. */
  readonly eventDeliveries: Collection<EventDeliveryRecord>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function withUpdatedAt(update: Update, now: Date): Update {
  return { ...update, $set: { ...update.$set, updatedAt: now } };
}
