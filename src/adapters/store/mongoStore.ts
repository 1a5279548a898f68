import mongoose, { type Connection, type Model } from 'mongoose';
import type { Clock } from '../../platform/clock.js';
import { fail, isDuplicateKey } from '../../platform/errors.js';
import { isObjectId } from '../../platform/ids.js';
import { partialStringFields, type CollectionName } from './indexPlan.js';
import { afterKey, fromMongo, toMongoFilter, toMongoSort, translateError } from './mongoDocuments.js';
import { ensureIndexes, type IndexReport } from './mongoIndexes.js';
import { registerModels } from './mongoModels.js';
import type { IdempotencyRecord, PaymentRecord, PurchaseRequestRecord, SellerOfferRecord, WebhookDeliveryRecord } from '../../core/store/records.js';
import type { EventDeliveryRecord, PaymentEventRecord, WebhookEndpointRecord } from '../../core/store/eventRecords.js';
import { normaliseRecord, normaliseUpdate } from './recordRules.js';
import { withUpdatedAt, type Collection, type Filter, type FindOptions, type Store, type Update, type WriteOptions } from '../../core/store/store.js';

/**
 * The production store. The filter and update documents services build are sent as they are,
 * except that `id` becomes `_id` and equality on a partial-index field proves its type
 * (src/store/mongoDocuments.ts). Every write is first normalised and checked by the same rules
 * as the in-process store (src/store/recordRules.ts). Every query carries `maxTimeMS`
 * (MONGODB_QUERY_TIMEOUT_MS), so a slow one fails with `store_timeout` instead of holding a
 * request. There are no multi-record transactions: the payment's outbox makes a multi-record
 * step safe, the same way in both stores.
 */

/** Rows per query when streaming: each batch is its own short query (keyset paging). */
const STREAM_BATCH = 500;

export interface MongoStoreOptions {
  clock: Clock;
  description: string;
  /** `maxTimeMS` of every query and conditional update (default 5000). */
  queryTimeoutMs?: number;
  onClose?: () => Promise<void>;
}

class MongoCollection<T extends { id: string }> implements Collection<T> {
  private readonly partial: ReadonlySet<string>;

  constructor(
    private readonly model: Model<any>,
    private readonly name: CollectionName,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.partial = partialStringFields(name);
  }

  async insertOne(doc: T): Promise<T> {
    try {
      const { id, ...rest } = normaliseRecord(this.name, doc);
      const [created] = await this.model.create([{ ...rest, _id: new mongoose.Types.ObjectId(id) }]);
      return fromMongo<T>(created!.toObject());
    } catch (err) {
      translateError(err);
    }
  }

  async insertIfAbsent(doc: T): Promise<boolean> {
    try {
      await this.insertOne(doc);
      return true;
    } catch (err) {
      if (isDuplicateKey(err, 'id')) return false;
      throw err;
    }
  }

  async findById(id: string): Promise<T | null> {
    if (!isObjectId(id)) return null;
    return this.findOne({ id });
  }

  async findOne(filter: Filter): Promise<T | null> {
    try {
      const doc = await this.model.findOne(this.filter(filter)).maxTimeMS(this.timeoutMs).lean();
      return doc ? fromMongo<T>(doc as Record<string, unknown>) : null;
    } catch (err) {
      translateError(err);
    }
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    try {
      const docs = await this.query(this.filter(filter), options).lean();
      return (docs as Record<string, unknown>[]).map((d) => fromMongo<T>(d));
    } catch (err) {
      translateError(err);
    }
  }

  async count(filter: Filter): Promise<number> {
    try {
      return await this.model.countDocuments(this.filter(filter)).maxTimeMS(this.timeoutMs);
    } catch (err) {
      translateError(err);
    }
  }

  /**
   * Keyset paging: batches of STREAM_BATCH, each a fresh query after the last row seen, in the
   * requested order with `_id` appended so the order is total. No cursor stays open between
   * batches, so a client that reads an export slowly for an hour never meets the server's
   * 10-minute idle-cursor timeout, and each batch is bounded by `maxTimeMS`.
   */
  async *stream(filter: Filter, options: FindOptions = {}): AsyncIterable<T> {
    const sort = toMongoSort({ ...options.sort, id: options.sort?.id ?? 1 });
    const base = this.filter(filter);
    let remaining = options.limit || Infinity; // 0 is no limit, as in MongoDB
    let skip = options.skip ?? 0;
    let last: Record<string, unknown> | undefined;
    while (remaining > 0) {
      const size = Math.min(STREAM_BATCH, remaining);
      const page = last ? { $and: [base, afterKey(sort, last)] } : base;
      let rows: Record<string, unknown>[];
      try {
        rows = (await this.model.find(page).sort(sort).skip(skip).limit(size).maxTimeMS(this.timeoutMs).lean()) as Record<string, unknown>[];
      } catch (err) {
        translateError(err);
      }
      for (const row of rows) yield fromMongo<T>(row);
      if (rows.length < size) return;
      last = rows.at(-1);
      remaining -= rows.length;
      skip = 0;
    }
  }

