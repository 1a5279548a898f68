import { Query, update as applyUpdate } from 'mingo';
import { AppError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { addDecimals } from '../common/money.js';
import type {
  IdempotencyRecord,
  PaymentRecord,
  PurchaseRequestRecord,
  SellerOfferRecord,
  WebhookDeliveryRecord,
} from './records.js';
import {
  UNIQUE_KEYS,
  withUpdatedAt,
  type Collection,
  type Filter,
  type FindOptions,
  type PaymentTotal,
  type Store,
  type UniqueKey,
  type Update,
} from './store.js';

/**
 * The in-process store, for machines where no MongoDB server can run. Filters and updates are
 * the same MongoDB documents the Mongo store sends, evaluated by mingo. Every operation runs
 * synchronously inside one call, so a conditional update cannot interleave with another write:
 * that is what makes it atomic. Records are cloned on the way in and out, and replaced (never
 * mutated) on update, so a reader never sees a half-written record.
 */
const MINGO_OPTIONS = { idKey: 'id', scriptEnabled: false } as const;

function matcher(filter: Filter): Query {
  return new Query(filter, MINGO_OPTIONS);
}

function getPath(doc: Record<string, unknown>, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export class MemoryCollection<T extends { id: string }> implements Collection<T> {
  private readonly docs = new Map<string, T>();
  /** unique field → (value → id) */
  private readonly uniques = new Map<string, Map<string, string>>();

  constructor(
    private readonly uniqueKeys: readonly UniqueKey[],
    private readonly clock: Clock,
  ) {
    for (const k of uniqueKeys) this.uniques.set(k.field, new Map());
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
    const doc = this.docs.get(id);
    return doc ? structuredClone(doc) : null;
  }

  async findOne(filter: Filter): Promise<T | null> {
    const doc = this.firstMatch(filter);
    return doc ? structuredClone(doc) : null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    return this.cursor(filter, options).map((d) => structuredClone(d));
  }

  async count(filter: Filter): Promise<number> {
    const q = matcher(filter);
    let n = 0;
    for (const d of this.candidates(filter)) if (q.test(d)) n++;
    return n;
  }

  async *stream(filter: Filter, options: FindOptions = {}): AsyncIterable<T> {
    // The matching records are already in this process; only references are collected here.
    for (const d of this.cursor(filter, options)) yield structuredClone(d);
  }

  async updateOne(filter: Filter, update: Update): Promise<T | null> {
    const current = this.firstMatch(filter);
    if (!current) return null;
    const next = this.applied(current, update);
    this.replace(current, next);
    return structuredClone(next);
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    const q = matcher(filter);
    const targets = [...this.docs.values()].filter((d) => q.test(d));
    const nexts = targets.map((d) => this.applied(d, update));
    // Check every unique key before writing any record, so a failing batch changes nothing.
    const pending = new Map<string, Map<string, string>>();
    nexts.forEach((n) => this.assertUnique(n, pending));
    targets.forEach((d, i) => this.replace(d, nexts[i]!));
    return targets.length;
  }

  async deleteMany(filter: Filter): Promise<number> {
    const q = matcher(filter);
    let n = 0;
    for (const d of [...this.docs.values()]) {
      if (!q.test(d)) continue;
      this.docs.delete(d.id);
      this.unindex(d);
      n++;
    }
    return n;
  }

  /** Raw access for the totals query; callers must not mutate what they get. */
  matching(filter: Filter): T[] {
    const q = matcher(filter);
    return [...this.docs.values()].filter((d) => q.test(d));
  }

  private cursor(filter: Filter, options: FindOptions): T[] {
    let c = matcher(filter).find<T>([...this.docs.values()]);
    if (options.sort) c = c.sort(options.sort);
    if (options.skip) c = c.skip(options.skip);
    if (options.limit !== undefined) c = c.limit(options.limit);
    return c.all();
  }

  private firstMatch(filter: Filter): T | undefined {
    const q = matcher(filter);
    for (const d of this.candidates(filter)) if (q.test(d)) return d;
    return undefined;
  }

  /**
   * The records a filter can match. An equality on `id` or on a unique key names at most one
   * record, found through the index; anything else scans. The full filter is still evaluated.
   */
  private candidates(filter: Filter): Iterable<T> {
    if (typeof filter.id === 'string') return single(this.docs.get(filter.id));
    for (const [field, index] of this.uniques) {
      const v = filter[field];
      if (typeof v === 'string') {
        const id = index.get(v);
        return single(id === undefined ? undefined : this.docs.get(id));
      }
    }
    return this.docs.values();
  }

  private insertSync(doc: T): T {
    if (this.docs.has(doc.id)) {
      throw new AppError('conflict', 'duplicate id', { code: 'duplicate_key', details: { keys: ['id'] } });
    }
    const copy = structuredClone(doc);
    this.assertUnique(copy);
    this.docs.set(copy.id, copy);
    this.index(copy);
    return structuredClone(copy);
  }

  private applied(current: T, update: Update): T {
    const next = structuredClone(current);
    applyUpdate(next, withUpdatedAt(update, this.clock.now()) as never, undefined, undefined, {
      cloneMode: 'deep',
    });
    if (next.id !== current.id) throw new Error('the id of a record cannot change');
    return next;
  }

  private replace(current: T, next: T): void {
    this.assertUnique(next);
    this.unindex(current);
    this.docs.set(next.id, next);
    this.index(next);
  }

  private assertUnique(doc: T, pending?: Map<string, Map<string, string>>): void {
    for (const [field, index] of this.uniques) {
      for (const v of keyValues(doc, field)) {
        const owner = index.get(v);
        const batch = pending?.get(field);
        if ((owner && owner !== doc.id) || (batch?.has(v) && batch.get(v) !== doc.id)) {
          throw new AppError('conflict', `${field} is already used by another record`, {
            code: 'duplicate_key',
            details: { keys: [field] },
          });
        }
        if (pending) {
          if (!batch) pending.set(field, new Map([[v, doc.id]]));
          else batch.set(v, doc.id);
        }
      }
    }
  }

  private index(doc: T): void {
    for (const [field, index] of this.uniques) {
      for (const v of keyValues(doc, field)) index.set(v, doc.id);
    }
  }

  private unindex(doc: T): void {
    for (const [field, index] of this.uniques) {
      for (const v of keyValues(doc, field)) if (index.get(v) === doc.id) index.delete(v);
    }
  }
}

/**
 * The values a unique key takes in a record: a string, or each string of an array (as a MongoDB
 * multikey unique index does; repeats inside one record are allowed there too).
 */
function keyValues(doc: unknown, field: string): string[] {
  const v = getPath(doc as Record<string, unknown>, field);
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return [...new Set(v.filter((x): x is string => typeof x === 'string'))];
  return [];
}

function single<T>(d: T | undefined): T[] {
  return d === undefined ? [] : [d];
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly payments: MemoryCollection<PaymentRecord>;
  readonly purchaseRequests: MemoryCollection<PurchaseRequestRecord>;
  readonly sellerOffers: MemoryCollection<SellerOfferRecord>;
  readonly webhookDeliveries: MemoryCollection<WebhookDeliveryRecord>;
  readonly idempotencyKeys: MemoryCollection<IdempotencyRecord>;

  constructor(
    clock: Clock,
    readonly description = 'in-process store (not durable)',
  ) {
    this.payments = new MemoryCollection(UNIQUE_KEYS.payments, clock);
    this.purchaseRequests = new MemoryCollection(UNIQUE_KEYS.purchaseRequests, clock);
    this.sellerOffers = new MemoryCollection(UNIQUE_KEYS.sellerOffers, clock);
    this.webhookDeliveries = new MemoryCollection(UNIQUE_KEYS.webhookDeliveries, clock);
    this.idempotencyKeys = new MemoryCollection(UNIQUE_KEYS.idempotencyKeys, clock);
  }

  async paymentTotals(filter: Filter): Promise<PaymentTotal[]> {
    const groups = new Map<string, PaymentTotal>();
    for (const p of this.payments.matching(filter)) {
      const key = `${p.status}\u0000${p.amount.currency}`;
      const g = groups.get(key);
      if (g) {
        g.count++;
        g.total = addDecimals(g.total, p.amount.amount);
      } else {
        groups.set(key, { status: p.status, currency: p.amount.currency, count: 1, total: addDecimals(p.amount.amount) });
      }
    }
    return sortTotals([...groups.values()]);
  }

  /** Each store call here is atomic on its own; a group is made safe by the outbox, not by this. */
  withTransaction<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

export function sortTotals(totals: PaymentTotal[]): PaymentTotal[] {
  return totals.sort((a, b) => a.status.localeCompare(b.status) || a.currency.localeCompare(b.currency));
}
