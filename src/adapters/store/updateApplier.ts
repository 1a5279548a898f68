import { isDeepStrictEqual } from 'node:util';
import type { Update } from '../../core/store/store.js';

/**
 * Applies the update operators the services send (`$set`, `$unset`, `$push`, `$pull`, `$inc`) to
 * a record, in place, with MongoDB's semantics for each (source: MongoDB manual, "Update
 * Operators"):
 * - `$set` on a dotted path creates the missing objects on the way, but never inside `null`, a
 *   scalar, or an array (but by position): MongoDB refuses those (PathNotViable), so this throws;
 * - `$unset` removes the field (absent stays absent); an array element becomes `null`;
 * - `$push` appends one value, or each of `{ $each: [...] }`, creating the array when absent
 *   (other modifiers, `$slice`, `$position`, `$sort`, throw);
 * - `$pull` removes every element deep-equal to a scalar or array value; an object value is a
 *   query on each element, as MongoDB reads it, limited to equality or `$in` on its named fields
 *   (`{ id: 'x' }` removes the elements whose `id` is `'x'`, `{ id: { $in: ['x', 'y'] } }` those
 *   whose `id` is either; other operators and nested conditions throw);
 * - `$inc` adds to a number, starting from 0 when absent (`null` is not absent: it throws).
 * Values are cloned in, so the caller's update never aliases the record. The in-process store
 * calls this on its own copy of a record; it replaces mingo's `update()`, which rebuilt its
 * operator tables on every write (42 % of a webhook's CPU at 100k payments).
 *
 * Throws `Error` for an operator or shape outside that list: a programming error, caught by the
 * store contract tests, never by a client's input (filters and updates are built by services).
 */
export function applyUpdate(doc: Record<string, unknown>, update: Update): void {
  for (const [op, fields] of Object.entries(update)) {
    if (fields === undefined) continue;
    for (const [path, value] of Object.entries(fields as Record<string, unknown>)) {
      switch (op) {
        case '$set':
          parentFor(doc, path, true)![last(path)] = structuredClone(value);
          break;
        case '$unset': {
          const parent = parentFor(doc, path, false);
          // An array element is set to null, not removed: the array keeps its positions.
          if (Array.isArray(parent)) {
            if (isIndex(last(path)) && Number(last(path)) < parent.length) parent[Number(last(path))] = null;
          } else if (parent) delete parent[last(path)];
          break;
        }
        case '$push': {
          if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$')) && !isEach(value)) {
            throw new Error(`$push on ${path} with modifiers other than $each is not supported`);
          }
          const items = isEach(value) ? value.$each : [value];
          const parent = parentFor(doc, path, true)!;
          const current = parent[last(path)];
          if (current === undefined) parent[last(path)] = structuredClone(items);
          else if (Array.isArray(current)) current.push(...structuredClone(items));
          else throw new Error(`$push to ${path}, which is not an array`);
          break;
        }
        case '$pull': {
          const removes = pullMatcher(path, value);
          const parent = parentFor(doc, path, false);
          const current = parent?.[last(path)];
          if (Array.isArray(current)) parent![last(path)] = current.filter((x) => !removes(x));
          else if (current !== undefined) throw new Error(`$pull from ${path}, which is not an array`);
          break;
        }
        case '$inc': {
          if (typeof value !== 'number') throw new Error(`$inc on ${path} by a non-number`);
          const parent = parentFor(doc, path, true)!;
          // Absent starts at 0; null is a value, and not a number.
          const current = parent[last(path)] === undefined ? 0 : parent[last(path)];
          if (typeof current !== 'number') throw new Error(`$inc on ${path}, which is not a number`);
          parent[last(path)] = current + value;
          break;
        }
        default:
          throw new Error(`update operator ${op} is not supported by the store`);
      }
    }
  }
}

/** Which elements `$pull: { [path]: value }` removes: see `applyUpdate`. */
function pullMatcher(path: string, value: unknown): (x: unknown) => boolean {
  if (!isPlainObject(value)) return (x) => isDeepStrictEqual(x, value);
  const fields = Object.entries(value).map(([k, v]) => {
    if (k.startsWith('$')) throw new Error(`$pull on ${path} with a condition other than equality or $in on named fields is not supported`);
    if (!isPlainObject(v)) return { k, test: (x: unknown) => isDeepStrictEqual(x, v) };
    const ops = Object.keys(v);
    if (ops.length !== 1 || ops[0] !== '$in' || !Array.isArray(v.$in)) {
      throw new Error(`$pull on ${path} with a condition other than equality or $in on named fields is not supported`);
    }
    const values = v.$in as unknown[];
    return { k, test: (x: unknown) => values.some((c) => isDeepStrictEqual(x, c)) };
  });
  return (x) => isPlainObject(x) && fields.every(({ k, test }) => test(x[k]));
}

function last(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** The object holding the last segment of `path`; created on the way when `create`, else null if absent. */
function parentFor(doc: Record<string, unknown>, path: string, create: boolean): Record<string, unknown> | null {
  const parts = path.split('.');
  let cur: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(cur) && !isIndex(part)) return notViable(path, part, create);
    // Only the record's own fields are walked: `constructor` or `__proto__` inherited from
    // Object.prototype is not a field of it (normaliseUpdate refuses `__proto__` outright).
    const next = Object.hasOwn(cur, part) ? cur[part] : undefined;
    if (next === undefined) {
      if (!create) return null;
      cur = cur[part] = {};
    } else if (next === null) {
      // MongoDB refuses to create a field inside null (PathNotViable); it only skips it when reading.
      if (!create) return null;
      throw new Error(`cannot set ${path}: ${part} is null`);
    } else if (typeof next === 'object' && !(next instanceof Date)) {
      cur = next as Record<string, unknown>;
    } else {
      return notViable(path, part, create);
    }
  }
  if (Array.isArray(cur) && !isIndex(last(path))) return notViable(path, last(path), create);
  return cur;
}

/** A path that runs into a value which cannot hold it: nothing to remove there, nor can it be created. */
function notViable(path: string, part: string, create: boolean): null {
  if (!create) return null;
  throw new Error(`cannot set ${path}: ${part} cannot hold a field there`);
}

function isIndex(part: string): boolean {
  return /^\d+$/.test(part);
}

function isEach(v: unknown): v is { $each: unknown[] } {
  return isPlainObject(v) && Array.isArray((v as { $each?: unknown }).$each) && Object.keys(v).length === 1;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}
