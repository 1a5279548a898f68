import mongoose from 'mongoose';
import { AppError, fail } from '../../platform/errors.js';
import { isObjectId } from '../../platform/ids.js';
import { plainDecimal } from '../../platform/money.js';
import type { Filter, SortSpec } from '../../core/store/store.js';

/**
 * What the MongoDB adapter sends and gets back: the services' filters with `id` → `_id` and
 * ObjectId strings as ObjectIds, equality on a partial-index field made to prove its type, and
 * driver documents turned back into plain records. Driver errors become AppErrors here.
 */

/**
 * `id` → `_id` at every level where a field name can stand; ObjectId strings become ObjectIds.
 * An equality (or `$in`) with strings on a field in `partialString` gains `$type: 'string'`:
 * MongoDB uses an index that is partial on `{ field: { $type: 'string' } }` only for a query
 * that implies that filter (MongoDB manual, "Partial Indexes → Query Coverage"); without it every
 * such lookup is a collection scan. The result is the same, as a string equality only matches
 * strings.
 */
export function toMongoFilter(filter: Filter, partialString: ReadonlySet<string> = new Set()): Filter {
  const out: Filter = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      out[key] = (value as Filter[]).map((f) => toMongoFilter(f, partialString));
    } else if (key === 'id') {
      out._id = idCondition(value);
    } else if (partialString.has(key)) {
      out[key] = provingType(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function provingType(cond: unknown): unknown {
  if (typeof cond === 'string') return { $eq: cond, $type: 'string' };
  if (cond && typeof cond === 'object' && !Array.isArray(cond) && !(cond instanceof Date)) {
    const c = cond as Record<string, unknown>;
    const strings = typeof c.$eq === 'string' || (Array.isArray(c.$in) && c.$in.length > 0 && c.$in.every((v) => typeof v === 'string'));
    if (strings && c.$type === undefined) return { ...c, $type: 'string' };
  }
  return cond;
}

/**
 * A condition on `id` as MongoDB would evaluate it: a string that is not an ObjectId equals no
 * record (`_id` holds ObjectIds), so it matches nothing, and `$ne` of one matches everything;
 * Mongoose would instead fail to cast it (a 500 for what is simply "not found").
 */
function idCondition(value: unknown): unknown {
  if (typeof value === 'string') return isObjectId(value) ? new mongoose.Types.ObjectId(value) : { $in: [] };
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [op, v] of Object.entries(value)) {
      if ((op === '$eq' || op === '$ne') && typeof v === 'string' && !isObjectId(v)) {
        if (op === '$eq') out.$in = [];
        else out.$exists = true;
      } else if ((op === '$in' || op === '$nin') && Array.isArray(v)) {
        out[op] = v.filter((x) => typeof x !== 'string' || isObjectId(x)).map(castIds);
      } else {
        out[op] = castIds(v);
      }
    }
    return out;
  }
  return castIds(value);
}

function castIds(value: unknown): unknown {
  if (isObjectId(value)) return new mongoose.Types.ObjectId(value);
  if (Array.isArray(value)) return value.map(castIds);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, castIds(v)]));
  }
  return value;
}

export function toMongoSort(sort: SortSpec): Record<string, 1 | -1> {
  return Object.fromEntries(Object.entries(sort).map(([k, v]) => [k === 'id' ? '_id' : k, v]));
}

/**
 * The condition "after `last` in `sort` order" for keyset paging: for sort keys k1..kn,
 * `$or` over i of (k1 = v1, …, k(i-1) = v(i-1), ki beyond vi). Sort fields must never be null
 * (they are `createdAt`, `updatedAt` and `_id`), and `sort` must end in `_id` so it is total.
 */
export function afterKey(sort: Record<string, 1 | -1>, last: Record<string, unknown>): Filter {
  const keys = Object.entries(sort);
  return {
    $or: keys.map(([key, dir], i) => ({
      ...Object.fromEntries(keys.slice(0, i).map(([k]) => [k, last[k]])),
      [key]: { [dir === 1 ? '$gt' : '$lt']: last[key] },
    })),
  };
}

/** Converts what the driver returns into the plain record shape: ObjectId → hex, no `_id`. */
export function fromMongo<T>(doc: Record<string, unknown>): T {
  const { _id, ...rest } = doc;
  return { id: String(_id), ...(plain(rest) as object) } as T;
}

function plain(value: unknown): unknown {
  if (value instanceof mongoose.Types.ObjectId) return value.toHexString();
  if (value instanceof mongoose.Types.Decimal128) return plainDecimal(value.toString());
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/**
 * A unique-index violation is a conflict naming the keys; a query over its time limit
 * (MaxTimeMSExpired, code 50) is `store_timeout`; a schema refusal is internal (the store's own
 * rules refuse first, so this means they and the schema disagree); anything else is
 * `store_unavailable`. No driver message reaches a client.
 */
export function translateError(err: unknown): never {
  if (err instanceof AppError) throw err;
  const e = err as { code?: number; keyPattern?: Record<string, unknown>; name?: string };
  if (e?.code === 11000) {
    throw fail('duplicate_key', { details: { keys: Object.keys(e.keyPattern ?? {}).map((k) => (k === '_id' ? 'id' : k)) }, cause: err });
  }
  if (e?.code === 2 || e?.code === 14 || e?.code === 28 || e?.code === 40) {
    // BadValue, TypeMismatch, PathNotViable, ConflictingUpdateOperators: an update the record's
    // shape cannot take (e.g. $set inside a null field). The in-process store refuses the same.
    throw fail('record_invalid', { message: 'the update does not fit the record', cause: err });
  }
  if (e?.code === 50) {
    throw fail('store_timeout', { cause: err });
  }
  if (e?.name === 'ValidationError' || e?.name === 'CastError' || e?.name === 'StrictModeError') {
    throw fail('record_invalid', { cause: err });
  }
  throw fail('store_unavailable', { cause: err });
}
