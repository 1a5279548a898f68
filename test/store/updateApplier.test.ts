import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Update } from '../../src/core/store/store.js';
import { applyUpdate } from '../../src/adapters/store/updateApplier.js';

/**
 * `applyUpdate` against the MongoDB semantics it documents (MongoDB manual, "Update Operators"),
 * as properties over random records and paths. Seeded; FC_SEED reproduces another run.
 */

const SEED = Number(process.env.FC_SEED ?? 20250102);
const RUNS = { seed: SEED, numRuns: 300 };

type Doc = Record<string, unknown>;

const key = fc.constantFrom('a', 'b', 'c', 'd');
const scalar = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -5, max: 5 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(new Date(Date.UTC(2025, 0, 1))),
);
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).v;
const doc: fc.Arbitrary<Doc> = fc.dictionary(key, value, { maxKeys: 4, noNullPrototype: true });
const path = fc.array(key, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));

function get(d: unknown, p: string): unknown {
  let cur = d;
  for (const part of p.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Doc)[part];
  }
  return cur;
}

/** Whether every prefix of `p` (but the last part) is absent or an object, so MongoDB can create the path. */
function settable(d: Doc, p: string): boolean {
  let cur: unknown = d;
  for (const part of p.split('.').slice(0, -1)) {
    if (cur === undefined) return true;
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || cur instanceof Date) return false;
    cur = (cur as Doc)[part];
  }
  return cur === undefined || (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && !(cur instanceof Date));
}

const applied = (d: Doc, u: Update): Doc => {
  const copy = structuredClone(d);
  applyUpdate(copy, u);
  return copy;
};

/** `d` without the value at `p`: what every other path of the record must still hold. */
function withoutPath(d: Doc, p: string): Doc {
  const copy = structuredClone(d);
  const parts = p.split('.');
  let cur: unknown = copy;
  for (const part of parts.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return copy;
    cur = (cur as Doc)[part];
  }
  if (cur && typeof cur === 'object' && !Array.isArray(cur)) delete (cur as Doc)[parts.at(-1)!];
  return copy;
}

describe('applyUpdate: $set', () => {
  it('puts the value at a dotted path, creating missing objects, and changes nothing else', () => {
    fc.assert(
      fc.property(doc, path, value, (d, p, v) => {
        fc.pre(settable(d, p));
        const out = applied(d, { $set: { [p]: v } });
        expect(get(out, p)).toStrictEqual(v);
        // Every other field is as it was, at the top and beside each step of the path.
        const parts = p.split('.');
        for (let i = 0; i < parts.length; i++) {
          const at = (x: Doc) => (i === 0 ? x : get(x, parts.slice(0, i).join('.')));
          const before = at(d);
          if (!before || typeof before !== 'object') continue;
          for (const k of Object.keys(before)) if (k !== parts[i]) expect((at(out) as Doc)[k]).toStrictEqual((before as Doc)[k]);
        }
      }),
      RUNS,
    );
  });

  it('refuses to create a field inside null, a scalar or an array (MongoDB: PathNotViable)', () => {
    fc.assert(
      fc.property(key, key, fc.constantFrom(null, 'text', 3, true, new Date(0), [1, 2]), (a, b, blocker) => {
        const d: Doc = { [a]: blocker };
        expect(() => applyUpdate(structuredClone(d), { $set: { [`${a}.${b}`]: 1 } })).toThrow();
      }),
      RUNS,
    );
  });
});

describe('applyUpdate: $unset', () => {
  it('removes the field and leaves its siblings; an absent path (or one through null) is a no-op', () => {
    fc.assert(
      fc.property(doc, path, (d, p) => {
        const present = get(d, p) !== undefined;
        const out = applied(d, { $unset: { [p]: '' } });
        expect(get(out, p)).toBeUndefined();
        if (!present) expect(out).toStrictEqual(d);
        else expect(out).toStrictEqual(withoutPath(d, p));
      }),
      RUNS,
    );
  });

  it('sets an array element to null rather than removing it', () => {
    expect(applied({ a: [1, 2, 3] }, { $unset: { 'a.1': '' } })).toStrictEqual({ a: [1, null, 3] });
    expect(applied({ a: [1] }, { $unset: { 'a.5': '' } })).toStrictEqual({ a: [1] });
  });
});

describe('applyUpdate: $push', () => {
  it('appends one value, or each of $each, creating the array when absent', () => {
    fc.assert(
      fc.property(fc.option(fc.array(value, { maxLength: 3 }), { nil: undefined }), fc.array(value, { maxLength: 3 }), fc.boolean(), (start, items, each) => {
        fc.pre(each || items.length === 1);
        const d: Doc = start === undefined ? {} : { list: start };
        const pushed = each ? { $each: items } : items[0];
        const out = applied(d, { $push: { list: pushed } });
        expect(out.list).toStrictEqual([...(start ?? []), ...items]);
      }),
      RUNS,
    );
  });

  it('refuses to push onto something that is not an array', () => {
    fc.assert(
      fc.property(fc.constantFrom<unknown>(null, 'x', 1, { k: 1 }, new Date(0)), value, (current, v) => {
        expect(() => applyUpdate({ list: current }, { $push: { list: v } })).toThrow();
      }),
      RUNS,
    );
  });
});

