import mongoose from 'mongoose';
import { overTheWire, type Doc } from './bsonCodec.js';
import { withId, type CollectionData } from './collectionData.js';
import { StandInCursor, type CursorShape } from './cursor.js';
import { checkTimeLimit, normaliseSort, type OpOptions, type TimeLimitPolicy } from './findOptions.js';
import { buildSpec, type IndexSpec } from './indexCatalog.js';
import { keyString } from './indexKeys.js';
import { isPlainObject, runFind, runPipeline } from './matcher.js';
import type { QueryLog } from './queryLog.js';
import { serverError, StandInUsageError } from './serverErrors.js';
import { applyUpdate, isOperatorUpdate } from './updateApplier.js';

/**
 * A stand-in for the driver's `Collection`: the methods Mongoose (Model, Query, Aggregate, index
 * helpers) and the store adapter call, with the driver's argument and result shapes. Each call
 * sends its arguments "over the wire" (BSON round trip), checks the time limit, logs the query,
 * then runs synchronously against the collection's data, so it is atomic as a single-document
 * server operation is. Replies are fresh copies. Methods of the real Collection that are not
 * emulated throw a StandInUsageError naming themselves (see the end of this file).
 */

export interface CollectionHost extends TimeLimitPolicy {
  readonly databaseName: string;
  readonly log: QueryLog;
  /** The collection's data; created when `create` (writes and index builds create collections). */
  data(name: string, create: boolean): CollectionData | undefined;
  dropCollection(name: string): Promise<boolean>;
}

type UpdateResult = { acknowledged: true; matchedCount: number; modifiedCount: number; upsertedCount: number; upsertedId: unknown };

export class StandInCollection {
  constructor(
    private readonly host: CollectionHost,
    readonly collectionName: string,
  ) {}

  get dbName(): string {
    return this.host.databaseName;
  }

  get namespace(): string {
    return `${this.host.databaseName}.${this.collectionName}`;
  }

  // ---- writes of new documents (exempt from the time-limit rule) ----

  async insertOne(doc: Doc, _options?: OpOptions) {
    // The driver sets a missing _id on the caller's own object before sending it.
    doc._id ??= new mongoose.mongo.ObjectId();
    this.store(true)!.insert(withId(overTheWire(doc)));
    return { acknowledged: true as const, insertedId: doc._id };
  }

  /** Ordered: stops at the first failure, leaving the documents before it inserted, as a server does. */
  async insertMany(docs: Doc[], options?: OpOptions) {
    const insertedIds: Record<number, unknown> = {};
    for (const [i, doc] of docs.entries()) insertedIds[i] = (await this.insertOne(doc, options)).insertedId;
    return { acknowledged: true as const, insertedCount: docs.length, insertedIds };
  }

  // ---- reads ----

  find(filter: Doc = {}, options: OpOptions = {}): StandInCursor {
    const { sort, skip, limit, projection, maxTimeMS } = options;
    return new StandInCursor((shape) => this.select('find', filter, shape), { sort, skip, limit, projection, maxTimeMS });
  }

  async findOne(filter: Doc = {}, options: OpOptions = {}): Promise<Doc | null> {
    const { data, views, projection } = this.query('findOne', filter, options, { most: 1 });
    return (
      project(
        views.map((v) => data!.copyOf(v)),
        projection,
      )[0] ?? null
    );
  }

  async countDocuments(filter: Doc = {}, options: OpOptions = {}): Promise<number> {
    const { views } = this.query('countDocuments', filter, options);
    return views.length;
  }

  async estimatedDocumentCount(options: OpOptions = {}): Promise<number> {
    return this.query('estimatedDocumentCount', {}, options).views.length;
  }

