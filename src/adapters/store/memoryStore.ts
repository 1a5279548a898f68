import { fail } from '../../platform/errors.js';
import type { Clock } from '../../platform/clock.js';
import { INDEXES, leadingField, uniqueFields, type CollectionName } from './indexPlan.js';
import { HashIndexes, stringValues } from './memoryIndexes.js';
import { matcher, predicate } from './mingoQuery.js';
import type { IdempotencyRecord, PaymentRecord, PurchaseRequestRecord, SellerOfferRecord, WebhookDeliveryRecord } from '../../core/store/records.js';
import type { EventDeliveryRecord, PaymentEventRecord, WebhookEndpointRecord } from '../../core/store/eventRecords.js';
import { normaliseRecord, normaliseUpdate } from './recordRules.js';
import { applyUpdate } from './updateApplier.js';
import { freezeOwned, mutableCopy } from './recordCopies.js';
import { withUpdatedAt, type Collection, type Filter, type FindOptions, type Store, type Update, type WriteOptions } from '../../core/store/store.js';

/**
 * The in-process store, for machines where no MongoDB server can run. Filters are the same
 * MongoDB documents the Mongo store sends, evaluated by mingo; updates are applied by
 * `applyUpdate`. Every operation runs synchronously inside one call, so a conditional update
 * cannot interleave with another write: that is what makes it atomic. Records are cloned on the
 * way in and deeply frozen (recordCopies.ts), and replaced (never mutated) on update, so a reader
 * never sees a half-written record. Reads hand out the frozen record itself: a clone per read
 * was the largest cost of `GET /api/payment/:id` in the bench profile (structuredClone of the
 * record with its ledger), and a frozen record cannot be changed by whoever holds it, so sharing
 * it keeps the same isolation. Writes return a private, mutable copy, as before. Every write goes
 * through `normaliseRecord`/`normaliseUpdate`, as in the Mongo store.
 *
 * Cost: a query narrowed by `id`, a unique key or an indexed field (src/store/indexPlan.ts) costs
 * what it returns; anything else scans the collection.
 */
export class MemoryCollection<T extends { id: string }> implements Collection<T> {
  private readonly docs = new Map<string, T>();
  private readonly indexes: HashIndexes;
  private readonly unique: string[];

  constructor(
    private readonly name: CollectionName,
    private readonly clock: Clock,
  ) {
    this.indexes = new HashIndexes(INDEXES[name].map(leadingField).filter((f) => f !== 'id'));
    this.unique = uniqueFields(name);
  }

  async insertOne(doc: T): Promise<T> {
    return this.insertSync(doc);
  }

  async insertIfAbsent(doc: T): Promise<boolean> {
    if (this.docs.has(doc.id)) return false;
    this.insertSync(doc);
    return true;
  }

  async findById(id: string): Promise<T | null> {
    return this.docs.get(id) ?? null;
  }

  async findOne(filter: Filter): Promise<T | null> {
    return this.firstMatch(filter) ?? null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    return this.cursor(filter, options);
  }

  async count(filter: Filter): Promise<number> {
    return this.matching(filter).length;
  }

  async *stream(filter: Filter, options: FindOptions = {}): AsyncIterable<T> {
    // The matching records are already in this process; only references are collected here.
    yield* this.cursor(filter, options);
  }

  async updateOne(filter: Filter, update: Update, options: WriteOptions = {}): Promise<T | null> {
    const checked = normaliseUpdate(this.name, update);
    const current = this.firstMatch(filter);
    if (!current) return null;
    const next = this.applied(current, checked, options.touch !== false);
    this.replace(current, next);
    return mutableCopy(next);
  }

  /** Returns how many records matched (MongoDB's `matchedCount`; every match is written). */
  async updateMany(filter: Filter, update: Update): Promise<number> {
    const checked = normaliseUpdate(this.name, update);
    const targets = this.matching(filter);
    const nexts = targets.map((d) => this.applied(d, checked));
    // Check every unique key before writing any record, so a failing batch changes nothing.
    const pending = new Map<string, Map<string, string>>();
    nexts.forEach((n) => this.assertUnique(n, pending));
    targets.forEach((d, i) => this.replace(d, nexts[i]!));
    return targets.length;
  }

  async deleteMany(filter: Filter): Promise<number> {
    const targets = this.matching(filter);
    for (const d of targets) {
      this.docs.delete(d.id);
      this.indexes.remove(d.id, d);
    }
    return targets.length;
  }

  /** The records a filter matches, in insertion order; callers must not mutate them. */
  private matching(filter: Filter): T[] {
    const test = predicate(filter);
    const out: T[] = [];
    for (const d of this.candidates(filter)) if (test(d)) out.push(d);
    return out;
  }

