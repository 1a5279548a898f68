/**
 * Whether an index can serve a filter, as MongoDB's planner decides it for the cases this
 * service has (MongoDB manual, "Query Plans", "Partial Indexes → Query Coverage"): the index's
 * leading field carries a condition an index scan can bound (equality, `$in`, a range, or the
 * `$type` of a partial index), at the top level or in a branch of a top-level `$and`; and for a
 * partial index on `{ field: { $type: 'string' } }`, that condition includes `$type: 'string'`.
 * `$ne`, `null` and `$exists: false` bound nothing.
 */
export interface ServingIndex {
  name: string;
  keys: Record<string, unknown>;
  partialFilterExpression?: Record<string, unknown>;
}

const BOUNDING = ['$eq', '$in', '$lt', '$lte', '$gt', '$gte'];

export function canServe(index: ServingIndex, filter: Record<string, unknown>): boolean {
  const field = Object.keys(index.keys)[0]!;
  const conditions = [filter[field], ...((filter.$and as Record<string, unknown>[] | undefined) ?? []).map((b) => b[field])].filter((c) => c !== undefined);
  const partialType = (index.partialFilterExpression?.[field] as { $type?: string } | undefined)?.$type;
  return conditions.some((c) => {
    if (c === null) return false;
    const ops = c && typeof c === 'object' && !(c instanceof Date) ? (c as Record<string, unknown>) : { $eq: c };
    const bounded = Object.keys(ops).some((k) => BOUNDING.includes(k)) || (partialType !== undefined && ops.$type === partialType);
    const provesPartial = partialType === undefined || ops.$type === partialType;
    return bounded && provesPartial;
  });
}
