import { Context } from 'mingo/core';
import * as expressionOperators from 'mingo/operators/expression';
import * as queryOperators from 'mingo/operators/query';
import { Query } from 'mingo/query';
import type { Filter } from '../../core/store/store.js';

/**
 * The query engine of the in-process store: mingo, with one operator replaced. MongoDB's `$type`
 * matches an array field when any element has the type (MongoDB manual, "$type → Arrays"), and
 * the services rely on it (`{ pendingEffects: { $type: 'string' } }` is "has a step left", and
 * the exact partial filter of the index that finds those payments); mingo's `$type` tests only
 * the array itself. The type names are those of plain records: string, number, bool, date,
 * object, array, null.
 */

type Pred = (doc: Record<string, unknown>) => boolean;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** Values at a dotted path, stepping into arrays of objects as MongoDB does; missing paths give none. */
function valuesAt(doc: unknown, parts: string[], i = 0): unknown[] {
  if (i === parts.length) return [doc];
  if (Array.isArray(doc)) {
    const part = parts[i]!;
    const positional = /^\d+$/.test(part) ? valuesAt(doc[Number(part)], parts, i + 1) : [];
    return [...positional, ...doc.flatMap((el) => (el && typeof el === 'object' && !Array.isArray(el) ? valuesAt(el, parts, i) : []))];
  }
  if (doc === null || typeof doc !== 'object' || !Object.hasOwn(doc, parts[i]!)) return [];
  return valuesAt((doc as Record<string, unknown>)[parts[i]!], parts, i + 1);
}

function typeOperator(selector: string, wanted: unknown): Pred {
  const wants = (Array.isArray(wanted) ? wanted : [wanted]).map((w) => (w === 'double' || w === 'int' || w === 'long' ? 'number' : w));
  const parts = selector.split('.');
  return (doc) => valuesAt(doc, parts).some((v) => (Array.isArray(v) ? [v, ...v] : [v]).some((c) => wants.includes(typeName(c))));
}

const CONTEXT = Context.init({
  expression: expressionOperators,
  query: { ...queryOperators, $type: typeOperator as never },
});

const OPTIONS = { context: CONTEXT, idKey: 'id', scriptEnabled: false } as const;

/** A compiled filter over plain records (`id` is the key). */
export function matcher(filter: Filter): Query {
  return new Query(filter, OPTIONS);
}

/**
 * `filter` as a test of one record, with the same answers as `matcher(filter).test`. Most of the
 * store's filters are plain equalities (`{ id }`, `{ id, 'job.state', 'job.leaseOwner' }`, `{}`):
 * about two thirds of the inbox's queries in the webhook bench. Compiling each into a mingo Query
 * was the largest cost of applying a delivery (≈ 0.5 ms of ≈ 2.5 ms in the profile), so such a
 * filter is tested here directly: every key a field path, every value a string, finite number or
 * boolean, each compared with `===` after walking plain objects. MongoDB's equality also matches
 * an array holding the value, and steps through arrays on a path; a record that puts an array on
 * the way goes to mingo, compiled once for the filter, so the answer is always mingo's.
 */
export function predicate(filter: Filter): (doc: object) => boolean {
  const keys = Object.keys(filter);
  const simple = keys.every((k) => !k.startsWith('$') && isPlainValue((filter as Record<string, unknown>)[k]));
  if (!simple) {
    const q = matcher(filter);
    return (doc) => q.test(doc as Record<string, unknown>);
  }
  const paths = keys.map((k) => k.split('.'));
  const wanted = keys.map((k) => (filter as Record<string, unknown>)[k]);
  let slow: Query | undefined;
  return (doc) => {
    for (let i = 0; i < paths.length; i++) {
      const found = plainValueAt(doc, paths[i]!);
      if (found === ARRAY_ON_PATH) return (slow ??= matcher(filter)).test(doc as Record<string, unknown>);
      // This equality fails without an array in play, so the whole conjunction does.
      if (found !== wanted[i]) return false;
    }
    return true;
  };
}

function isPlainValue(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

const ARRAY_ON_PATH = Symbol('array on the path');

/** The value at a dotted path through plain objects (own fields only), or ARRAY_ON_PATH when an array is met, the last step included. */
function plainValueAt(doc: unknown, parts: string[]): unknown {
  let cur = doc;
  for (const part of parts) {
    if (Array.isArray(cur)) return ARRAY_ON_PATH;
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return Array.isArray(cur) ? ARRAY_ON_PATH : cur;
}
