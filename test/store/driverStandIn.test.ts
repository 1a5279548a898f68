import mongoose, { Schema } from 'mongoose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { registerModels } from '../../src/adapters/store/mongoModels.js';
import { createStandInConnection, type StandInConnection, type StandInOptions } from '../helpers/driverStandIn/index.js';
import { payment } from '../helpers/fixtures.js';
import { makeTestStore } from '../helpers/testStore.js';

/**
 * The driver stand-in behaves like the MongoDB driver talking to a server wherever the store
 * relies on it: what a document looks like after the round trip, which writes a unique index
 * refuses and with which error, what index builds answer, and which queries are refused for
 * lacking a time limit. Real Mongoose drives it throughout, as in production.
 */

const { ObjectId, Decimal128, MongoServerError } = mongoose.mongo;
const T = { maxTimeMS: 1000 } as const;

const open: StandInConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  vi.unstubAllEnvs();
});

async function connect(opts?: StandInOptions): Promise<StandInConnection> {
  const conn = await createStandInConnection(opts);
  open.push(conn);
  return conn;
}

/** A raw collection, as `Model.collection` hands it out (Mongoose's wrapper over the stand-in). */
async function rawCollection(name = 'things', opts?: StandInOptions) {
  const conn = await connect(opts);
  return { conn, coll: conn.db!.collection(name) };
}

async function rejection(p: Promise<unknown>): Promise<any> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

async function serverRejection(p: Promise<unknown>, code: number): Promise<any> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(MongoServerError);
  expect(err.code).toBe(code);
  return err;
}

const thingSchema = () =>
  new Schema(
    {
      name: String,
      n: Number,
      tags: { type: [String], default: [] },
      ext: { type: String, default: null },
      code: String,
      a: Number,
      b: String,
      expiresAt: Date,
    },
    { versionKey: false },
  );

describe('documents round-trip through BSON as with a server', () => {
  it('keeps ObjectId, Date, Decimal128 and nesting exactly, and stores undefined as null', async () => {
    const { coll } = await rawCollection();
    const ref = new ObjectId();
    const at = new Date('2025-03-04T05:06:07.089Z');
    const exact = '1234567890.123456789012345678901234';
    await coll.insertOne({ at, d: Decimal128.fromString(exact), nested: { list: [1, { ref }], u: undefined }, gone: undefined });
    const doc = (await coll.findOne({}, T))!;
    expect(doc._id).toBeInstanceOf(ObjectId);
    expect(doc.at).toBeInstanceOf(Date);
    expect(doc.at.getTime()).toBe(at.getTime());
    expect(doc.d).toBeInstanceOf(Decimal128);
    expect(doc.d.toString()).toBe(exact);
    expect(doc.nested.list[1].ref).toBeInstanceOf(ObjectId);
    expect(doc.nested.list[1].ref.equals(ref)).toBe(true);
    // The driver serialises with ignoreUndefined: false, so the server stores null.
    expect(doc).toHaveProperty('gone', null);
    expect(doc.nested).toHaveProperty('u', null);
  });

  it('a filter field set to undefined is sent as null and matches a missing field', async () => {
    const { coll } = await rawCollection();
    await coll.insertMany([{ name: 'has', x: 1 }, { name: 'lacks' }]);
    const found = await coll.find({ x: undefined }, T).toArray();
    expect(found.map((d) => d.name)).toEqual(['lacks']);
  });

  it('never aliases: neither the inserted object nor a returned one reaches the stored document', async () => {
    const { coll } = await rawCollection();
    const input = { name: 'a', nested: { list: [1] } };
    await coll.insertOne(input);
    input.nested.list.push(2);
    const first = (await coll.findOne({}, T))!;
    first.nested.list.push(3);
    first.name = 'changed';
    expect(await coll.findOne({}, T)).toMatchObject({ name: 'a', nested: { list: [1] } });
  });

  it('adds a missing _id as an ObjectId, on the caller’s object as the driver does, and stores it first', async () => {
    const { conn, coll } = await rawCollection();
    const input: Record<string, unknown> = { name: 'a' };
    const res = await coll.insertOne(input);
    expect(res.insertedId).toBeInstanceOf(ObjectId);
    expect(input._id).toBe(res.insertedId);
    expect(Object.keys(conn.standIn.documents('things')[0]!)).toEqual(['_id', 'name']);
  });

  it('matches ObjectIds by value and type: another instance matches, the hex string does not', async () => {
    const { coll } = await rawCollection();
    const { insertedId } = await coll.insertOne({ name: 'a' });
    const hex = insertedId.toHexString();
    expect(await coll.countDocuments({ _id: new ObjectId(hex) }, T)).toBe(1);
    expect(await coll.countDocuments({ _id: { $in: [new ObjectId(), new ObjectId(hex)] } }, T)).toBe(1);
    expect(await coll.countDocuments({ _id: hex as never }, T)).toBe(0);
    expect(await coll.countDocuments({ _id: { $type: 'objectId' } }, T)).toBe(1);
  });

  it('$type looks inside arrays, as on a server (the partial filter of a multikey index relies on it)', async () => {
    const { coll } = await rawCollection();
    await coll.insertMany([
      { name: 'strings', tags: ['a'] },
      { name: 'empty', tags: [] },
      { name: 'numbers', tags: [1] },
    ]);
    const found = await coll.find({ tags: { $type: 'string' } }, T).toArray();
    expect(found.map((d) => d.name)).toEqual(['strings']);
  });
});