  async distinct(key: string, filter: Doc = {}, options: OpOptions = {}): Promise<unknown[]> {
    const { data, views } = this.query('distinct', filter, options);
    const seen = new Map<string, unknown>();
    for (const view of views) {
      const copy = data!.copyOf(view);
      for (const v of runPipeline([copy], [{ $project: { v: `$${key}` } }]).map((r) => r.v)) {
        for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined) seen.set(keyString([x]), x);
      }
    }
    return [...seen.values()];
  }

  aggregate(pipeline: Doc[] = [], options: OpOptions = {}): StandInCursor {
    return new StandInCursor(
      (shape) => {
        const sent = overTheWire(pipeline);
        this.host.log.add({ op: 'aggregate', collection: this.collectionName, pipeline: sent, maxTimeMS: shape.maxTimeMS });
        checkTimeLimit(this.host, 'aggregate', this.collectionName, shape.maxTimeMS);
        const data = this.store(false);
        const input = data ? data.views().map((v) => data.copyOf(v)) : [];
        return runPipeline(input, sent).map((row) => overTheWire(row));
      },
      { maxTimeMS: options.maxTimeMS },
    );
  }

  // ---- updates and deletes ----

  async updateOne(filter: Doc, update: Doc, options: OpOptions = {}): Promise<UpdateResult> {
    return this.updateWhere('updateOne', filter, update, options, 1);
  }

  async updateMany(filter: Doc, update: Doc, options: OpOptions = {}): Promise<UpdateResult> {
    return this.updateWhere('updateMany', filter, update, options);
  }

  async replaceOne(filter: Doc, replacement: Doc, options: OpOptions = {}): Promise<UpdateResult> {
    return this.updateWhere('replaceOne', filter, replacement, options, 1);
  }

  async deleteOne(filter: Doc = {}, options: OpOptions = {}) {
    return this.deleteWhere('deleteOne', filter, options, 1);
  }

  async deleteMany(filter: Doc = {}, options: OpOptions = {}) {
    return this.deleteWhere('deleteMany', filter, options);
  }

  async findOneAndUpdate(filter: Doc, update: Doc, options: OpOptions = {}) {
    return this.findAndModify('findOneAndUpdate', filter, update, options);
  }

  async findOneAndReplace(filter: Doc, replacement: Doc, options: OpOptions = {}) {
    return this.findAndModify('findOneAndReplace', filter, replacement, options);
  }

  async findOneAndDelete(filter: Doc, options: OpOptions = {}) {
    return this.findAndModify('findOneAndDelete', filter, null, options);
  }

  // ---- indexes (exempt from the time-limit rule) ----

  async createIndex(keys: Doc | string, options: OpOptions = {}): Promise<string> {
    const key = typeof keys === 'string' ? { [keys]: 1 } : (keys as Record<string, number>);
    return (await this.createIndexes([{ key, ...options }]))[0]!;
  }

  async createIndexes(specs: Doc[], _options?: OpOptions): Promise<string[]> {
    const data = this.store(true)!;
    return specs.map((s) => {
      const { key, ...options } = overTheWire(s);
      const spec = buildSpec(key as IndexSpec['key'], options);
      data.indexes.create(spec, data.entries());
      return spec.name;
    });
  }

  listIndexes(_options?: OpOptions): StandInCursor {
    return new StandInCursor(() => {
      const data = this.store(false);
      if (!data) throw serverError('NamespaceNotFound', `ns does not exist: ${this.namespace}`);
      return data.indexes.list() as unknown as Doc[];
    });
  }

  async indexes(options: OpOptions & { full?: boolean } = {}) {
    const list = await this.listIndexes().toArray();
    if (options.full === false) return Object.fromEntries(list.map((i) => [i.name, Object.entries(i.key as Doc)]));
    return list;
  }

  async indexInformation(options: OpOptions & { full?: boolean } = {}) {
    return this.indexes({ full: false, ...options });
  }

  async indexExists(names: string | string[]): Promise<boolean> {
    const data = this.store(false);
    return (Array.isArray(names) ? names : [names]).every((n) => data?.indexes.has(n) ?? false);
  }

  async dropIndex(name: string): Promise<Doc> {
    const data = this.store(false);
    if (!data) throw serverError('NamespaceNotFound', `ns not found ${this.namespace}`);
    data.indexes.drop(name);
    return { ok: 1 };
  }

  async dropIndexes(): Promise<boolean> {
    this.store(false)?.indexes.dropAllButId();
    return true;
  }

  async drop(): Promise<boolean> {
    return this.host.dropCollection(this.collectionName);
  }

  // ---- the shared paths ----

  private store(create: boolean): CollectionData | undefined {
    return this.host.data(this.collectionName, create);
  }

  /** Sends, logs and checks a query; returns the matching views (read-only) in order. */
  private query(op: string, filter: Doc, options: OpOptions, extra: { update?: Doc; most?: number } = {}) {
    const sent = overTheWire({ filter, projection: options.projection ?? undefined });
    const sort = normaliseSort(options.sort);
    const { skip, limit, maxTimeMS } = options;
    const record = { op, collection: this.collectionName, filter: sent.filter, sort, skip, limit };
    this.host.log.add({ ...record, projection: sent.projection ?? undefined, update: extra.update, maxTimeMS });
    checkTimeLimit(this.host, op, this.collectionName, maxTimeMS);
    if (!isPlainObject(sent.filter)) throw serverError('BadValue', `${op}: the filter must be a document`);
    const data = this.store(false);
    const views = data ? runFind(data.views(), sent.filter, { sort, skip, limit: extra.most ?? limit }) : [];
    return { data, views, projection: sent.projection as Doc | undefined };
  }

  private select(op: string, filter: Doc, shape: CursorShape): Doc[] {
    const { data, views, projection } = this.query(op, filter, shape as OpOptions);
    return project(
      views.map((v) => data!.copyOf(v)),
      projection,
    );
  }

  private async updateWhere(op: string, filter: Doc, update: Doc, options: OpOptions, most?: number): Promise<UpdateResult> {
    const sentUpdate = this.checkedUpdate(op, update);
    const { data, views } = this.query(op, filter, options, { update: sentUpdate, most });
    let modifiedCount = 0;
    for (const view of views) {
      const next = this.updated(data!.copyOf(view), sentUpdate, false);
      if (data!.replace(view, next)) modifiedCount++;
    }
    if (views.length === 0 && options.upsert) {
      const inserted = this.upsert(overTheWire(filter), sentUpdate);
      return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId: inserted._id };
    }
    return { acknowledged: true, matchedCount: views.length, modifiedCount, upsertedCount: 0, upsertedId: null };
  }

  private async deleteWhere(op: string, filter: Doc, options: OpOptions, most?: number) {
    const { data, views } = this.query(op, filter, options, { most });
    for (const view of views) data!.remove(view);
    return { acknowledged: true as const, deletedCount: views.length };
  }

  /** findOneAndUpdate / Replace / Delete: the document before or after, or the ModifyResult. */
  private async findAndModify(op: string, filter: Doc, update: Doc | null, options: OpOptions) {
    const sentUpdate = update && this.checkedUpdate(op, update);
    const { data, views, projection } = this.query(op, filter, options, { update: sentUpdate ?? undefined, most: 1 });
    const view = views[0];
    const after = options.returnDocument === 'after';
    let value: Doc | null = null;
    let lastErrorObject: Doc;
    if (view) {
      const before = data!.copyOf(view);
      if (sentUpdate) {
        const next = this.updated(data!.copyOf(view), sentUpdate, false);
        data!.replace(view, next);
        // Looked up by _id, so this reads the document as now stored.
        value = after ? data!.copyOf(view) : before;
        lastErrorObject = { n: 1, updatedExisting: true };
      } else {
        data!.remove(view);
        value = before;
        lastErrorObject = { n: 1 };
      }
    } else if (sentUpdate && options.upsert) {
      const inserted = this.upsert(overTheWire(filter), sentUpdate);
      value = after ? inserted : null;
      lastErrorObject = { n: 1, updatedExisting: false, upserted: inserted._id };
    } else {
      lastErrorObject = sentUpdate ? { n: 0, updatedExisting: false } : { n: 0 };
    }
    const shaped = value && project([value], projection)[0]!;
    return options.includeResultMetadata ? { value: shaped, ok: 1 as const, lastErrorObject } : shaped;
  }

  /** The update as sent; the driver refuses a replacement where operators are required and vice versa. */
  private checkedUpdate(op: string, update: Doc): Doc {
    if (Array.isArray(update)) throw new StandInUsageError(`stand-in: pipeline-style updates (${op}) are not emulated`);
    const operators = isOperatorUpdate(update);
    const wantsReplacement = op === 'replaceOne' || op === 'findOneAndReplace';
    const { MongoInvalidArgumentError } = mongoose.mongo;
    if (wantsReplacement && operators) throw new MongoInvalidArgumentError('Replacement document must not contain atomic operators');
    if (!wantsReplacement && !operators) throw new MongoInvalidArgumentError('Update document requires atomic operators');
    return overTheWire(update);
  }

  private updated(doc: Doc, update: Doc, inserting: boolean): Doc {
    if (!isOperatorUpdate(update)) return { _id: doc._id, ...update };
    applyUpdate(doc, update, { inserting });
    return doc;
  }

  /** An upsert's new document: the filter's equality fields, then the update (with $setOnInsert). */
  private upsert(filter: Doc, update: Doc): Doc {
    const seed: Doc = {};
    for (const [field, cond] of Object.entries(filter)) {
      if (field.startsWith('$')) continue;
      const isOperatorCond = isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith('$'));
      if (!isOperatorCond) seed[field] = cond;
      else if ('$eq' in cond) seed[field] = cond.$eq;
    }
    const base = isOperatorUpdate(update) ? this.updated(expandDotted(seed), update, true) : { ...update, _id: seed._id };
    const doc = withId(base);
    this.store(true)!.insert(doc);
    return overTheWire(doc);
  }
}

function project(docs: Doc[], projection: Doc | undefined): Doc[] {
  if (!projection || Object.keys(projection).length === 0) return docs;
  return runFind(docs, {}, { projection });
}

function expandDotted(seed: Doc): Doc {
  const out: Doc = {};
  applyUpdate(out, { $set: seed }, { inserting: true });
  return out;
}

/** The real Collection's other methods, present so a call to one fails with its name. */
for (const name of Object.getOwnPropertyNames(mongoose.mongo.Collection.prototype)) {
  const proto = StandInCollection.prototype as unknown as Record<string, unknown>;
  const descriptor = Object.getOwnPropertyDescriptor(mongoose.mongo.Collection.prototype, name)!;
  if (name === 'constructor' || descriptor.get || name in proto) continue;
  proto[name] = function notEmulated(this: StandInCollection) {
    throw new StandInUsageError(`stand-in: Collection.${name}() on ${this.collectionName} is not emulated`);
  };
}
