import mongoose from 'mongoose';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { translateError } from '../../src/adapters/store/mongoDocuments.js';
import { StoreStartupError } from '../../src/adapters/store/mongoIndexes.js';
import { MongoStore } from '../../src/adapters/store/mongoStore.js';
import { createStandInConnection, type StandInConnection } from '../helpers/driverStandIn/index.js';
import { payment } from '../helpers/fixtures.js';

/**
 * The MongoDB adapter's own duties, on the real MongoStore + Mongoose over the driver stand-in:
 * start-up that builds indexes explicitly and fails clearly, streams that never hold a cursor,
 * and a time limit on every query.
 */
const open = (conn: StandInConnection) => MongoStore.open(conn, { clock: systemClock, description: 'adapter test' });

/** A collection filled behind the store's back, as old data on a server would be. */
async function rawInsert(conn: StandInConnection, collection: string, docs: Record<string, unknown>[]) {
  await conn.db!.collection(collection).insertMany(docs);
}

describe('start-up builds every index, and fails clearly on conflicting data', () => {
  it('builds the declared indexes, and a second start over the same data confirms them', async () => {
    const conn = await createStandInConnection();
    const store = await open(conn);
    expect(store.indexReport.built).toContain('payments.creditKeys_1');
    expect(conn.standIn.indexes('payments').map((i) => i.name)).toContain('transactionHash_1');
    expect(store.indexReport.extra).toEqual([]);
  });

  it('stops on records that already share a unique value, naming the index, and closes the connection', async () => {
    const conn = await createStandInConnection();
    const dup = { transactionHash: '0xsame', provider: 'manual' };
    await rawInsert(conn, 'payments', [
      { _id: new mongoose.Types.ObjectId(), ...dup },
      { _id: new mongoose.Types.ObjectId(), ...dup },
    ]);
    const err = await open(conn).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreStartupError);
    expect(err).toMatchObject({ code: 'index_duplicates', collection: 'payments', index: 'transactionHash_1' });
    expect((err as Error).message).toMatch(/Migrating an index/);
    expect(conn.readyState).toBe(mongoose.ConnectionStates.disconnected);
  });

  it('stops on an index of the same name with other options, saying how to drop it', async () => {
    const conn = await createStandInConnection();
    await conn.db!.collection('payments').createIndex({ externalId: 1 }, { name: 'externalId_1' }); // not unique, not partial
    const err = await open(conn).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'index_conflict', index: 'externalId_1' });
    expect((err as Error).message).toContain('db.payments.dropIndex("externalId_1")');
    expect(conn.readyState).toBe(mongoose.ConnectionStates.disconnected);
  });

  it('lists indexes the schema no longer declares, and leaves them in place', async () => {
    const conn = await createStandInConnection();
    await conn.db!.collection('payments').createIndex({ legacyField: 1 }, { name: 'legacyField_1' });
    const store = await open(conn);
    expect(store.indexReport.extra).toEqual(['payments.legacyField_1']);
    expect(conn.standIn.indexes('payments').map((i) => i.name)).toContain('legacyField_1');
  });
});

describe('streams page by key, so a slow reader never holds a server cursor', () => {
  it('reads 1,234 records in order through short queries, each bounded and in time', async () => {
    const conn = await createStandInConnection();
    const store = await open(conn);
    const base = Date.parse('2026-01-01T00:00:00Z');
    // Several records per timestamp: the order must fall back on the id without losing or repeating one.
    for (let i = 0; i < 1234; i++) await store.payments.insertOne(payment({ buyerId: 'exporter', createdAt: new Date(base + Math.floor(i / 7) * 1000) }));
    conn.standIn.clearQueries();
    const seen: string[] = [];
    for await (const p of store.payments.stream({ buyerId: 'exporter' }, { sort: { createdAt: 1, id: 1 } })) seen.push(p.id);
    const all = await store.payments.find({ buyerId: 'exporter' }, { sort: { createdAt: 1, id: 1 } });
    expect(seen).toEqual(all.map((p) => p.id));
    const pages = conn.standIn.queries.filter((q) => q.op === 'find' && q.limit === 500);
    expect(pages).toHaveLength(3);
    expect(pages.every((q) => (q.maxTimeMS ?? 0) > 0)).toBe(true);
  });

  it('a record written between two pages does not make the stream repeat or skip the others', async () => {
    const conn = await createStandInConnection();
    const store = await open(conn);
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 600; i++) await store.payments.insertOne(payment({ buyerId: 'slow', createdAt: new Date(base + i * 1000) }));
    const seen: string[] = [];
    for await (const p of store.payments.stream({ buyerId: 'slow' }, { sort: { createdAt: 1, id: 1 } })) {
      seen.push(p.id);
      if (seen.length === 10) await store.payments.insertOne(payment({ buyerId: 'slow', createdAt: new Date(base - 1000) }));
    }
    expect(seen).toHaveLength(600);
    expect(new Set(seen).size).toBe(600);
  });
});

describe('every query carries a time limit', () => {
  it('the stand-in refuses a query without maxTimeMS, and the store never sends one', async () => {
    const conn = await createStandInConnection();
    const store = await open(conn);
    const p = await store.payments.insertOne(payment());
    await store.payments.find({ buyerId: p.buyerId }, { sort: { createdAt: -1 }, limit: 5 });
    await store.payments.count({ buyerId: p.buyerId });
    await store.payments.updateOne({ id: p.id }, { $set: { status: 'processing' } });
    await store.payments.updateMany({ buyerId: p.buyerId }, { $set: { status: 'failed' } });
    await store.payments.deleteMany({ buyerId: 'nobody' });
    const queries = conn.standIn.queries.filter((q) => q.op !== 'listIndexes');
    expect(queries.length).toBeGreaterThanOrEqual(5);
    expect(queries.filter((q) => !(q.maxTimeMS! > 0))).toEqual([]);
    // The check itself can fail: a raw driver call without a limit is refused.
    await expect(conn.db!.collection('payments').findOne({})).rejects.toThrow(/without maxTimeMS/);
  });

  it('a query over its limit is 503 store_timeout; a duplicate key names the key; others are store_unavailable', () => {
    const expectTranslated = (driverError: object, kind: string, code: string) => {
      try {
        translateError(Object.assign(new Error('driver says'), driverError));
      } catch (e) {
        expect(e).toBeInstanceOf(AppError);
        expect(e).toMatchObject({ kind, code });
        return;
      }
      throw new Error('translateError returned');
    };
    expectTranslated({ code: 50, codeName: 'MaxTimeMSExpired' }, 'unavailable', 'store_timeout');
    expectTranslated({ code: 11000, keyPattern: { externalId: 1 } }, 'conflict', 'duplicate_key');
    expectTranslated({ name: 'MongoNetworkError' }, 'unavailable', 'store_unavailable');
  });
});