describe('unique indexes are enforced like a server', () => {
  it('a multikey partial unique index refuses a taken element, with the driver’s 11000 error shape', async () => {
    const conn = await connect();
    const schema = thingSchema();
    schema.index({ tags: 1 }, { unique: true, partialFilterExpression: { tags: { $type: 'string' } } });
    const Thing = conn.model('Thing', schema, 'things');
    await Thing.createIndexes();
    await Thing.create({ name: 'first', tags: ['a', 'b'] });
    await Thing.create({ name: 'repeats within itself', tags: ['c', 'c'] });
    // Empty arrays are outside the partial filter: they never collide.
    await Thing.create([{ name: 'e1' }, { name: 'e2' }]);
    const err = await serverRejection(Thing.create({ name: 'second', tags: ['z', 'b'] }), 11000);
    expect(err.name).toBe('MongoServerError');
    expect(err.keyPattern).toEqual({ tags: 1 });
    expect(err.keyValue).toEqual({ tags: 'b' });
    expect(err.message).toBe('E11000 duplicate key error collection: escrow.things index: tags_1 dup key: { tags: "b" }');
    expect(await Thing.countDocuments({ name: 'second' }).maxTimeMS(1000)).toBe(0);
  });

  it('a non-partial unique index treats a missing field as null: two documents without it collide', async () => {
    const { coll } = await rawCollection();
    await coll.createIndex({ code: 1 }, { unique: true });
    await coll.insertOne({ name: 'no code' });
    const err = await serverRejection(coll.insertOne({ name: 'no code either' }), 11000);
    expect(err.keyValue).toEqual({ code: null });
    expect(err.message).toContain('index: code_1 dup key: { code: null }');
  });

  it('a partial unique index leaves out documents that do not match its filter', async () => {
    const { coll } = await rawCollection();
    await coll.createIndex({ ext: 1 }, { unique: true, partialFilterExpression: { ext: { $type: 'string' } } });
    await coll.insertMany([{ ext: null }, { ext: null }, {}, { ext: 'x' }]);
    await serverRejection(coll.insertOne({ ext: 'x' }), 11000);
  });

  it('a compound unique index refuses only the whole tuple', async () => {
    const { coll } = await rawCollection();
    expect(await coll.createIndex({ a: 1, b: 1 }, { unique: true })).toBe('a_1_b_1');
    await coll.insertMany([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
    ]);
    const err = await serverRejection(coll.insertOne({ a: 1.0, b: 'x' }), 11000);
    expect(err.keyPattern).toEqual({ a: 1, b: 1 });
    expect(err.keyValue).toEqual({ a: 1, b: 'x' });
  });

  it('an update that takes a key is refused and leaves the document as it was', async () => {
    const { coll } = await rawCollection();
    await coll.createIndex({ code: 1 }, { unique: true });
    await coll.insertMany([{ code: 'A' }, { code: 'B' }]);
    await serverRejection(coll.updateOne({ code: 'B' }, { $set: { code: 'A' } }, T), 11000);
    await serverRejection(coll.findOneAndUpdate({ code: 'B' }, { $set: { code: 'A' } }, T), 11000);
    expect((await coll.find({}, T).toArray()).map((d) => d.code)).toEqual(['A', 'B']);
  });

  it('a second document with the same _id is refused on the _id_ index', async () => {
    const { coll } = await rawCollection();
    const _id = new ObjectId();
    await coll.insertOne({ _id, name: 'a' });
    const err = await serverRejection(coll.insertOne({ _id, name: 'b' }), 11000);
    expect(err.keyPattern).toEqual({ _id: 1 });
    expect(err.message).toBe(`E11000 duplicate key error collection: escrow.things index: _id_ dup key: { _id: ObjectId('${_id.toHexString()}') }`);
  });
});

