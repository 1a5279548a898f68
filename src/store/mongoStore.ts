import { AsyncLocalStorage } from 'node:async_hooks';
import mongoose, { type ClientSession, type Connection, type Model } from 'mongoose';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { isObjectId } from '../common/ids.js';
import { plainDecimal } from '../common/money.js';
import { sortTotals } from './memoryStore.js';
import { registerModels } from './mongoModels.js';
import type {
  IdempotencyRecord,
  PaymentRecord,
  PaymentStatus,
  PurchaseRequestRecord,
  SellerOfferRecord,
  WebhookDeliveryRecord,
} from './records.js';
import {
  withUpdatedAt,
  type Collection,
  type Filter,
  type FindOptions,
  type PaymentTotal,
  type SortSpec,
  type Store,
  type Update,
} from './store.js';

/**
 * The production store. The filter and update documents services build are sent as they are,
 * except that `id` becomes `_id`. Driver errors are translated here: a unique-index violation is
 * a conflict, anything else surfaces as `unavailable` so no driver message reaches a client.
 */

/** `id` → `_id` at every level where a field name can stand; ObjectId strings become ObjectIds. */
export function toMongoFilter(filter: Filter): Filter {
  const out: Filter = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      out[key] = (value as Filter[]).map(toMongoFilter);
    } else if (key === 'id') {
      out._id = castIds(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function castIds(value: unknown): unknown {
  if (isObjectId(value)) return new mongoose.Types.ObjectId(value);
  if (Array.isArray(value)) return value.map(castIds);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, castIds(v)]));
  }
  return value;
}

function toMongoSort(sort: SortSpec): Record<string, 1 | -1> {
  return Object.fromEntries(Object.entries(sort).map(([k, v]) => [k === 'id' ? '_id' : k, v]));
}

/** Converts what the driver returns into the plain record shape: ObjectId → hex, no `_id`. */
export function fromMongo<T>(doc: Record<string, unknown>): T {
  const { _id, ...rest } = doc;
  return { id: String(_id), ...(plain(rest) as object) } as T;
}

