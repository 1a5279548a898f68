import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { matcher } from '../../src/adapters/store/mingoQuery.js';
import { MongoStore } from '../../src/adapters/store/mongoStore.js';
import type { Collection, Filter, FindOptions, SortSpec, Store, Update } from '../../src/core/store/store.js';
import { createStandInConnection } from '../helpers/driverStandIn/index.js';
import { payment } from '../helpers/fixtures.js';
import { operations, type Op } from './storeOperations.js';

/**
 * The in-process store and the production store are one contract: the same random sequence of
 * inserts, conditional updates, deletes and queries (test/store/storeOperations.ts) is applied
 * to a fresh MemoryStore and a fresh MongoStore over the driver stand-in, and every answer must
 * agree: records (as plain data), counts, nulls, and refusals (AppError kind and code). After
 * every write the two stores' whole contents must agree too, and those contents are the
 * brute-force oracle: each filter is evaluated with the memory store's own query engine over
 * every record, with no index, so an index narrowing that drops a match fails here even when
 * both stores agree.
 *
 * Where MongoDB leaves an answer open, only what it promises is compared: the record `findOne`
 * (and `updateOne` without an id) picks among several matches, and the order without a sort.
 * A sort always ends in `id`, so pages and their order are deterministic.
 *
 * Reproduce a failure with FC_SEED=<seed> (and FC_PATH from the report); FC_RUNS widens a run.
 */

const SEED = Number(process.env.FC_SEED ?? 20250101);
const RUNS = Number(process.env.FC_RUNS ?? 60);
/** Filters may name records by malformed ids, and find options may hold `limit: 0` (see the regressions below); 0 turns either off. */
const MALFORMED_FILTER_IDS = process.env.FC_MALFORMED_FILTER_IDS !== '0';
const LIMIT_ZERO = process.env.FC_LIMIT_ZERO !== '0';
const T0 = Date.UTC(2025, 0, 2);

type Outcome = { ok: unknown } | { error: { kind: string; code: string } | { notAppError: string } };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await run() };
  } catch (err) {
    if (err instanceof AppError) return { error: { kind: err.kind, code: err.code } };
    return { error: { notAppError: `${(err as Error)?.name}: ${(err as Error)?.message}` } };
  }
}

/** A sort made total with `id`, when MongoDB's answer would otherwise depend on storage order. */
function deterministic(options: FindOptions): { options: FindOptions; ordered: boolean } {
  if (options.sort) return { options: { ...options, sort: 'id' in options.sort ? options.sort : { ...options.sort, id: 1 } }, ordered: true };
  if (options.skip || options.limit !== undefined) return { options: { ...options, sort: { id: 1 } }, ordered: true };
  return { options, ordered: false };
}

/** Whether `update` sets, pushes or increments a path that runs through a field holding null in `record`. */
function writesInsideNull(record: object, update: Update): boolean {
  const paths = [update.$set, update.$push, update.$inc].flatMap((f) => Object.keys(f ?? {}));
  return paths.some((path) => {
    let cur: unknown = record;
    for (const part of path.split('.').slice(0, -1)) {
      if (cur === null) return true;
      if (typeof cur !== 'object') return false;
      cur = (cur as Record<string, unknown>)[part];
    }
    return cur === null;
  });
}

