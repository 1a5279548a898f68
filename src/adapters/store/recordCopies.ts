/**
 * The copies the in-process store makes of a record: a frozen one it keeps (and hands to readers)
 * and a private, mutable one it returns from a write. A record holds JSON-like data and dates
 * (src/core/store/records.ts), so both are walked here rather than with `structuredClone`, which
 * serialises and rebuilds the whole value: on the webhook inbox's insert (issue 15's bench) the
 * two structuredClones of each delivery row cost more than checking the row against its schema.
 */

/**
 * Dates keep their time in an internal slot that `Object.freeze` does not protect, so a stored
 * Date gets this prototype: still `instanceof Date` (its `constructor` is still `Date`, it still
 * serialises and compares as one), but every setter throws instead of changing the stored time.
 */
const FROZEN_DATE_PROTOTYPE: Date = Object.create(Date.prototype);
for (const name of Object.getOwnPropertyNames(Date.prototype)) {
  if (!name.startsWith('set')) continue;
  Object.defineProperty(FROZEN_DATE_PROTOTYPE, name, {
    value() {
      throw new TypeError(`Cannot call Date.prototype.${name} on a record read from the store: records are read-only`);
    },
  });
}
Object.freeze(FROZEN_DATE_PROTOTYPE);

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function refusedKind(value: unknown): TypeError {
  return new TypeError(
    `a stored record holds only plain data and dates, not ${typeof value === 'symbol' ? 'a symbol' : Object.prototype.toString.call(value)}`,
  );
}

/**
 * A deep copy of `value` in which nothing can change: plain objects and arrays frozen, dates made
 * read-only. Anything else a record cannot hold (a Map, a Set, a typed array, a class instance)
 * is refused with a TypeError rather than kept shared or mutable.
 */
export function frozenSnapshot<V>(value: V): V {
  return freezeOwned(mutableCopy(value));
}

/**
 * Freezes a value whose objects and arrays are the caller's own (just built, shared with no one),
 * copying only what may still be shared with someone else: each Date is replaced by a read-only
 * copy, since freezing it means changing its prototype. `normaliseRecord`'s output is such a
 * value (every object and array in it is new and plain, dates are the caller's), and so is
 * `mutableCopy`'s, so a stored record is frozen in one pass without being copied first. Anything
 * else (a frozen object, an Array subclass, a class instance, a function) is refused with a
 * TypeError: it is not the caller's to freeze, or not data.
 */
export function freezeOwned<V>(value: V): V {
  if (typeof value === 'function' || typeof value === 'symbol') throw refusedKind(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return frozenDate(value) as V;
  const plain = Object.getPrototypeOf(value) === (Array.isArray(value) ? Array.prototype : Object.prototype);
  if (!plain) throw refusedKind(value);
  if (Object.isFrozen(value)) throw new TypeError('freezeOwned: the value is frozen already, so it is not the caller’s own');
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = freezeOwned(value[i]);
  } else {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = freezeOwned(record[key]);
  }
  return Object.freeze(value);
}

function frozenDate(date: Date): Date {
  const copy = new Date(date.getTime());
  Object.setPrototypeOf(copy, FROZEN_DATE_PROTOTYPE);
  return Object.freeze(copy);
}

/**
 * A private, mutable deep copy of stored data (plain objects, arrays, dates and primitives, as
 * `freezeOwned` guarantees of every stored record): what a write returns, and the draft an update
 * is applied to. Dates come back as ordinary Dates.
 */
export function mutableCopy<V>(value: V): V {
  if (typeof value === 'function' || typeof value === 'symbol') throw refusedKind(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return new Date(value.getTime()) as V;
  if (Array.isArray(value)) {
    // By index into a plain Array: an Array subclass's `map` or iterator could yield anything.
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = mutableCopy(value[i]);
    return out as V;
  }
  if (!isPlainObject(value)) throw refusedKind(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // Assigned, an own `__proto__` key would set the copy's prototype instead of a field.
    if (key === '__proto__') throw new TypeError('a stored record holds no "__proto__" key');
    out[key] = mutableCopy((value as Record<string, unknown>)[key]);
  }
  return out as V;
}
