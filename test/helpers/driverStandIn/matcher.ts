import { Aggregator } from 'mingo/aggregator';
import { Context } from 'mingo/core';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Query } from 'mingo/query';
import type { Doc } from './bsonCodec.js';
import { serverError } from './serverErrors.js';

/**
 * Filters, sorts and pipelines are evaluated by mingo, on documents fresh from BSON (so ObjectId
 * equality works: mingo compares objects of one class by `toString()`, which is the hex string,
 * and that also orders ObjectIds as the server does).
 *
 * Known differences: Decimal128 values compare by their text (equal text is equal; numeric order
 * and 1 == Decimal128('1') are not emulated); mingo's aggregation returns `$toDecimal` results as
 * JS numbers, not Decimal128; collations are not emulated.
 *
 * One operator is replaced: mingo's `$type` neither looks inside arrays nor knows the BSON type
 * names (`objectId`, `decimal`, `binData`, ...). On a server `{ creditKeys: { $type: 'string' } }`
 * matches `creditKeys: ['a']`, and that exact expression is the partial filter of the unique
 * multikey index, so getting it wrong would silently switch that index off.
 */

type Pred = (doc: Doc) => boolean;

const NUMERIC_TYPES = new Set(['double', 'int', 'long', 'decimal']);
const TYPE_BY_NUMBER: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  13: 'javascript',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};
const TYPE_BY_BSONTYPE: Record<string, string> = {
  ObjectId: 'objectId',
  Decimal128: 'decimal',
  Long: 'long',
  Int32: 'int',
  Double: 'double',
  Binary: 'binData',
  Timestamp: 'timestamp',
  MinKey: 'minKey',
  MaxKey: 'maxKey',
  Code: 'javascript',
  BSONRegExp: 'regex',
  BSONSymbol: 'symbol',
};

/** The BSON type name a value would be stored as. */
export function bsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'long';
  if (typeof v === 'number') return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? 'int' : 'double';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  if (v instanceof Uint8Array) return 'binData';
  const tag = (v as { _bsontype?: string })._bsontype;
  return (tag && TYPE_BY_BSONTYPE[tag]) ?? 'object';
}

function typeMatches(v: unknown, wanted: unknown): boolean {
  const name = typeof wanted === 'number' ? TYPE_BY_NUMBER[wanted] : wanted;
  const actual = bsonTypeName(v);
  return name === 'number' ? NUMERIC_TYPES.has(actual) : actual === name;
}

/**
 * The values a dotted path reaches in a document, with MongoDB's implicit traversal of arrays of
 * sub-documents (and numeric parts as positions). Arrays found at the end are returned as they
 * are. With `missingAsNull`, every branch that ends early yields `null`, which is what an index
 * stores for a missing field.
 */
export function valuesAt(doc: unknown, path: string, missingAsNull = false): unknown[] {
  const out: unknown[] = [];
  const walk = (value: unknown, parts: string[], i: number): void => {
    if (i === parts.length) {
      out.push(value);
      return;
    }
    const part = parts[i]!;
    if (Array.isArray(value)) {
      if (/^\d+$/.test(part) && Number(part) < value.length) walk(value[Number(part)], parts, i + 1);
      for (const el of value) if (isPlainObject(el)) walk(el, parts, i);
      return;
    }
    if (isPlainObject(value) && Object.hasOwn(value, part)) walk(value[part], parts, i + 1);
    else if (missingAsNull) out.push(null);
  };
  walk(doc, path.split('.'), 0);
  return out;
}

export function isPlainObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && bsonTypeName(v) === 'object';
}

function typeOperator(selector: string, wanted: unknown): Pred {
  const wants = Array.isArray(wanted) ? wanted : [wanted];
  return (doc) =>
    valuesAt(doc, selector).some((v) => {
      const candidates = Array.isArray(v) ? [v, ...v] : [v];
      return candidates.some((c) => wants.some((w) => typeMatches(c, w)));
    });
}

const CONTEXT = Context.init({
  accumulator: accumulatorOperators,
  expression: expressionOperators,
  pipeline: pipelineOperators,
  projection: projectionOperators,
  query: { ...queryOperators, $type: typeOperator as never },
  window: windowOperators,
});

const OPTIONS = { context: CONTEXT, scriptEnabled: false, idKey: '_id' } as const;

/** Compiles a filter; an operator mingo does not know is answered like the server (BadValue). */
export function compileFilter(filter: Doc): Query {
  try {
    return new Query(filter, OPTIONS);
  } catch (err) {
    throw serverError('BadValue', `stand-in could not parse the filter: ${(err as Error).message}`);
  }
}

export function matches(filter: Doc, doc: Doc): boolean {
  return compileFilter(filter).test(doc);
}

export interface FindShape {
  sort?: Record<string, 1 | -1>;
  skip?: number;
  limit?: number;
  projection?: Doc;
}

/** Filter, then sort, skip, limit (in that order whatever the caller wrote, as on a server). */
export function runFind(docs: Doc[], filter: Doc, shape: FindShape): Doc[] {
  let cursor = compileFilter(filter).find<Doc>(docs, shape.projection);
  if (shape.sort && Object.keys(shape.sort).length > 0) cursor = cursor.sort(shape.sort);
  if (shape.skip) cursor = cursor.skip(shape.skip);
  // A negative limit means "one batch of that many" to the server: the same rows here.
  if (shape.limit) cursor = cursor.limit(Math.abs(shape.limit));
  return cursor.all();
}

export function runPipeline(docs: Doc[], pipeline: Doc[]): Doc[] {
  try {
    return new Aggregator(pipeline, OPTIONS).run(docs) as Doc[];
  } catch (err) {
    throw serverError('BadValue', `stand-in could not run the pipeline: ${(err as Error).message}`);
  }
}
