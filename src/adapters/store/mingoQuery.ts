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