function plain(value: unknown): unknown {
  if (value instanceof mongoose.Types.ObjectId) return value.toHexString();
  if (value instanceof mongoose.Types.Decimal128) return plainDecimal(value.toString());
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function translateError(err: unknown): never {
  const e = err as { code?: number; keyPattern?: Record<string, unknown>; name?: string };
  if (e?.code === 11000) {
    throw new AppError('conflict', 'a unique key is already taken', {
      code: 'duplicate_key',
      details: { keys: Object.keys(e.keyPattern ?? {}).map((k) => (k === '_id' ? 'id' : k)) },
      cause: err,
    });
  }
  if (e?.name === 'ValidationError' || e?.name === 'CastError' || e?.name === 'StrictModeError') {
    // Inputs are validated before they reach the store, so this is a programming error.
    throw new AppError('internal', 'record failed schema validation', { cause: err });
  }
  throw new AppError('unavailable', 'the database did not answer', { code: 'store_unavailable', cause: err });
}

/** The transaction a store call belongs to, carried through async calls (no parameter threading). */
const currentSession = new AsyncLocalStorage<ClientSession>();
const session = () => currentSession.getStore() ?? null;

class MongoCollection<T extends { id: string }> implements Collection<T> {
  constructor(
    private readonly model: Model<any>,
    private readonly clock: Clock,
  ) {}

  async insertOne(doc: T): Promise<T> {
    const { id, ...rest } = doc;
    try {
      const [created] = await this.model.create([{ ...rest, _id: new mongoose.Types.ObjectId(id) }], { session: session() });
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
      const e = err as AppError;
      if (e.code === 'duplicate_key' && (e.details as { keys: string[] }).keys.includes('id')) return false;
      throw err;
    }
  }

  async findById(id: string): Promise<T | null> {
    if (!isObjectId(id)) return null;
    return this.findOne({ id });
  }

  async findOne(filter: Filter): Promise<T | null> {
    try {
      const doc = await this.model.findOne(toMongoFilter(filter)).session(session()).lean();
      return doc ? fromMongo<T>(doc as Record<string, unknown>) : null;
    } catch (err) {
      translateError(err);
    }
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    try {
      const docs = await this.query(filter, options).lean();
      return (docs as Record<string, unknown>[]).map((d) => fromMongo<T>(d));
    } catch (err) {
      translateError(err);
    }
  }

  async count(filter: Filter): Promise<number> {
    try {
      return await this.model.countDocuments(toMongoFilter(filter)).session(session());
    } catch (err) {
      translateError(err);
    }
  }

  async *stream(filter: Filter, options: FindOptions = {}): AsyncIterable<T> {
    const cursor = this.query(filter, options).lean().cursor({ batchSize: 500 });
    try {
      for await (const doc of cursor) yield fromMongo<T>(doc as Record<string, unknown>);
    } catch (err) {
      translateError(err);
    } finally {
      await cursor.close();
    }
  }

  async updateOne(filter: Filter, update: Update): Promise<T | null> {
    try {
      const doc = await this.model
        .findOneAndUpdate(toMongoFilter(filter), withUpdatedAt(update, this.clock.now()), {
          returnDocument: 'after',
          runValidators: true,
          session: session(),
        })
        .lean();
      return doc ? fromMongo<T>(doc as Record<string, unknown>) : null;
    } catch (err) {
      translateError(err);
    }
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    try {
      const res = await this.model.updateMany(toMongoFilter(filter), withUpdatedAt(update, this.clock.now()), {
        runValidators: true,
        session: session() ?? undefined,
      });
      return res.modifiedCount;
    } catch (err) {
      translateError(err);
    }
  }

  async deleteMany(filter: Filter): Promise<number> {
    try {
      const res = await this.model.deleteMany(toMongoFilter(filter)).session(session());
      return res.deletedCount;
    } catch (err) {
      translateError(err);
    }
  }

  private query(filter: Filter, options: FindOptions) {
    let q = this.model.find(toMongoFilter(filter)).session(session());
    if (options.sort) q = q.sort(toMongoSort(options.sort));
    if (options.skip) q = q.skip(options.skip);
    if (options.limit !== undefined) q = q.limit(options.limit);
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
  private readonly models: ReturnType<typeof registerModels>;

  private constructor(
    private readonly conn: Connection,
    clock: Clock,
    readonly description: string,
    private readonly onClose: () => Promise<void>,
  ) {
    this.models = registerModels(conn);
    this.payments = new MongoCollection(this.models.Payment, clock);
    this.purchaseRequests = new MongoCollection(this.models.PurchaseRequest, clock);
    this.sellerOffers = new MongoCollection(this.models.SellerOffer, clock);
    this.webhookDeliveries = new MongoCollection(this.models.WebhookDelivery, clock);
    this.idempotencyKeys = new MongoCollection(this.models.IdempotencyKey, clock);
  }

  static async connect(
    uri: string,
    opts: { clock: Clock; description: string; onClose?: () => Promise<void> },
  ): Promise<MongoStore> {
    const conn = await mongoose
      .createConnection(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false })
      .asPromise();
    const store = new MongoStore(conn, opts.clock, opts.description, opts.onClose ?? (async () => {}));
    // Indexes are part of correctness here (unique keys), so they are built before serving.
    await Promise.all(Object.values(store.models).map((m) => m.createIndexes()));
    return store;
  }

  async paymentTotals(filter: Filter): Promise<PaymentTotal[]> {
    try {
      const rows = await this.models.Payment.aggregate<{
        _id: { status: PaymentStatus; currency: string };
        count: number;
        total: mongoose.Types.Decimal128;
      }>([
        { $match: toMongoFilter(filter) },
        {
          $group: {
            _id: { status: '$status', currency: '$amount.currency' },
            count: { $sum: 1 },
            total: { $sum: { $toDecimal: '$amount.amount' } },
          },
        },
      ]);
      return sortTotals(
        rows.map((r) => ({
          status: r._id.status,
          currency: r._id.currency,
          count: r.count,
          total: plainDecimal(r.total.toString()),
        })),
      );
    } catch (err) {
      translateError(err);
    }
  }

  private replicaSet?: Promise<boolean>;

  /**
   * A real transaction where the deployment supports one (a replica set), with mongoose retrying
   * transient transaction errors; on a standalone server `fn` runs as it is.
   */
  async withTransaction<T>(fn: () => Promise<T>): Promise<T> {
    if (currentSession.getStore()) return fn();
    this.replicaSet ??= this.conn.db!
      .admin()
      .command({ hello: 1 })
      .then((r) => typeof r.setName === 'string')
      .catch(() => false);
    if (!(await this.replicaSet)) return fn();
    return this.conn.transaction((s) => currentSession.run(s, fn));
  }

  async ping(): Promise<void> {
    const db = this.conn.db;
    if (!db) throw new AppError('unavailable', 'not connected', { code: 'store_unavailable' });
    await db.admin().ping();
  }

  async close(): Promise<void> {
    await this.conn.close();
    await this.onClose();
  }
}
