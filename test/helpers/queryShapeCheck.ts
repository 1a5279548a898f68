import { afterAll, expect } from 'vitest';
import type { CollectionName } from '../../src/adapters/store/indexPlan.js';
import { shapeOf } from '../../src/adapters/store/queryShape.js';
import { listedShape } from '../../src/adapters/store/queryShapes.js';
import { canServe, type ServingIndex } from './indexServing.js';
import { openedStandIns } from './testStore.js';

/**
 * Set up for every file of the driver tier (vitest.config.ts): after the file, every query the
 * stand-in received must be one an index serves, which here means one of
 * - a filter on `_id` by equality (served by `_id_`),
 * - a shape listed in src/store/queryShapes.ts (whose index the index-coverage test checks),
 * - a keyset page of a listed shape (the shape plus "after the last row"),
 * - any other filter that an index on the stand-in can serve (`canServe`; a test's own reads),
 * - `{}`: a whole collection, read by a test's own assertions (no service sends it).
 * A query that would be a collection scan on MongoDB fails the file, naming its shape.
 */
const COLLECTIONS: Record<string, CollectionName> = {
  payments: 'payments',
  purchaserequests: 'purchaseRequests',
  selleroffers: 'sellerOffers',
  webhookdeliveries: 'webhookDeliveries',
  idempotencykeys: 'idempotencyKeys',
};

const QUERY_OPS = new Set(['find', 'findOne', 'findOneAndUpdate', 'countDocuments', 'updateOne', 'updateMany', 'deleteOne', 'deleteMany', 'aggregate']);

function isIdLookup(filter: Record<string, unknown>): boolean {
  const id = filter._id;
  return id !== undefined && (typeof id !== 'object' || id === null || !Object.keys(id).some((k) => k.startsWith('$')) || '$eq' in id || '$in' in id);
}

/** `{ $and: [base, { $or: [ { k: { $gt|$lt } }, … ] }] }` → base. */
function withoutKeyset(filter: Record<string, unknown>): Record<string, unknown> {
  const and = filter.$and as Record<string, unknown>[] | undefined;
  if (Object.keys(filter).length !== 1 || and?.length !== 2) return filter;
  const or = and[1]!.$or as Record<string, unknown>[] | undefined;
  const isKeyset =
    Object.keys(and[1]!).length === 1 && or?.every((b) => Object.values(b).some((c) => c && typeof c === 'object' && ('$gt' in c || '$lt' in c)));
  return isKeyset ? and[0]! : filter;
}

function served(filter: Record<string, unknown>, indexes: ServingIndex[]): boolean {
  const branches = (filter.$or as Record<string, unknown>[] | undefined) ?? [];
  return indexes.some((ix) => canServe(ix, filter)) || (branches.length > 0 && branches.every((b) => served(b, indexes)));
}

afterAll(() => {
  const scans = new Set<string>();
  for (const standIn of openedStandIns) {
    for (const q of standIn.queries) {
      if (!QUERY_OPS.has(q.op)) continue;
      const collection = COLLECTIONS[q.collection];
      const filter = withoutKeyset((q.filter ?? {}) as Record<string, unknown>);
      if (!collection || Object.keys(filter).length === 0 || isIdLookup(filter)) continue;
      if (
        listedShape(collection, filter) ||
        served(
          filter,
          standIn.indexes(q.collection).map((ix) => ({ name: ix.name, keys: ix.key, partialFilterExpression: ix.partialFilterExpression })) as ServingIndex[],
        )
      )
        continue;
      scans.add(`${q.op} ${collection} ${shapeOf(filter)}`);
    }
  }
  expect([...scans], 'queries no index serves (a collection scan on MongoDB)').toEqual([]);
});