describe('index builds answer like a server', () => {
  it('lists _id_ and each index in the server’s shape, named as the server names them', async () => {
    const { coll } = await rawCollection();
    await coll.createIndex({ name: 1, n: -1 });
    await coll.createIndex({ ext: 1 }, { unique: true, partialFilterExpression: { ext: { $type: 'string' } } });
    await coll.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    expect(await coll.listIndexes().toArray()).toEqual([
      { v: 2, key: { _id: 1 }, name: '_id_' },
      { v: 2, key: { name: 1, n: -1 }, name: 'name_1_n_-1' },
      { v: 2, key: { ext: 1 }, name: 'ext_1', unique: true, partialFilterExpression: { ext: { $type: 'string' } } },
      { v: 2, key: { expiresAt: 1 }, name: 'expiresAt_1', expireAfterSeconds: 0 },
    ]);
  });

  it('creating the same index again is a no-op', async () => {
    const { conn, coll } = await rawCollection();
    await coll.createIndex({ code: 1 }, { unique: true });
    expect(await coll.createIndex({ code: 1 }, { unique: true })).toBe('code_1');
    expect(conn.standIn.indexes('things').map((i) => i.name)).toEqual(['_id_', 'code_1']);
  });

  it('same name with other options is IndexOptionsConflict (85); with other keys IndexKeySpecsConflict (86)', async () => {
    const { conn, coll } = await rawCollection();
    await coll.createIndex({ code: 1 });
    const options = await serverRejection(coll.createIndex({ code: 1 }, { unique: true }), 85);
    expect(options.codeName).toBe('IndexOptionsConflict');
    const keys = await serverRejection(coll.createIndex({ name: 1 }, { name: 'code_1' }), 86);
    expect(keys.codeName).toBe('IndexKeySpecsConflict');
    expect(conn.standIn.indexes('things')).toEqual([
      { v: 2, key: { _id: 1 }, name: '_id_' },
      { v: 2, key: { code: 1 }, name: 'code_1' },
    ]);
  });

  it('a unique build over data that already repeats a key fails with 11000 and leaves no index', async () => {
    const { conn, coll } = await rawCollection();
    await coll.insertMany([{ code: 'same' }, { code: 'same' }]);
    const err = await serverRejection(coll.createIndex({ code: 1 }, { unique: true }), 11000);
    expect(err.keyValue).toEqual({ code: 'same' });
    expect(conn.standIn.indexes('things').map((i) => i.name)).toEqual(['_id_']);
    await coll.insertOne({ code: 'same' });
    expect(await coll.countDocuments({ code: 'same' }, T)).toBe(3);
  });

  it('Mongoose Model.createIndexes, diffIndexes and syncIndexes see what was built', async () => {
    const conn = await connect();
    const schema = thingSchema();
    schema.index({ tags: 1 }, { unique: true, partialFilterExpression: { tags: { $type: 'string' } } });
    schema.index({ name: 1, n: -1 });
    schema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    const Thing = conn.model('Thing', schema, 'things');
    // Before anything exists the server answers NamespaceNotFound, which Mongoose reads as "no indexes".
    expect((await Thing.diffIndexes()).toCreate).toHaveLength(3);
    await Thing.createIndexes();
    expect(await Thing.diffIndexes()).toEqual({ toDrop: [], toCreate: [] });
    await Thing.collection.createIndex({ code: 1 });
    expect(await Thing.diffIndexes()).toEqual({ toDrop: ['code_1'], toCreate: [] });
    expect(await Thing.syncIndexes()).toEqual(['code_1']);
    expect(conn.standIn.indexes('things').map((i) => i.name)).toEqual(['_id_', 'tags_1', 'name_1_n_-1', 'expiresAt_1']);
  });

  it('every index the production schemas declare builds, and diffIndexes then finds nothing to change', async () => {
    const conn = await connect();
    const models = Object.values(registerModels(conn));
    for (const model of models) await model.createIndexes();
    for (const model of models) expect(await model.diffIndexes(), model.modelName).toEqual({ toDrop: [], toCreate: [] });
    expect(conn.standIn.indexes('payments').length).toBeGreaterThan(5);
  });
});