const byId = (rows: { id: string }[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** The brute-force answer: every record, the filter evaluated without an index; `limit: 0` is no limit, as in MongoDB. */
function brute(all: { id: string }[], filter: Filter, options: FindOptions = {}): { id: string }[] {
  let c = matcher(filter).find<{ id: string }>(all);
  if (options.sort) c = c.sort(options.sort as SortSpec);
  if (options.skip) c = c.skip(options.skip);
  if (options.limit) c = c.limit(options.limit);
  return c.all();
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

interface Coverage {
  ops: number;
  duplicateKey: number;
  recordInvalid: number;
  nonEmptyReads: number;
  writesThatMatched: number;
  insideNull: number;
}

interface Pair {
  memory: MemoryStore;
  mongo: MongoStore;
  /** Every record of each collection, as both stores hold it (the oracle's input). */
  all: Record<Op['coll'], { id: string }[]>;
  setNow(step: number): void;
}

async function openPair(): Promise<Pair> {
  let now = T0;
  const clock = { now: () => new Date(now) };
  const memory = new MemoryStore(clock);
  const mongo = await MongoStore.open(await createStandInConnection(), { clock, description: 'differential: driver stand-in' });
  return { memory, mongo, all: { payments: [], sellerOffers: [] }, setNow: (step) => void (now = T0 + step * 1000) };
}

const coll = (s: Store, name: Op['coll']) => s[name] as unknown as Collection<{ id: string }>;

/** Runs one operation on both stores and checks their answers against each other and the oracle. */
async function step(pair: Pair, op: Op, coverage: Coverage): Promise<void> {
  const m = coll(pair.memory, op.coll);
  const g = coll(pair.mongo, op.coll);
  const all = pair.all[op.coll];
  const both = async (run: (c: Collection<{ id: string }>) => Promise<unknown>) => [await outcome(() => run(m)), await outcome(() => run(g))] as const;
  coverage.ops++;

  let mem: Outcome;
  let mon: Outcome;
  switch (op.op) {
    case 'insert':
      [mem, mon] = await both((c) => c.insertOne(structuredClone(op.doc) as { id: string }));
      expect(mon, 'insertOne').toStrictEqual(mem);
      break;
    case 'updateOne': {
      const matches = brute(all, op.filter);
      [mem, mon] = await both((c) => c.updateOne(op.filter, op.update));
      if (matches.some((r) => writesInsideNull(r, op.update))) {
        // Known disagreement 2 (pinned below): both refuse and write nothing, with different errors.
        expect('error' in mem && 'error' in mon, 'a write inside null is refused by both').toBe(true);
        coverage.insideNull++;
      } else if (matches.length <= 1) expect(mon, 'updateOne').toStrictEqual(mem);
      else expect('error' in mon ? mon : { ok: 'a record' }, 'updateOne of several matches').toStrictEqual('error' in mem ? mem : { ok: 'a record' });
      if ('ok' in mem && !('error' in mon)) expect(mem.ok === null, 'updateOne matched nothing exactly when the oracle says so').toBe(matches.length === 0);
      if ('ok' in mem && mem.ok !== null) coverage.writesThatMatched++;
      break;
    }
    case 'updateMany':
    case 'deleteMany': {
      const matches = brute(all, op.filter);
      const expected = matches.length;
      [mem, mon] = await both((c) => (op.op === 'updateMany' ? c.updateMany(op.filter, op.update) : c.deleteMany(op.filter)));
      if (op.op === 'updateMany' && matches.some((r) => writesInsideNull(r, op.update))) {
        expect('error' in mem && 'error' in mon, 'a write inside null is refused by both').toBe(true);
        coverage.insideNull++;
      } else expect(mon, op.op).toStrictEqual(mem);
      if ('ok' in mem) expect(mem.ok, `${op.op}: count against the oracle`).toBe(expected);
      if ('ok' in mem && (mem.ok as number) > 0) coverage.writesThatMatched++;
      break;
    }
    case 'find':
    case 'stream': {
      const { options, ordered } = deterministic(op.options);
      const run = (c: Collection<{ id: string }>) => (op.op === 'find' ? c.find(op.filter, options) : drain(c.stream(op.filter, options)));
      [mem, mon] = await both(async (c) => (ordered ? run(c) : byId(await run(c))));
      expect(mon, op.op).toStrictEqual(mem);
      if ('ok' in mem) {
        const expected = brute(all, op.filter, options);
        expect(mem.ok, `${op.op}: memory store against the oracle`).toStrictEqual(ordered ? expected : byId(expected));
        if ((mem.ok as unknown[]).length > 0) coverage.nonEmptyReads++;
      }
      break;
    }
    case 'findOne': {
      const matches = brute(all, op.filter);
      [mem, mon] = await both((c) => c.findOne(op.filter));
      if ('error' in mem || 'error' in mon || matches.length <= 1) expect(mon, 'findOne').toStrictEqual(mem);
      for (const o of [mem, mon]) {
        if (!('ok' in o)) continue;
        if (matches.length === 0) expect(o.ok, 'findOne: no match').toBeNull();
        else expect(matches, 'findOne: one of the matches').toContainEqual(o.ok);
      }
      if ('ok' in mem && mem.ok) coverage.nonEmptyReads++;
      break;
    }
    case 'count':
      [mem, mon] = await both((c) => c.count(op.filter));
      expect(mon, 'count').toStrictEqual(mem);
      if ('ok' in mem) expect(mem.ok, 'count against the oracle').toBe(brute(all, op.filter).length);
      break;
    case 'findById':
      [mem, mon] = await both((c) => c.findById(op.id));
      expect(mon, 'findById').toStrictEqual(mem);
      if ('ok' in mem) expect(mem.ok).toStrictEqual(all.find((r) => r.id === op.id) ?? null);
      break;
  }

  for (const o of [mem, mon]) {
    if ('error' in o && 'code' in o.error && o.error.code === 'duplicate_key') coverage.duplicateKey++;
    if ('error' in o && 'code' in o.error && o.error.code === 'record_invalid') coverage.recordInvalid++;
  }

  if (['insert', 'updateOne', 'updateMany', 'deleteMany'].includes(op.op)) {
    // Both stores hold the same records after every write, refused or not: that is the oracle's input.
    const memoryAll = await m.find({}, { sort: { id: 1 } });
    expect(await g.find({}, { sort: { id: 1 } }), `contents after ${op.op}`).toStrictEqual(memoryAll);
    pair.all[op.coll] = memoryAll;
  }
}

describe('MemoryStore and MongoStore (over the driver stand-in) answer every operation alike', () => {
  it(`agree on ${RUNS} random sequences of up to 30 operations (seed ${SEED})`, async () => {
    const coverage: Coverage = { ops: 0, duplicateKey: 0, recordInvalid: 0, nonEmptyReads: 0, writesThatMatched: 0, insideNull: 0 };
    await fc.assert(
      fc.asyncProperty(operations({ malformedIdsInFilters: MALFORMED_FILTER_IDS, limitZero: LIMIT_ZERO, maxLength: 30 }), async (ops) => {
        const pair = await openPair();
        try {
          for (const [i, op] of ops.entries()) {
            pair.setNow(i);
            await step(pair, op, coverage);
          }
        } finally {
          await pair.mongo.close();
        }
      }),
      { seed: SEED, numRuns: RUNS, path: process.env.FC_PATH, endOnFailure: !!process.env.FC_NO_SHRINK },
    );
    if (process.env.FC_COVERAGE) process.stderr.write(`coverage ${JSON.stringify(coverage)}\n`);
    // The pools are small on purpose: keys collide, filters match, writes hit records.
    expect(coverage.duplicateKey).toBeGreaterThan(5);
    expect(coverage.recordInvalid).toBeGreaterThan(5);
    expect(coverage.nonEmptyReads).toBeGreaterThan(coverage.ops / 40);
    expect(coverage.writesThatMatched).toBeGreaterThan(coverage.ops / 40);
  }, 120_000);
});

/**
 * Disagreements the property found, each its shrunk counterexample with the answer MongoDB's
 * semantics call for. All three are fixed (src/store/mongoDocuments.ts, memoryStore.ts,
 * mongoStore.ts) and the property now generates these cases too; these stay as regressions.
 */
describe('disagreements the property found (fixed; regressions)', () => {
  const opened: MongoStore[] = [];
  const pair = async () => {
    const p = await openPair();
    opened.push(p.mongo);
    return p;
  };
  afterEach(async () => void (await Promise.all(opened.splice(0).map((s) => s.close()))));

  // 1. A filter naming a record by a malformed id. MongoDB matches nothing ({ _id: 'x' } compares a
  //    string with ObjectIds); the memory store answers that. MongoStore hands the string to
  //    Mongoose, whose cast to ObjectId throws: AppError internal/record_invalid, a 500. Excluded
  //    from the property unless FC_MALFORMED_FILTER_IDS=1.
  it('a filter on a malformed id matches nothing in both stores', async () => {
    const { memory, mongo } = await pair();
    for (const s of [memory, mongo]) {
      expect(await s.payments.find({ id: 'not-an-object-id' })).toEqual([]);
      expect(await s.payments.updateMany({ id: 'not-an-object-id', status: 'pending' }, { $unset: { 'metadata.k': '' } })).toBe(0);
    }
  });

  // 2. A $set inside a field holding null: MongoDB refuses it (PathNotViable, code 28). The memory
  //    store used to create the object (fixed in src/store/updateApplier.ts) and now throws a
  //    plain Error (a 500 `internal`); MongoStore translates the server error to AppError
  //    unavailable/store_unavailable (a 503 that invites a retry that cannot succeed). The
  //    property only checks that both refuse and write nothing.
  it('a $set inside null is refused by both stores with the same AppError', async () => {
    const { memory, mongo } = await pair();
    const answers: Outcome[] = [];
    for (const s of [memory, mongo]) {
      const p = payment({ blockchain: null });
      await s.payments.insertOne(p);
      answers.push(await outcome(() => s.payments.updateOne({ id: p.id }, { $set: { 'blockchain.network': 'bsc' } })));
    }
    expect(answers[1]).toStrictEqual(answers[0]);
  });

  // 3. `limit: 0`. MongoDB reads it as "no limit" (cursor.limit(0)); so do MongoStore.find and
  //    the stand-in. The memory store hands it to mingo, which returns nothing, and
  //    MongoStore.stream (remaining = 0) yields nothing either. No service sends 0 today (page
  //    sizes are validated 1–200). Excluded from the property unless FC_LIMIT_ZERO=1.
  it('limit 0 means no limit in find and stream of both stores', async () => {
    const { memory, mongo } = await pair();
    for (const s of [memory, mongo]) {
      await s.payments.insertOne(payment());
      expect(await s.payments.find({}, { limit: 0 })).toHaveLength(1);
      expect(await drain(s.payments.stream({}, { limit: 0 }))).toHaveLength(1);
    }
  });
});
