import mongoose from 'mongoose';
import type { Doc } from './bsonCodec.js';
import { StandInDb } from './db.js';
import type { IndexSpec } from './indexCatalog.js';
import type { QueryRecord } from './queryLog.js';
import { StandInUsageError } from './serverErrors.js';

/**
 * A Mongoose connection whose driver never opens a socket: `conn.setClient()` accepts only a real
 * `MongoClient` with a topology, so the client here is a `MongoClient` subclass that is never
 * connected, carries a placeholder topology, and hands out the stand-in `Db` from `db()`. From
 * there on the REAL Mongoose (models, casting, validation, index helpers) drives the stand-in
 * exactly as it would drive the driver.
 *
 * Sessions and transactions are not emulated: `startSession()` throws.
 */

export interface StandInOptions {
  /** Database name, as in the URI path. Default 'escrow'. */
  dbName?: string;
  /** Refuse reads, updates, deletes, counts and aggregations sent without a positive maxTimeMS. Default true. */
  requireMaxTimeMS?: boolean;
  /** Mongoose's autoIndex (build schema indexes when a model is registered). Default false, as in production. */
  autoIndex?: boolean;
  /** Mongoose's autoCreate (create each model's collection when registered). Default false, as in production. */
  autoCreate?: boolean;
}

/** What a test can inspect and change on a stand-in connection. */
export interface StandInHandle {
  readonly dbName: string;
  /** Every query the collections received, in order (see QueryRecord). */
  readonly queries: QueryRecord[];
  clearQueries(): void;
  requireMaxTimeMS: boolean;
  /** Decoded copies of a collection's stored documents, in natural order. */
  documents(collection: string): Doc[];
  /** A collection's index catalog as listIndexes returns it ([] when the collection does not exist). */
  indexes(collection: string): IndexSpec[];
}

export type StandInConnection = mongoose.Connection & { readonly standIn: StandInHandle };

class StandInClient extends mongoose.mongo.MongoClient {
  constructor(private readonly standInDb: StandInDb) {
    // Parsed, never dialled: `.invalid` cannot resolve (RFC 2606).
    super(`mongodb://driver-stand-in.invalid:27017/${standInDb.databaseName}`);
    // The driver keeps `topology` internal (absent from its types); Mongoose only checks it is set.
    Object.defineProperty(this, 'topology', { value: { description: { type: 'StandIn' } }, writable: true, configurable: true });
  }

  override db(): mongoose.mongo.Db {
    return this.standInDb as unknown as mongoose.mongo.Db;
  }

  override async connect(): Promise<this> {
    return this;
  }

  override async close(): Promise<void> {}

  override startSession(): never {
    throw new StandInUsageError('stand-in: sessions and transactions are not emulated');
  }
}

export async function createStandInConnection(opts: StandInOptions = {}): Promise<StandInConnection> {
  const db = new StandInDb(opts.dbName ?? 'escrow', opts.requireMaxTimeMS ?? true);
  const conn = mongoose.createConnection();
  conn.config.autoIndex = opts.autoIndex ?? false;
  conn.config.autoCreate = opts.autoCreate ?? false;
  conn.setClient(new StandInClient(db));
  await conn.asPromise();
  const standIn: StandInHandle = {
    dbName: db.databaseName,
    queries: db.log.records,
    clearQueries: () => db.log.clear(),
    get requireMaxTimeMS() {
      return db.requireMaxTimeMS;
    },
    set requireMaxTimeMS(v: boolean) {
      db.requireMaxTimeMS = v;
    },
    documents: (collection) => db.documents(collection),
    indexes: (collection) => db.data(collection, false)?.indexes.list() ?? [],
  };
  return Object.assign(conn, { standIn });
}
