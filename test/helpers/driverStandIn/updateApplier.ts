import type { Doc } from './bsonCodec.js';
import { keyString } from './indexKeys.js';
import { bsonTypeName, isPlainObject, matches } from './matcher.js';
import { serverError, StandInUsageError } from './serverErrors.js';

/**
 * Applies update operators to a fresh copy of a stored document, with the server's semantics and
 * its refusals (MongoDB manual, "Update Operators"), because a stand-in that silently accepts what
 * a server rejects would hide bugs: `$inc` on a string and `$push` onto a non-array fail (mingo's
 * own `update` ignores both), and two operators touching one path conflict (code 40).
 *
 * Emulated: $set, $unset, $inc, $push ($each, $position, $slice), $addToSet ($each), $pull
 * (a value, an operator condition, or a query on sub-documents), $setOnInsert (on upsert
 * inserts only). Any other operator throws a StandInUsageError naming it.
 */

const EMULATED = new Set(['$set', '$unset', '$inc', '$push', '$addToSet', '$pull', '$setOnInsert']);
const SERVER_KNOWN = new Set([...EMULATED, '$currentDate', '$min', '$max', '$mul', '$rename', '$pop', '$pullAll', '$bit']);

/** An update document of operators (else it is a replacement). */
export function isOperatorUpdate(update: Doc): boolean {
  const keys = Object.keys(update);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

export function applyUpdate(doc: Doc, update: Doc, opts: { inserting: boolean }): void {
  checkOperators(update);
  for (const [op, fields] of Object.entries(update)) {
    if (op === '$setOnInsert' && !opts.inserting) continue;
    for (const [path, value] of Object.entries(fields as Doc)) applyOne(doc, op, path, value);
  }
}

function checkOperators(update: Doc): void {
  const paths: string[] = [];
  for (const [op, fields] of Object.entries(update)) {
    if (!SERVER_KNOWN.has(op)) {
      throw serverError('FailedToParse', `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!EMULATED.has(op)) throw new StandInUsageError(`stand-in: update operator ${op} is not emulated`);
    if (!isPlainObject(fields)) throw serverError('FailedToParse', `Modifiers operate on fields but we found type ${bsonTypeName(fields)} instead.`);
    for (const path of Object.keys(fields)) {
      if (path.split('.').some((part) => part.startsWith('$'))) {
        throw new StandInUsageError(`stand-in: positional update path '${path}' is not emulated`);
      }
      paths.push(path);
    }
  }
  for (const a of paths) for (const b of paths) if (b.startsWith(`${a}.`)) conflict(a, b);
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) conflict(p, p);
    seen.add(p);
  }
}

function conflict(a: string, b: string): never {
  throw serverError('ConflictingUpdateOperators', `Updating the path '${b}' would create a conflict at '${a}'`);
}

function applyOne(doc: Doc, op: string, path: string, value: unknown): void {
  const parts = path.split('.');
  const leaf = parts.at(-1)!;
  switch (op) {
    case '$set':
    case '$setOnInsert':
      setAt(container(doc, parts, true)!, leaf, value);
      return;
    case '$unset': {
      const parent = container(doc, parts, false);
      if (Array.isArray(parent)) {
        if (/^\d+$/.test(leaf) && Number(leaf) < parent.length) parent[Number(leaf)] = null;
      } else if (parent) delete parent[leaf];
      return;
    }
    case '$inc': {
      if (bsonTypeName(value) !== 'int' && bsonTypeName(value) !== 'double') {
        if (bsonTypeName(value) === 'long' || bsonTypeName(value) === 'decimal') {
          throw new StandInUsageError(`stand-in: $inc by a ${bsonTypeName(value)} is not emulated`);
        }
        throw serverError('TypeMismatch', `Cannot increment with non-numeric argument: {${path}: ${String(value)}}`);
      }
      const parent = container(doc, parts, true)!;
      const current = getAt(parent, leaf);
      if (current === undefined) setAt(parent, leaf, value);
      else if (typeof current === 'number') setAt(parent, leaf, current + (value as number));
      else throw serverError('TypeMismatch', `Cannot apply $inc to a value of non-numeric type. Field '${path}' has non-numeric type ${bsonTypeName(current)}`);
      return;
    }
    case '$push':
    case '$addToSet': {
      const parent = container(doc, parts, true)!;
      const list = arrayAt(parent, leaf, path);
      const mods = isPlainObject(value) && '$each' in value ? value : { $each: [value] };
      const each = mods.$each as unknown[];
      if (op === '$addToSet') {
        for (const v of each) if (!list.some((x) => keyString([x]) === keyString([v]))) list.push(v);
        return;
      }
      if (mods.$sort !== undefined) throw new StandInUsageError('stand-in: $push with $sort is not emulated');
      const at = typeof mods.$position === 'number' ? mods.$position : list.length;
      list.splice(at < 0 ? Math.max(0, list.length + at) : at, 0, ...each);
      if (typeof mods.$slice === 'number') {
        const kept = mods.$slice >= 0 ? list.slice(0, mods.$slice) : list.slice(mods.$slice);
        list.splice(0, list.length, ...kept);
      }
      return;
    }
    case '$pull': {
      const parent = container(doc, parts, false);
      const list = parent ? getAt(parent, leaf) : undefined;
      if (list === undefined) return;
      if (!Array.isArray(list)) throw serverError('BadValue', 'Cannot apply $pull to a non-array value');
      const remove = pullPredicate(value);
      setAt(
        parent!,
        leaf,
        list.filter((el) => !remove(el)),
      );
      return;
    }
  }
}

function pullPredicate(cond: unknown): (el: unknown) => boolean {
  if (isPlainObject(cond)) {
    const isOperatorCondition = Object.keys(cond).some((k) => k.startsWith('$'));
    if (isOperatorCondition) return (el) => matches({ v: cond }, { v: el });
    return (el) => isPlainObject(el) && matches(cond, el);
  }
  return (el) => keyString([el]) === keyString([cond]);
}

type Container = Doc | unknown[];

/** The object or array holding the last part of `parts`, created on the way when asked. */
function container(doc: Doc, parts: string[], create: boolean): Container | undefined {
  let cur: Container = doc;
  for (const part of parts.slice(0, -1)) {
    let next = getAt(cur, part);
    if (next === undefined || next === null) {
      if (!create) return undefined;
      if (next === null) throw serverError('BadValue', `Cannot create field '${part}' in element {${part}: null}`);
      next = {};
      setAt(cur, part, next);
    }
    if (!isPlainObject(next) && !Array.isArray(next)) {
      if (!create) return undefined;
      throw serverError('BadValue', `Cannot create field in element {${part}: ${String(next)}}`);
    }
    cur = next;
  }
  return cur;
}

function getAt(c: Container, key: string): unknown {
  if (Array.isArray(c)) return /^\d+$/.test(key) ? c[Number(key)] : undefined;
  return Object.hasOwn(c, key) ? c[key] : undefined;
}

function setAt(c: Container, key: string, value: unknown): void {
  if (!Array.isArray(c)) {
    c[key] = value;
    return;
  }
  if (!/^\d+$/.test(key)) throw serverError('BadValue', `Cannot create field '${key}' in an array`);
  const i = Number(key);
  while (c.length < i) c.push(null);
  c[i] = value;
}

function arrayAt(parent: Container, leaf: string, path: string): unknown[] {
  const current = getAt(parent, leaf);
  if (current === undefined) {
    const created: unknown[] = [];
    setAt(parent, leaf, created);
    return created;
  }
  if (!Array.isArray(current)) {
    throw serverError('BadValue', `The field '${path}' must be an array but is of type ${bsonTypeName(current)}`);
  }
  return current;
}
