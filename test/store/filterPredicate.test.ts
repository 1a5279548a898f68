import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matcher, predicate } from '../../src/adapters/store/mingoQuery.js';
import type { Filter } from '../../src/core/store/store.js';

/**
 * `predicate(filter)` answers as mingo does (`matcher(filter).test`) for every record and filter:
 * its plain-equality fast path must agree with mingo on values of every type, missing fields,
 * nested objects, arrays anywhere on a path (where MongoDB's equality steps through them or
 * matches an element) and dates, and every other filter is mingo's by construction. Seeded;
 * FC_SEED reproduces another run.
 */

const SEED = Number(process.env.FC_SEED ?? 20261130);
const RUNS = { seed: SEED, numRuns: 2_000 };

const WORDS = ['a', 'b', ''];
const scalar = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.integer({ min: -1, max: 2 }),
  fc.constant(0.5),
  fc.boolean(),
  fc.constant(null),
  fc.constant(new Date(0)),
  fc.constant(-0),
);
// Values as records hold them: scalars, arrays (of scalars or of sub-documents, nested once), objects.
const value = fc.letrec<{ v: unknown; obj: Record<string, unknown> }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(fc.oneof(scalar, tie('obj'), fc.array(scalar, { maxLength: 2 })), { maxLength: 3 }) },
    { weight: 2, arbitrary: tie('obj') },
  ),
  obj: fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('v'), { maxKeys: 3, noNullPrototype: true }),
}));
const doc = fc.dictionary(fc.constantFrom('id', 'a', 'b', 'c'), value.v, { maxKeys: 4, noNullPrototype: true });

const path = fc.array(fc.constantFrom('a', 'b', 'c', '0', '1'), { minLength: 1, maxLength: 3 }).map((p) => p.join('.'));
const plain = fc.oneof(fc.constantFrom(...WORDS), fc.integer({ min: -1, max: 2 }), fc.constant(0.5), fc.boolean(), fc.constant(-0));
/** Plain equalities (the fast path) and, now and then, something else (mingo's path). */
const filter: fc.Arbitrary<Filter> = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.oneof(path, fc.constant('id')), plain, { maxKeys: 3, noNullPrototype: true }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(path, fc.oneof(plain, fc.constant(null), fc.record({ $in: fc.array(plain, { maxLength: 2 }) })), {
      maxKeys: 2,
      noNullPrototype: true,
    }),
  },
) as fc.Arbitrary<Filter>;

describe('predicate', () => {
  it('answers as mingo for every record and filter', () => {
    fc.assert(
      fc.property(doc, filter, (d, f) => {
        expect(predicate(f)(d)).toBe(matcher(f).test(d));
      }),
      RUNS,
    );
  });

  it('matches through arrays and elements as MongoDB does, and refuses other types', () => {
    const cases: [Record<string, unknown>, Filter, boolean][] = [
      [{ a: 'x' }, { a: 'x' }, true],
      [{ a: ['y', 'x'] }, { a: 'x' }, true],
      [{ a: [{ b: 'x' }, { b: 'y' }] }, { 'a.b': 'y' }, true],
      [{ a: [{ b: 'x' }] }, { 'a.0.b': 'x' }, true],
      [{ a: { b: 1 } }, { 'a.b': 1 }, true],
      [{ a: { b: 1 } }, { 'a.b': '1' }, false],
      [{ a: new Date(5) }, { a: 5 }, false],
      [{}, { a: 'x' }, false],
      [{ a: null }, { a: false }, false],
      [{ id: 'p1', s: 'held', n: 2 }, { id: 'p1', s: 'held', n: 2 }, true],
      [{ id: 'p1', s: 'held', n: 2 }, { id: 'p1', s: 'held', n: 3 }, false],
      [{ a: 'x' }, {}, true],
    ];
    for (const [d, f, expected] of cases) {
      expect(predicate(f)(d), JSON.stringify([d, f])).toBe(expected);
      expect(matcher(f).test(d), JSON.stringify([d, f])).toBe(expected);
    }
  });
});
