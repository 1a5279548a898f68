import type { Model } from 'mongoose';
import { indexNameOf } from './indexPlan.js';

/**
 * Builds the indexes the schemas declare (src/store/indexPlan.ts), one by one, before the store
 * serves anything: a unique key that is not built is a unique key that is not enforced.
 *
 * `createIndex` is idempotent for an index that already exists with the same keys and options.
 * The server refuses, and start-up stops with a StoreStartupError that names the index, when:
 * - an index of that name exists with other options (code 85, IndexOptionsConflict) or other
 *   keys (86, IndexKeySpecsConflict): an index definition changed between releases;
 * - a unique index meets records that already share a value (11000, duplicate key).
 * README, "Migrating an index", says what to do in each case. Indexes the schema no longer
 * declares are left in place (dropping one is an operator's decision) and listed in `extra`.
 * Source: MongoDB manual, "db.collection.createIndex() → Behaviors" and error codes.
 */
export class StoreStartupError extends Error {
  constructor(
    message: string,
    readonly code: 'index_conflict' | 'index_duplicates' | 'index_build_failed',
    readonly collection: string,
    readonly index: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreStartupError';
  }
}

export interface IndexReport {
  /** `collection.indexName` built or confirmed. */
  built: string[];
  /** `collection.indexName` present on the server but not declared by the schema. */
  extra: string[];
}

/** Builds every declared index of every model; throws StoreStartupError on the first failure. */
export async function ensureIndexes(models: Model<any>[]): Promise<IndexReport> {
  const report: IndexReport = { built: [], extra: [] };
  for (const model of models) {
    const coll = model.collection.collectionName;
    const declared = new Set<string>(['_id_']);
    for (const [keys, options] of model.schema.indexes()) {
      const name = indexNameOf(keys);
      declared.add(name);
      try {
        await model.collection.createIndex(keys as Record<string, 1 | -1>, { ...(options as Record<string, unknown>), name });
      } catch (err) {
        throw startupError(err, coll, name);
      }
      report.built.push(`${coll}.${name}`);
    }
    const existing = (await model.collection.indexes().catch(() => [])) as { name?: string }[];
    for (const ix of existing) if (ix.name && !declared.has(ix.name)) report.extra.push(`${coll}.${ix.name}`);
  }
  return report;
}

function startupError(err: unknown, collection: string, index: string): StoreStartupError {
  const code = (err as { code?: number })?.code;
  const where = `index ${index} on ${collection}`;
  if (code === 85 || code === 86) {
    return new StoreStartupError(
      `${where} exists on the server with different ${code === 85 ? 'options' : 'keys'}; drop it (db.${collection}.dropIndex("${index}")) and start again so it is rebuilt as declared. See README, "Migrating an index".`,
      'index_conflict',
      collection,
      index,
      { cause: err },
    );
  }
  if (code === 11000) {
    const dup = JSON.stringify((err as { keyValue?: unknown }).keyValue ?? null);
    return new StoreStartupError(
      `${where} cannot be built: records already share a value that must be unique (${dup}); resolve the duplicates and start again. See README, "Migrating an index".`,
      'index_duplicates',
      collection,
      index,
      { cause: err },
    );
  }
  return new StoreStartupError(
    `${where} could not be built: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
    'index_build_failed',
    collection,
    index,
    { cause: err },
  );
}
