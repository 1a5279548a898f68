import { describe, expect, it } from 'vitest';
import { INDEXES, indexName, indexNameOf, type CollectionName } from '../../src/adapters/store/indexPlan.js';
import { SCHEMAS } from '../../src/adapters/store/mongoModels.js';
import { QUERY_SHAPES } from '../../src/adapters/store/queryShapes.js';
import { canServe, type ServingIndex } from '../helpers/indexServing.js';

/**
 * The index-coverage test: every query shape the services send (src/store/queryShapes.ts) names
 * indexes that the Mongoose schemas really declare, and each can serve its shape. Whether the
 * list is complete is checked where queries are really sent: the driver tier fails on a shape
 * that is not listed (test/helpers/queryShapeCheck.ts).
 */

function schemaIndexes(c: CollectionName): ServingIndex[] {
  return SCHEMAS[c].indexes().map(([keys, opts]) => ({
    name: indexNameOf(keys),
    keys,
    partialFilterExpression: (opts as { partialFilterExpression?: Record<string, unknown> }).partialFilterExpression,
  }));
}

describe('query shapes and the indexes that serve them', () => {
  it.each(QUERY_SHAPES.map((q) => [`${q.collection} ← ${q.by}`, q] as const))('%s', (_label, q) => {
    const indexes = schemaIndexes(q.collection);
    const branches = (q.filter.$or as Record<string, unknown>[] | undefined) ?? [q.filter];
    expect(q.indexes, 'one index per $or branch').toHaveLength(branches.length);
    branches.forEach((branch, i) => {
      const index = indexes.find((ix) => ix.name === q.indexes[i]);
      expect(index, `${q.indexes[i]} is declared on ${q.collection}`).toBeDefined();
      expect(canServe(index!, branch), `${q.indexes[i]} serves ${JSON.stringify(branch)}`).toBe(true);
    });
  });

  it('the schemas declare exactly the index plan', () => {
    for (const c of Object.keys(INDEXES) as CollectionName[]) {
      expect(schemaIndexes(c).map((i) => i.name)).toEqual(INDEXES[c].map(indexName));
    }
  });

  it('every partial-unique lookup proves its type, or no index can serve it', () => {
    const hash = schemaIndexes('payments').find((i) => i.name === 'transactionHash_1')!;
    expect(canServe(hash, { transactionHash: { $eq: '0xabc', $type: 'string' } })).toBe(true);
    // What the adapter sent before: an equality MongoDB cannot answer from the partial index.
    expect(canServe(hash, { transactionHash: '0xabc' })).toBe(false);
    expect(canServe(hash, { transactionHash: null })).toBe(false);
  });

  it('every index in the plan serves at least one listed shape, so none is dead weight', () => {
    const used = new Set(QUERY_SHAPES.flatMap((q) => q.indexes.map((n) => `${q.collection}.${n}`)));
    const unused = (Object.keys(INDEXES) as CollectionName[])
      .flatMap((c) => INDEXES[c].filter((s) => !s.unique && !s.expireAtField).map((s) => `${c}.${indexName(s)}`))
      .filter((n) => !used.has(n));
    expect(unused).toEqual([]);
  });
});
