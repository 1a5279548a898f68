import { isDeepStrictEqual } from 'node:util';
import type { Update } from './store.js';

/**
 * Applies the update operators the services send (`$set`, `$unset`, `$push`, `$pull`, `$inc`) to
 * a record, in place, with MongoDB's semantics for each (source: MongoDB manual, "Update
 * Operators"):
 * - `$set` on a dotted path creates the missing objects on the way;
 * - `$unset` removes the field (absent stays absent);
 * - `$push` appends one value, or each of `{ $each: [...] }`, creating the array when absent;
 * - `$pull` removes every element deep-equal to the value (conditions are not supported);
 * - `$inc` adds to a number, starting from 0 when absent.
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
          if (parent) delete parent[last(path)];
          break;
        }
        case '$push': {
          const items = isEach(value) ? value.$each : [value];
          const parent = parentFor(doc, path, true)!;
          const current = parent[last(path)];
          if (current === undefined) parent[last(path)] = structuredClone(items);
          else if (Array.isArray(current)) current.push(...structuredClone(items));
          else throw new Error(`$push to ${path}, which is not an array`);
          break;
        }
        case '$pull': {
          if (isPlainObject(value)) throw new Error(`$pull on ${path} with a condition is not supported`);
          const parent = parentFor(doc, path, false);
          const current = parent?.[last(path)];
          if (Array.isArray(current)) parent![last(path)] = current.filter((x) => !isDeepStrictEqual(x, value));
          else if (current !== undefined) throw new Error(`$pull from ${path}, which is not an array`);
          break;
        }
        case '$inc': {
          if (typeof value !== 'number') throw new Error(`$inc on ${path} by a non-number`);
          const parent = parentFor(doc, path, true)!;
          const current = parent[last(path)] ?? 0;
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

function last(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** The object holding the last segment of `path`; created on the way when `create`, else null if absent. */
function parentFor(doc: Record<string, unknown>, path: string, create: boolean): Record<string, unknown> | null {
  const parts = path.split('.');
  let cur: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === undefined || next === null) {
      if (!create) return null;
      cur = cur[part] = {};
    } else if (typeof next === 'object' && !(next instanceof Date)) {
      cur = next as Record<string, unknown>;
    } else {
      throw new Error(`cannot set ${path}: ${part} is not an object`);
    }
  }
  return cur;
}

function isEach(v: unknown): v is { $each: unknown[] } {
  return isPlainObject(v) && Array.isArray((v as { $each?: unknown }).$each) && Object.keys(v).length === 1;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}