  async updateOne(filter: Filter, update: Update, options: WriteOptions = {}): Promise<T | null> {
    const stamped = options.touch === false ? update : withUpdatedAt(update, this.clock.now());
    try {
      const doc = await this.model
        .findOneAndUpdate(this.filter(filter), normaliseUpdate(this.name, stamped), {
          returnDocument: 'after',
          runValidators: true,
          maxTimeMS: this.timeoutMs,
        })
        .lean();
      return doc ? fromMongo<T>(doc as Record<string, unknown>) : null;
    } catch (err) {
      translateError(err);
    }
  }

  /** Returns how many records matched (`matchedCount`): every match is written, as `updatedAt` changes. */
  async updateMany(filter: Filter, update: Update): Promise<number> {
    try {
      const res = await this.model
        .updateMany(this.filter(filter), normaliseUpdate(this.name, withUpdatedAt(update, this.clock.now())), { runValidators: true })
        .maxTimeMS(this.timeoutMs);
      return res.matchedCount;
    } catch (err) {
      translateError(err);
    }
  }

  async deleteMany(filter: Filter): Promise<number> {
    try {
      const res = await this.model.deleteMany(this.filter(filter)).maxTimeMS(this.timeoutMs);
      return res.deletedCount;
    } catch (err) {
      translateError(err);
    }
  }

  private filter(filter: Filter): Filter {
    return toMongoFilter(filter, this.partial);
  }

  private query(filter: Filter, options: FindOptions) {
    let q = this.model.find(filter).maxTimeMS(this.timeoutMs);
    if (options.sort) q = q.sort(toMongoSort(options.sort));
    if (options.skip) q = q.skip(options.skip);
    if (options.limit) q = q.limit(options.limit);
    return q;
  }
}

export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  readonly payments: Collection<PaymentRecord>;
  readonly purchaseRequests: Collection<PurchaseRequestRecord>;
  readonly sellerOffers: Collection<SellerOfferRecord>;
  readonly webhookDeliveries: Collection<WebhookDeliveryRecord>;
  readonly idempotencyKeys: Collection<IdempotencyRecord>;
  readonly paymentEvents: Collection<PaymentEventRecord>;
  readonly webhookEndpoints: Collection<WebhookEndpointRecord>;
  readonly eventDeliveries: Collection<EventDeliveryRecord>;
  /** What start-up built, and indexes on the server the schema no longer declares. */
  indexReport: IndexReport = { built: [], extra: [] };

  private constructor(
    private readonly conn: Connection,
    readonly description: string,
    private readonly onClose: () => Promise<void>,
    opts: MongoStoreOptions,
  ) {
    const models = registerModels(conn);
    const timeout = opts.queryTimeoutMs ?? 5000;
    this.payments = new MongoCollection(models.Payment, 'payments', opts.clock, timeout);
    this.purchaseRequests = new MongoCollection(models.PurchaseRequest, 'purchaseRequests', opts.clock, timeout);
    this.sellerOffers = new MongoCollection(models.SellerOffer, 'sellerOffers', opts.clock, timeout);
    this.webhookDeliveries = new MongoCollection(models.WebhookDelivery, 'webhookDeliveries', opts.clock, timeout);
    this.idempotencyKeys = new MongoCollection(models.IdempotencyKey, 'idempotencyKeys', opts.clock, timeout);
    this.paymentEvents = new MongoCollection(models.PaymentEvent, 'paymentEvents', opts.clock, timeout);
    this.webhookEndpoints = new MongoCollection(models.WebhookEndpoint, 'webhookEndpoints', opts.clock, timeout);
    this.eventDeliveries = new MongoCollection(models.EventDelivery, 'eventDeliveries', opts.clock, timeout);
  }

  /**
   * Connects to `uri` and opens the store. Throws StoreStartupError (connection closed) when an
   * index cannot be built; the driver's error when the server cannot be reached.
   */
  static async connect(uri: string, opts: MongoStoreOptions): Promise<MongoStore> {
    const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false, autoCreate: false }).asPromise();
    return MongoStore.open(conn, opts);
  }

  /**
   * Opens the store over a Mongoose connection: builds every index of src/store/indexPlan.ts
   * first (they are part of correctness: the unique keys), and on failure closes the connection
   * and throws StoreStartupError saying which index and what to do (README, "Migrating an index").
   * `onClose` runs only when an opened store closes: on failure, what it releases (an embedded
   * mongod) is still its owner's to stop.
   */
  static async open(conn: Connection, opts: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore(conn, opts.description, opts.onClose ?? (async () => {}), opts);
    try {
      store.indexReport = await ensureIndexes(Object.values(conn.models));
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    return store;
  }

  async ping(): Promise<void> {
    const db = this.conn.db;
    if (!db) throw fail('store_unavailable', { message: 'not connected' });
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.conn.close();
    await this.onClose();
  }
}