describe('applyUpdate: $pull', () => {
  it('an object value is a query on each element: equality on its named fields, as MongoDB reads it', () => {
    const at = new Date(0);
    const list = [{ id: 'a', at, n: 1 }, { id: 'b', at, n: 2 }, 'a', { id: 'a', n: 3 }];
    expect(applied({ list }, { $pull: { list: { id: 'a' } } })).toStrictEqual({ list: [{ id: 'b', at, n: 2 }, 'a'] });
    expect(applied({ list }, { $pull: { list: { id: 'a', n: 3 } } })).toStrictEqual({ list: list.slice(0, 3) });
    expect(applied({ list }, { $pull: { list: { id: 'z' } } })).toStrictEqual({ list });
  });

  it('$in on a named field removes the elements whose field is any of the values (one update for many events)', () => {
    const list = [{ id: 'a' }, { id: 'b' }, { id: 'c' }, 'a', { id: 'a', n: 1 }];
    expect(applied({ list }, { $pull: { list: { id: { $in: ['a', 'c'] } } } })).toStrictEqual({ list: [{ id: 'b' }, 'a'] });
    expect(applied({ list }, { $pull: { list: { id: { $in: [] } } } })).toStrictEqual({ list });
    expect(applied({ list }, { $pull: { list: { id: { $in: ['b'] }, n: 1 } } })).toStrictEqual({ list });
  });

  it('refuses other operators in a condition (a programming error, not silently a no-op)', () => {
    expect(() => applied({ list: [] }, { $pull: { list: { id: { $nin: ['a'] } } } })).toThrow(/\$in/);
    expect(() => applied({ list: [] }, { $pull: { list: { id: { $in: 'a' } } } })).toThrow(/\$in/);
    expect(() => applied({ list: [] }, { $pull: { list: { $or: [] } } })).toThrow(/\$in/);
  });

  it('removes every element deep-equal to the value, keeping the others in order', () => {
    const element = fc.oneof(scalar, fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 6 }), element, (list, v) => {
        const out = applied({ list: [...list, v, v] }, { $pull: { list: v } });
        expect(out.list).toStrictEqual(list.filter((x) => !isDeepStrictEqual(x, v)));
      }),
      RUNS,
    );
  });

  it('is a no-op when the array is absent (it does not create one)', () => {
    fc.assert(
      fc.property(doc, scalar, (d, v) => {
        fc.pre(d.zz === undefined);
        expect(applied(d, { $pull: { zz: v } })).toStrictEqual(d);
      }),
      RUNS,
    );
  });
});

describe('applyUpdate: $inc', () => {
  it('adds to a number, starting from 0 when absent', () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: undefined }), fc.integer({ min: -10, max: 10 }), (start, by) => {
        const d: Doc = start === undefined ? { other: 1 } : { other: 1, n: start };
        expect(applied(d, { $inc: { n: by } })).toStrictEqual({ other: 1, n: (start ?? 0) + by });
        expect(applied({}, { $inc: { 'deep.n': by } })).toStrictEqual({ deep: { n: by } });
      }),
      RUNS,
    );
  });

  it('refuses a field that holds a non-number, null included (MongoDB: TypeMismatch)', () => {
    fc.assert(
      fc.property(fc.constantFrom<unknown>(null, 'x', true, [1], { k: 1 }, new Date(0)), (current) => {
        expect(() => applyUpdate({ n: current }, { $inc: { n: 1 } })).toThrow();
      }),
      RUNS,
    );
  });
});

describe('applyUpdate: no aliasing', () => {
  it('the record never shares an object with the update: mutating the update afterwards changes nothing', () => {
    const container = fc.oneof(fc.array(value, { maxLength: 3 }), fc.dictionary(key, value, { minKeys: 1, maxKeys: 3, noNullPrototype: true }));
    fc.assert(
      fc.property(doc, container, container, (d, setValue, pushValue) => {
        const update = { $set: { 's.t': setValue }, $push: { list: { $each: [pushValue] as unknown[] } } };
        const out = applied({ ...d, s: {}, list: [] }, update);
        const snapshot = structuredClone(out);
        const trash = (x: unknown) => {
          if (Array.isArray(x)) x.push('mutated');
          else if (x && typeof x === 'object') (x as Doc).mutated = true;
        };
        trash(setValue);
        trash(pushValue);
        update.$push.list.$each.push('mutated');
        expect(out).toStrictEqual(snapshot);
      }),
      RUNS,
    );
  });
});

describe('applyUpdate: what it does not support throws', () => {
  it('an operator outside $set/$unset/$push/$pull/$inc', () => {
    fc.assert(
      fc.property(fc.constantFrom('$rename', '$addToSet', '$min', '$max', '$mul', '$currentDate', '$pop', '$setOnInsert', 'status'), (op) => {
        expect(() => applyUpdate({ a: 1, list: [1] }, { [op]: { a: 2 } } as Update)).toThrow();
      }),
      RUNS,
    );
  });

  it('a $push modifier other than $each, a $pull condition, an $inc by a non-number', () => {
    for (const push of [{ $each: [1], $slice: -1 }, { $each: [1], $position: 0 }, { $each: [1], $sort: 1 }, { $slice: 1 }, { $each: 'x' }]) {
      expect(() => applyUpdate({ list: [] }, { $push: { list: push } }), JSON.stringify(push)).toThrow();
    }
    for (const pull of [{ $in: [1] }, { $gte: 2 }, { k: { $gt: 1 } }, { k: { a: 1 } }]) {
      expect(() => applyUpdate({ list: [1, 2] }, { $pull: { list: pull } }), JSON.stringify(pull)).toThrow();
    }
    for (const by of ['1', null, true]) expect(() => applyUpdate({ n: 1 }, { $inc: { n: by } } as never)).toThrow();
  });
});
