import mongoose from 'mongoose';
import type { Doc } from './bsonCodec.js';
import { StandInCollection, type CollectionHost } from './collection.js';
import { CollectionData } from './collectionData.js';
import { StandInCursor } from './cursor.js';
import { QueryLog } from './queryLog.js';
import { serverError, StandInUsageError } from './serverErrors.js';

/**
 * A stand-in for the driver's `Db`: it owns the collections' data and answers the few database
 * commands Mongoose and the store send (`ping`, `hello`, `buildInfo`, `createCollection`,
 * `listCollections`, `dropDatabase`, and `admin().ping()`). A collection exists once something is
 * written to it, an index is built on it, or it is created, as on a server.
 */

export class StandInDb implements CollectionHost {
  readonly log = new QueryLog();
  private readonly store = new Map<string, CollectionData>();
  private readonly handles = new Map<string, StandInCollection>();

  constructor(
    readonly databaseName: string,
    public requireMaxTimeMS: boolean,
  ) {}

  collection(name: string): StandInCollection {
    let handle = this.handles.get(name);
    if (!handle) {
      handle = new StandInCollection(this, name);
      this.handles.set(name, handle);
    }
    return handle;
  }

  data(name: string, create: boolean): CollectionData | undefined {
    let data = this.store.get(name);
    if (!data && create) {
      data = new CollectionData(`${this.databaseName}.${name}`);
      this.store.set(name, data);
    }
    return data;
  }

  async createCollection(name: string, _options?: Doc): Promise<StandInCollection> {
    if (this.store.has(name)) throw serverError('NamespaceExists', `Collection ${this.databaseName}.${name} already exists.`);
    this.data(name, true);
    return this.collection(name);
  }

  listCollections(filter: Doc = {}, _options?: Doc): StandInCursor {
    return new StandInCursor(() =>
      [...this.store.keys()]
        .filter((name) => filter.name === undefined || filter.name === name)
        .map((name) => ({ name, type: 'collection', options: {}, info: { readOnly: false }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } })),
    );
  }

  async collections(): Promise<StandInCollection[]> {
    return [...this.store.keys()].map((name) => this.collection(name));
  }

  async dropCollection(name: string): Promise<boolean> {
    return this.store.delete(name);
  }

  async dropDatabase(): Promise<boolean> {
    this.store.clear();
    return true;
  }

  async command(command: Doc, _options?: Doc): Promise<Doc> {
    const name = Object.keys(command)[0];
    switch (name) {
      case 'ping':
        return { ok: 1 };
      case 'hello':
      case 'isMaster':
      case 'ismaster':
        // A standalone: no setName, so code that asks "replica set?" hears no.
        return { isWritablePrimary: true, ismaster: true, maxBsonObjectSize: 16 * 1024 * 1024, maxWireVersion: 25, ok: 1 };
      case 'buildInfo':
      case 'buildinfo':
        return { version: '0.0.0-stand-in', versionArray: [0, 0, 0, 0], ok: 1 };
      default:
        throw new StandInUsageError(`stand-in: database command ${JSON.stringify(name)} is not emulated`);
    }
  }

  admin() {
    return {
      ping: async () => this.command({ ping: 1 }),
      command: async (command: Doc) => this.command(command),
      buildInfo: async () => this.command({ buildInfo: 1 }),
      serverStatus: async () => ({ ok: 1, process: 'stand-in' }),
      listDatabases: async () => ({ databases: [{ name: this.databaseName, sizeOnDisk: 0, empty: this.store.size === 0 }], ok: 1 }),
    };
  }

  /** Decoded copies of a collection's documents in natural order (for test inspection). */
  documents(name: string): Doc[] {
    const data = this.store.get(name);
    return data ? data.views().map((v) => data.copyOf(v)) : [];
  }
}

/** The real Db's other methods, present so a call to one fails with its name. */
for (const name of Object.getOwnPropertyNames(mongoose.mongo.Db.prototype)) {
  const proto = StandInDb.prototype as unknown as Record<string, unknown>;
  const descriptor = Object.getOwnPropertyDescriptor(mongoose.mongo.Db.prototype, name)!;
  if (name === 'constructor' || descriptor.get || name in proto) continue;
  proto[name] = function notEmulated() {
    throw new StandInUsageError(`stand-in: Db.${name}() is not emulated`);
  };
}