  private cursor(filter: Filter, options: FindOptions): T[] {
    if (!options.sort) {
      const test = predicate(filter);
      // Unsorted: stop at the last row wanted instead of matching every candidate first.
      const out: T[] = [];
      let skip = options.skip ?? 0;
      for (const d of this.candidates(filter)) {
        if (!test(d)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        out.push(d);
        if (options.limit && out.length >= options.limit) break;
      }
      return out;
    }
    let c = matcher(filter).find<T>([...this.candidates(filter)]);
    if (options.sort) c = c.sort(options.sort);
    if (options.skip) c = c.skip(options.skip);
    // 0 is no limit, as in MongoDB.
    if (options.limit) c = c.limit(options.limit);
    return c.all();
  }

  private firstMatch(filter: Filter): T | undefined {
    const test = predicate(filter);
    for (const d of this.candidates(filter)) if (test(d)) return d;
    return undefined;
  }

  /** The records a filter can match: through an index when one narrows it, else all of them. */
  private *candidates(filter: Filter): Iterable<T> {
    const ids = this.indexes.candidates(filter);
    if (!ids) {
      yield* this.docs.values();
      return;
    }
    // Copied: a caller may write while iterating (deleteMany collects first, but stay safe).
    for (const id of [...ids]) {
      const d = this.docs.get(id);
      if (d) yield d;
    }
  }

  private insertSync(doc: T): T {
    // normaliseRecord builds every object and array of the record anew: frozen as they are.
    const copy = freezeOwned(normaliseRecord(this.name, doc));
    if (this.docs.has(copy.id)) {
      throw fail('duplicate_key', { message: 'duplicate id', details: { keys: ['id'] } });
    }
    this.assertUnique(copy);
    this.docs.set(copy.id, copy);
    this.indexes.add(copy.id, copy);
    return mutableCopy(copy);
  }

  private applied(current: T, update: Update, touch = true): T {
    const next = mutableCopy(current);
    try {
      applyUpdate(next as unknown as Record<string, unknown>, touch ? withUpdatedAt(update, this.clock.now()) : update);
    } catch (err) {
      // What MongoDB refuses for the record's shape ($set inside null, $inc on a string…).
      throw fail('record_invalid', { message: `the update does not fit the ${this.name} record: ${(err as Error).message}`, cause: err });
    }
    if (next.id !== current.id) throw new Error('the id of a record cannot change');
    // `next` is this call's own copy: frozen as it is.
    return freezeOwned(next);
  }

  private replace(current: T, next: T): void {
    this.assertUnique(next);
    this.indexes.replace(next.id, current, next);
    this.docs.set(next.id, next);
  }

  private assertUnique(doc: T, pending?: Map<string, Map<string, string>>): void {
    for (const field of this.unique) {
      for (const v of stringValues(doc, field)) {
        const owners = this.indexes.lookup(field, v);
        const batch = pending?.get(field);
        const takenByOther = owners && [...owners].some((id) => id !== doc.id);
        if (takenByOther || (batch?.has(v) && batch.get(v) !== doc.id)) {
          throw fail('duplicate_key', { message: `${field} is already used by another record`, details: { keys: [field] } });
        }
        if (pending) {
          if (!batch) pending.set(field, new Map([[v, doc.id]]));
          else batch.set(v, doc.id);
        }
      }
    }
  }
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly payments: MemoryCollection<PaymentRecord>;
  readonly purchaseRequests: MemoryCollection<PurchaseRequestRecord>;
  readonly sellerOffers: MemoryCollection<SellerOfferRecord>;
  readonly webhookDeliveries: MemoryCollection<WebhookDeliveryRecord>;
  readonly idempotencyKeys: MemoryCollection<IdempotencyRecord>;
  readonly paymentEvents: MemoryCollection<PaymentEventRecord>;
  readonly webhookEndpoints: MemoryCollection<WebhookEndpointRecord>;
  readonly eventDeliveries: MemoryCollection<EventDeliveryRecord>;

  constructor(
    clock: Clock,
    readonly description = 'in-process store (not durable)',
  ) {
    this.payments = new MemoryCollection('payments', clock);
    this.purchaseRequests = new MemoryCollection('purchaseRequests', clock);
    this.sellerOffers = new MemoryCollection('sellerOffers', clock);
    this.webhookDeliveries = new MemoryCollection('webhookDeliveries', clock);
    this.idempotencyKeys = new MemoryCollection('idempotencyKeys', clock);
    this.paymentEvents = new MemoryCollection('paymentEvents', clock);
    this.webhookEndpoints = new MemoryCollection('webhookEndpoints', clock);
    this.eventDeliveries = new MemoryCollection('eventDeliveries', clock);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
