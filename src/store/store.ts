import type {
  IdempotencyRecord,
  PaymentRecord,
  PaymentStatus,
  PurchaseRequestRecord,
  SellerOfferRecord,
  WebhookDeliveryRecord,
} from './records.js';

/**
 * The persistence contract every service uses. Filters and updates are MongoDB query/update
 * documents (a subset: comparison, $in/$nin, $exists, $and/$or, $set/$unset/$push/$inc), so the
 * MongoDB store passes them through and the in-process store evaluates the very same documents
 * with a MongoDB query engine. `id` stands for `_id`.
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
  updateOne(filter: Filter, update: Update): Promise<T | null>;
  updateMany(filter: Filter, update: Update): Promise<number>;
  deleteMany(filter: Filter): Promise<number>;
}

export interface PaymentTotal {
  status: PaymentStatus;
  currency: string;
  count: number;
  /** Exact decimal sum. */
  total: string;
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
  paymentTotals(filter: Filter): Promise<PaymentTotal[]>;
  /**
   * Runs `fn` so that its writes commit together: a MongoDB transaction on a replica set (every
   * store call inside joins it). Elsewhere it simply runs `fn`; the outbox of side effects is what
   * makes a multi-record step safe there.
   */
  withTransaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Unique keys, shared by both stores. `partial`: only string values take part (absent/null do not). */
export interface UniqueKey {
  field: string;
}

export const UNIQUE_KEYS = {
  payments: [
    { field: 'externalId' },
    { field: 'transactionHash' },
    { field: 'liveOfferKey' },
    { field: 'releaseTxHash' },
    { field: 'refundTxHash' },
    // Arrays: each element is a key of its own (a MongoDB multikey unique index).
    { field: 'creditKeys' },
    { field: 'fundedRequestKey' },
  ],
  purchaseRequests: [],
  sellerOffers: [],
  webhookDeliveries: [{ field: 'dedupeKey' }],
  idempotencyKeys: [{ field: 'scopeKey' }],
} satisfies Record<string, UniqueKey[]>;

export function withUpdatedAt(update: Update, now: Date): Update {
  return { ...update, $set: { ...update.$set, updatedAt: now } };
}