describe('every query must carry a time limit', () => {
  const model = async (opts?: StandInOptions) => {
    const conn = await connect(opts);
    const Thing = conn.model('Thing', thingSchema(), 'things');
    await Thing.create({ name: 'a', n: 1 });
    return Thing;
  };

  const calls = {
    find: (M: mongoose.Model<any>) => M.find({}).lean(),
    findOne: (M: mongoose.Model<any>) => M.findOne({ name: 'a' }).lean(),
    countDocuments: (M: mongoose.Model<any>) => M.countDocuments({}),
    findOneAndUpdate: (M: mongoose.Model<any>) => M.findOneAndUpdate({ name: 'a' }, { $inc: { n: 1 } }),
    updateMany: (M: mongoose.Model<any>) => M.updateMany({}, { $inc: { n: 1 } }),
    deleteMany: (M: mongoose.Model<any>) => M.deleteMany({ name: 'zz' }),
    aggregate: (M: mongoose.Model<any>) => M.aggregate([{ $match: {} }]),
  };

  it.each(Object.keys(calls))('%s without maxTimeMS is refused, naming the operation and collection', async (op) => {
    const Thing = await model();
    const err = await rejection(calls[op as keyof typeof calls](Thing) as Promise<unknown>);
    expect(err.message).toBe(`stand-in: ${op} on things sent without maxTimeMS`);
  });

  it.each(Object.keys(calls))('%s with a positive maxTimeMS is served', async (op) => {
    const Thing = await model();
    const query = calls[op as keyof typeof calls](Thing) as any;
    await expect(op === 'aggregate' ? query.option({ maxTimeMS: 50 }) : query.maxTimeMS(50)).resolves.toBeDefined();
  });

  it('a maxTimeMS of 0 (no limit, to a server) is refused too', async () => {
    const Thing = await model();
    const err = await rejection(Thing.find({}).maxTimeMS(0).lean());
    expect(err.message).toBe('stand-in: find on things sent without maxTimeMS');
  });

  it('inserts and index builds need none; requireMaxTimeMS: false lifts the rule', async () => {
    const Thing = await model({ requireMaxTimeMS: false });
    await Thing.createIndexes();
    await Thing.create({ name: 'b' });
    expect(await Thing.countDocuments({})).toBe(2);
  });
});

