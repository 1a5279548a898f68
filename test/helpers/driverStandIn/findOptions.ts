import type { Doc } from './bsonCodec.js';
import { StandInUsageError } from './serverErrors.js';

/**
 * The option checks and normalisations every query goes through: the time-limit rule, and the
 * several ways the driver accepts a sort (`{ a: 1 }`, `[['a', -1]]`, `'a'`, a Map, 'asc'/'desc').
 */

export interface OpOptions {
  maxTimeMS?: number;
  sort?: unknown;
  skip?: number;
  limit?: number;
  projection?: Doc;
  upsert?: boolean;
  returnDocument?: 'before' | 'after';
  includeResultMetadata?: boolean;
  [other: string]: unknown;
}

/** What a stand-in collection needs from its database. */
export interface TimeLimitPolicy {
  readonly requireMaxTimeMS: boolean;
}

export function checkTimeLimit(policy: TimeLimitPolicy, op: string, collection: string, maxTimeMS: unknown): void {
  if (!policy.requireMaxTimeMS) return;
  if (typeof maxTimeMS === 'number' && Number.isFinite(maxTimeMS) && maxTimeMS > 0) return;
  throw new StandInUsageError(`stand-in: ${op} on ${collection} sent without maxTimeMS`);
}

const DIRECTIONS: Record<string, 1 | -1> = { '1': 1, '-1': -1, asc: 1, ascending: 1, desc: -1, descending: -1 };

function direction(field: string, v: unknown): 1 | -1 {
  const d = DIRECTIONS[String(v).toLowerCase()];
  if (!d) throw new StandInUsageError(`stand-in: sort ${JSON.stringify({ [field]: v })} is not emulated`);
  return d;
}

export function normaliseSort(sort: unknown): Record<string, 1 | -1> | undefined {
  if (sort === undefined || sort === null) return undefined;
  let pairs: [string, unknown][];
  if (typeof sort === 'string') pairs = [[sort, 1]];
  else if (sort instanceof Map) pairs = [...sort.entries()];
  else if (Array.isArray(sort)) {
    pairs = (Array.isArray(sort[0]) ? sort : [sort]).map((p) => (Array.isArray(p) ? [p[0], p[1] ?? 1] : [p, 1]));
  } else pairs = Object.entries(sort as Doc);
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs.map(([f, v]) => [f, direction(f, v)]));
}
