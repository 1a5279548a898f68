import mongoose from 'mongoose';
import { bsonTypeName, valuesAt } from './matcher.js';
import { serverError } from './serverErrors.js';
import type { Doc } from './bsonCodec.js';

/**
 * The keys a document contributes to an index, as a server computes them:
 * - a missing field is `null` (so two documents without the field collide in a unique index
 *   that is neither sparse nor partial);
 * - an array contributes each element as a key of its own (a multikey index); an empty array
 *   contributes `undefined`;
 * - in a compound index at most one field may hold an array ("cannot index parallel arrays").
 * Keys are compared through a canonical string in which numbers of every BSON numeric type are
 * equal when their values are (1, 1.0, Long(1), Decimal128('1')), as in the server's key order.
 */

/** Stands for the key of an empty array (the server stores `undefined`). */
export const EMPTY_ARRAY_KEY = Symbol('empty array');

export function keyTuples(doc: Doc, key: Record<string, unknown>): unknown[][] {
  const fields = Object.keys(key);
  let arrayField: string | null = null;
  const perField = fields.map((field) => {
    const reached = valuesAt(doc, field, true);
    const out: unknown[] = [];
    for (const v of reached) {
      if (!Array.isArray(v)) {
        out.push(v);
        continue;
      }
      if (arrayField !== null && arrayField !== field) {
        throw serverError('CannotIndexParallelArrays', `cannot index parallel arrays [${field}] [${arrayField}]`);
      }
      arrayField = field;
      if (v.length === 0) out.push(EMPTY_ARRAY_KEY);
      else out.push(...v);
    }
    return out.length > 0 ? out : [null];
  });
  return perField.reduce<unknown[][]>((tuples, values) => tuples.flatMap((t) => values.map((v) => [...t, v])), [[]]);
}

/** True when every field of the index is missing (what `sparse` leaves out). */
export function allFieldsMissing(doc: Doc, key: Record<string, unknown>): boolean {
  return Object.keys(key).every((field) => valuesAt(doc, field).length === 0);
}

function canon(v: unknown): unknown {
  if (v === EMPTY_ARRAY_KEY) return ['undefined'];
  if (v === null || v === undefined) return ['null'];
  const type = bsonTypeName(v);
  switch (type) {
    case 'int':
    case 'double':
      return ['n', Object.is(v, -0) ? 0 : v];
    case 'long':
    case 'decimal':
      return ['n', Number(String(v))];
    case 'string':
    case 'bool':
      return [type, v];
    case 'date':
      return ['date', (v as Date).getTime()];
    case 'objectId':
      return ['oid', (v as mongoose.mongo.ObjectId).toHexString()];
    case 'array':
      return ['array', (v as unknown[]).map(canon)];
    case 'object':
      return ['object', Object.entries(v as Doc).map(([k, x]) => [k, canon(x)])];
    default:
      return [type, String(v)];
  }
}

/** Equal for keys the server treats as equal. */
export function keyString(tuple: unknown[]): string {
  return JSON.stringify(tuple.map(canon));
}

/** A value as the server prints it in a duplicate-key message. */
export function showValue(v: unknown): string {
  if (v === EMPTY_ARRAY_KEY || v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (bsonTypeName(v)) {
    case 'string':
      return JSON.stringify(v);
    case 'objectId':
      return `ObjectId('${(v as mongoose.mongo.ObjectId).toHexString()}')`;
    case 'date':
      return `new Date(${(v as Date).getTime()})`;
    case 'decimal':
      return `Decimal128('${String(v)}')`;
    case 'array':
      return `[ ${(v as unknown[]).map(showValue).join(', ')} ]`;
    case 'object':
      return showDoc(v as Doc);
    default:
      return String(v);
  }
}

export function showDoc(doc: Doc): string {
  const entries = Object.entries(doc);
  return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${k}: ${showValue(v)}`).join(', ')} }`;
}