describe('queries answer like a server', () => {
  const seeded = async () => {
    const conn = await connect();
    const Thing = conn.model('Thing', thingSchema(), 'things');
    await Thing.create([
      { name: 'a', n: 3, b: 'x' },
      { name: 'b', n: 1, b: 'y' },
      { name: 'c', n: 2, b: 'x' },
      { name: 'd', n: 2, b: 'y' },
      { name: 'e', n: 5, b: 'x' },
    ]);
    return { conn, Thing };
  };

  it('sorts on several keys, then skips, then limits', async () => {
    const { Thing } = await seeded();
    const names = async (q: mongoose.Query<any[], any>) => (await q.maxTimeMS(1000).lean()).map((d: any) => d.name);
    expect(await names(Thing.find({}).sort({ n: -1, name: 1 }))).toEqual(['e', 'a', 'c', 'd', 'b']);
    expect(await names(Thing.find({}).sort({ n: -1, name: 1 }).skip(1).limit(2))).toEqual(['a', 'c']);
    expect(await names(Thing.find({ b: 'x' }).sort({ n: 1 }).limit(2))).toEqual(['c', 'a']);
  });

  it('findOneAndUpdate returns the document after the update when asked, before it by default', async () => {
    const { Thing } = await seeded();
    const after = await Thing.findOneAndUpdate({ name: 'a' }, { $inc: { n: 10 }, $push: { tags: 't' } }, { returnDocument: 'after', ...T }).lean();
    expect(after).toMatchObject({ name: 'a', n: 13, tags: ['t'] });
    const before = await Thing.findOneAndUpdate({ name: 'a' }, { $set: { b: 'z' } }, T).lean();
    expect(before).toMatchObject({ name: 'a', n: 13, b: 'x' });
    expect(await Thing.findOneAndUpdate({ name: 'nobody' }, { $set: { b: 'z' } }, { returnDocument: 'after', ...T })).toBeNull();
    const meta = await Thing.findOneAndUpdate({ name: 'b' }, { $set: { b: 'q' } }, { returnDocument: 'after', includeResultMetadata: true, ...T }).lean();
    expect(meta).toMatchObject({ ok: 1, value: { name: 'b', b: 'q' }, lastErrorObject: { n: 1, updatedExisting: true } });
  });

  it('findOneAndUpdate with a sort takes the first document in that order', async () => {
    const { Thing } = await seeded();
    const doc = await Thing.findOneAndUpdate({ b: 'x' }, { $set: { tags: ['picked'] } }, { sort: { n: -1 }, returnDocument: 'after', ...T }).lean();
    expect(doc).toMatchObject({ name: 'e' });
  });

  it('updateMany reports matched and modified apart (a no-op write is matched, not modified); deleteMany its count', async () => {
    const { Thing } = await seeded();
    const res = await Thing.updateMany({ b: 'x' }, { $set: { n: 2 } }, T);
    expect(res).toMatchObject({ acknowledged: true, matchedCount: 3, modifiedCount: 2 });
    expect(await Thing.deleteMany({ n: 2 }).maxTimeMS(1000)).toMatchObject({ acknowledged: true, deletedCount: 4 });
    expect(await Thing.countDocuments({}).maxTimeMS(1000)).toBe(1);
  });

  it('a streaming cursor yields every match in order and can be closed early', async () => {
    const { Thing } = await seeded();
    const seen: string[] = [];
    for await (const d of Thing.find({}).sort({ name: -1 }).maxTimeMS(1000).lean().cursor({ batchSize: 2 })) {
      seen.push((d as any).name);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['e', 'd', 'c']);
  });

  it('refuses the updates a server refuses: $inc on a string, $push onto a non-array, two operators on one path', async () => {
    const { coll } = await rawCollection();
    await coll.insertOne({ s: 'text', n: 1 });
    await serverRejection(coll.updateOne({}, { $inc: { s: 1 } }, T), 14);
    await serverRejection(coll.updateOne({}, { $push: { s: 'x' } as never }, T), 2);
    await serverRejection(coll.updateOne({}, { $set: { n: 2 }, $unset: { n: '' } }, T), 40);
    await serverRejection(coll.updateOne({}, { $set: { 'o.p': 2 }, $unset: { o: '' } }, T), 40);
    expect(await coll.findOne({}, T)).toMatchObject({ s: 'text', n: 1 });
  });

  it('$pull removes equal values and sub-documents matching a condition', async () => {
    const { coll } = await rawCollection();
    await coll.insertOne({ tags: ['a', 'b', 'a'], items: [{ k: 1 }, { k: 2 }, { k: 3 }] });
    await coll.updateOne({}, { $pull: { tags: 'a', items: { k: { $gte: 2 } } } } as never, T);
    expect(await coll.findOne({}, T)).toMatchObject({ tags: ['b'], items: [{ k: 1 }] });
  });
});

describe('the query log', () => {
  it('records each query as the server received it: operation, collection, filter, sort, time limit', async () => {
    const conn = await connect();
    const Thing = conn.model('Thing', thingSchema(), 'things');
    const created = await Thing.create({ name: 'a', n: 1 });
    await Thing.find({ n: { $gte: 1 } })
      .sort({ name: -1 })
      .limit(5)
      .maxTimeMS(250)
      .lean();
    await Thing.findOneAndUpdate({ _id: created._id }, { $set: { n: 2 } }, { returnDocument: 'after', maxTimeMS: 300 });
    expect(conn.standIn.queries).toEqual([
      { op: 'find', collection: 'things', filter: { n: { $gte: 1 } }, sort: { name: -1 }, limit: 5, maxTimeMS: 250 },
      { op: 'findOneAndUpdate', collection: 'things', filter: { _id: created._id }, update: { $set: { n: 2 } }, maxTimeMS: 300 },
    ]);
    conn.standIn.clearQueries();
    expect(conn.standIn.queries).toEqual([]);
  });
});

describe('makeTestStore', () => {
  it('gives the in-process store unless TEST_STORE=driver', async () => {
    vi.stubEnv('TEST_STORE', '');
    expect((await makeTestStore(systemClock)).kind).toBe('memory');
  });

  it('with TEST_STORE=driver gives the real MongoStore over the stand-in, unique keys and all', async () => {
    vi.stubEnv('TEST_STORE', 'driver');
    const store = await makeTestStore(systemClock);
    try {
      expect(store.kind).toBe('mongodb');
      expect(store.description).toContain('driver stand-in');
      const p = payment({ externalId: 'EXT-1' });
      await store.payments.insertOne(p);
      expect((await store.payments.findById(p.id))?.externalId).toBe('EXT-1');
      const err = await rejection(store.payments.insertOne(payment({ externalId: 'EXT-1' })));
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ kind: 'conflict', code: 'duplicate_key' });
      await store.ping();
    } finally {
      await store.close();
    }
  });
});
