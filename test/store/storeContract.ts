import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.js';
import { newObjectId } from '../../src/platform/ids.js';
import type { HistoryEntry, PaymentRecord, PaymentStatus } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { paymentTotals } from '../../src/features/controller/paymentReports.js';
import { payment } from '../helpers/fixtures.js';

/**
 * One behavioural contract for every Store. Services are written against the interface, so any
 * difference between the in-process store and MongoDB is a bug that only shows in production.
 */

async function expectAppError(p: Promise<unknown>, kind: string, code: string): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the call to reject').toBeInstanceOf(AppError);
  expect(err).toMatchObject({ kind, code });
  return err as AppError;
}

const at = (iso: string) => new Date(iso);

const entry = (over: Partial<HistoryEntry> = {}): HistoryEntry => ({
  ...{ fromStatus: 'pending', toStatus: 'completed', fromEscrow: 'unfunded', toEscrow: 'funded' },
  ...{ source: 'test', actor: 'system', at: at('2025-01-01T00:00:00Z'), reason: null, ...over },
});

/** A payment whose optional keys are absent rather than null (older records, hand-written seeds). */
function without(p: PaymentRecord, ...keys: (keyof PaymentRecord)[]): PaymentRecord {
  for (const k of keys) delete (p as Partial<PaymentRecord>)[k];
  return p;
}

export function storeContract(name: string, makeStore: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name}: store contract`, () => {
    let store: Store;
    beforeEach(async () => void (store = await makeStore()));
    afterEach(async () => cleanup?.(store));

    const insert = async (over: Partial<PaymentRecord> = {}) => {
      const p = payment(over);
      await store.payments.insertOne(p);
      return p;
    };

    describe('records', () => {
      it('gives back what was inserted, with dates still Dates and nested objects intact', async () => {
        const p = payment({
          expiresAt: at('2030-01-02T03:04:05.678Z'),
          metadata: { note: 'hi', nested: { list: [1, 'two', { three: 3 }] } },
          providerData: { received: '12.5', quote: { rate: '1.01' } },
          history: [entry({ fromStatus: null, fromEscrow: null, reason: 'first' })],
        });
        const returned = await store.payments.insertOne(p);
        const found = await store.payments.findById(p.id);
        expect(returned).toEqual(p);
        expect(found).toEqual(p);
        expect(found!.expiresAt).toBeInstanceOf(Date);
        expect(found!.createdAt).toBeInstanceOf(Date);
        expect(found!.history[0]!.at).toBeInstanceOf(Date);
      });

      it('hands out copies: mutating the input or any returned record never changes the store', async () => {
        const p = payment({ metadata: { k: 'original' } });
        const expected = structuredClone(p);
        const returned = await store.payments.insertOne(p);
        p.metadata.k = 'input changed';
        p.amount.amount = '999';
        returned.metadata.k = 'returned changed';
        returned.buyerId = 'someone else';
        // A store may hand out read-only records (the memory store shares frozen ones): a write
        // refused with a TypeError isolates the store as well as a write to a private copy.
        const tryWrite = (write: () => void) => {
          try {
            write();
          } catch (err) {
            if (!(err instanceof TypeError)) throw err;
          }
        };
        const first = await store.payments.findById(expected.id);
        tryWrite(() => (first!.amount.currency = 'EUR'));
        tryWrite(() => (first!.expiresAt = new Date(0)));
        tryWrite(() => first!.createdAt.setTime(0));
        const listed = await store.payments.find({ id: expected.id });
        tryWrite(() => (listed[0]!.status = 'completed'));
        expect(await store.payments.findById(expected.id)).toEqual(expected);
      });

      it('answers null for an unknown or malformed id', async () => {
        await insert();
        expect(await store.payments.findById(newObjectId())).toBeNull();
        for (const bad of ['', 'not-an-id', 'zzzzzzzzzzzzzzzzzzzzzzzz', '123']) expect(await store.payments.findById(bad)).toBeNull();
      });

      it('refuses a second record with the same id', async () => {
        const p = await insert();
        const err = await expectAppError(store.payments.insertOne(payment({ id: p.id })), 'conflict', 'duplicate_key');
        expect((err.details as { keys: string[] }).keys).toContain('id');
        expect(await store.payments.count({})).toBe(1);
      });

      it('insertIfAbsent inserts once and then leaves the first record alone', async () => {
        const p = payment({ buyerId: 'first' });
        expect(await store.payments.insertIfAbsent(p)).toBe(true);
        expect(await store.payments.insertIfAbsent(payment({ id: p.id, buyerId: 'second' }))).toBe(false);
        expect((await store.payments.findById(p.id))!.buyerId).toBe('first');
        expect(await store.payments.count({})).toBe(1);
        // A clash on another unique key is a conflict, not "already there".
        await insert({ externalId: 'ext-taken' });
        await expectAppError(store.payments.insertIfAbsent(payment({ externalId: 'ext-taken' })), 'conflict', 'duplicate_key');
      });
    });

    describe('one normalisation for every store', () => {
      const refused = (p: Promise<unknown>) => expectAppError(p, 'internal', 'record_invalid');

      it('fills schema defaults for absent optional keys, so a record reads the same from every store', async () => {
        const p = without(payment(), 'transactionHash', 'externalId', 'metadata', 'creditKeys', 'claim', 'revision');
        await store.payments.insertOne(p);
        const found = await store.payments.findById(p.id);
        expect(found).toMatchObject({ transactionHash: null, externalId: null, metadata: {}, creditKeys: [], claim: null, revision: 0 });
      });

      it('refuses a path the schema does not know, on insert and in $set, and stores nothing', async () => {
        await refused(store.payments.insertOne({ ...payment(), sneaky: 'x' } as never));
        expect(await store.payments.count({})).toBe(0);
        const p = await insert();
        await refused(store.payments.updateOne({ id: p.id }, { $set: { sneaky: 'x' } }));
        await refused(store.payments.updateOne({ id: p.id }, { $set: { 'amount.extra': '1' } }));
        expect(await store.payments.findById(p.id)).toEqual(p);
        // Inside a Mixed field any key is the field's own business.
        expect(await store.payments.updateOne({ id: p.id }, { $set: { 'metadata.anything': 1 } })).toMatchObject({ metadata: { anything: 1 } });
      });

      it('refuses a value outside an enum, of the wrong type, or empty in a required field', async () => {
        await refused(store.payments.insertOne(payment({ status: 'paid' as never })));
        await refused(store.payments.insertOne(payment({ buyerId: '' })));
        await refused(store.payments.insertOne(payment({ buyerId: null as never })));
        await refused(store.payments.insertOne(payment({ amount: { amount: 5 as never, currency: 'USDT' } })));
        await refused(store.payments.insertOne(payment({ createdAt: 'yesterday' as never })));
        expect(await store.payments.count({})).toBe(0);
        const p = await insert();
        await refused(store.payments.updateOne({ id: p.id }, { $set: { status: 'paid' } }));
        await refused(store.payments.updateOne({ id: p.id }, { $set: { buyerId: '' } }));
        await refused(store.payments.updateOne({ id: p.id }, { $unset: { buyerId: '' } }));
        await refused(store.payments.updateOne({ id: p.id }, { $inc: { buyerId: 1 } }));
        await refused(store.payments.updateOne({ id: p.id }, { $push: { history: { toStatus: 'nope' } } }));
        expect(await store.payments.findById(p.id)).toEqual(p);
      });

      it('refuses text MongoDB would not keep as sent: a lone surrogate, a NUL or _bsontype key', async () => {
        await refused(store.payments.insertOne(payment({ buyerId: 'buyer-\ud800' })));
        await refused(store.payments.insertOne(payment({ metadata: { 'a\u0000b': 1 } })));
        await refused(store.payments.insertOne(payment({ metadata: { d: { _bsontype: 'Code', code: 'x' } } })));
        await refused(store.payments.insertOne(payment({ metadata: { list: ['ok', '\udc00'] } })));
        expect(await store.payments.count({})).toBe(0);
        const p = await insert();
        await refused(store.payments.updateOne({ id: p.id }, { $set: { 'metadata.note': '\ud83d' } }));
        expect(await store.payments.findById(p.id)).toEqual(p);
      });

      it('refuses a malformed id on insert', async () => {
        for (const id of ['', 'not-an-id', '123']) await refused(store.payments.insertOne(payment({ id })));
        expect(await store.payments.count({})).toBe(0);
      });

      it('drops undefined: an absent key on insert, no change in $set, null inside an array', async () => {
        const p = payment({ metadata: { kept: 1, gone: undefined, list: [1, undefined] } as never });
        await store.payments.insertOne(p);
        expect((await store.payments.findById(p.id))!.metadata).toEqual({ kept: 1, list: [1, null] });
        const updated = await store.payments.updateOne({ id: p.id }, { $set: { sellerId: undefined, status: 'processing' } });
        expect(updated).toMatchObject({ sellerId: p.sellerId, status: 'processing' });
      });

      it('gives a pushed history entry its defaults', async () => {
        const p = await insert();
        const { reason: _omitted, ...noReason } = entry();
        const updated = await store.payments.updateOne({ id: p.id }, { $push: { history: noReason } });
        expect(updated!.history.at(-1)).toEqual({ ...noReason, reason: null });
      });

      it('updateMany counts what matched, even when a value is already what it sets', async () => {
        await insert({ buyerId: 'same', status: 'failed' });
        await insert({ buyerId: 'same', status: 'pending' });
        expect(await store.payments.updateMany({ buyerId: 'same' }, { $set: { status: 'failed' } })).toBe(2);
      });
    });

    describe('unique keys', () => {
      it.each(['transactionHash', 'externalId'] as const)('a taken %s is refused on insert', async (field) => {
        await insert({ [field]: 'taken' });
        const err = await expectAppError(store.payments.insertOne(payment({ [field]: 'taken' })), 'conflict', 'duplicate_key');
        expect((err.details as { keys: string[] }).keys).toContain(field);
        expect(await store.payments.count({})).toBe(1);
      });

      it.each(['transactionHash', 'externalId'] as const)('a taken %s is refused on update', async (field) => {
        await insert({ [field]: 'taken' });
        const other = await insert();
        await expectAppError(store.payments.updateOne({ id: other.id }, { $set: { [field]: 'taken' } }), 'conflict', 'duplicate_key');
        expect(await store.payments.findById(other.id)).toEqual(other);
      });

      it('null and absent keys never collide with each other', async () => {
        await insert({ transactionHash: null, externalId: null });
        await insert({ transactionHash: null, externalId: null });
        for (let i = 0; i < 2; i++) await store.payments.insertOne(without(payment(), 'transactionHash', 'externalId'));
        const last = await insert({ transactionHash: 'h1', externalId: 'e1' });
        expect(await store.payments.updateOne({ id: last.id }, { $set: { transactionHash: null, externalId: null } })).not.toBeNull();
        expect(await store.payments.count({})).toBe(5);
      });
    });

    describe('queries', () => {
      let rows: PaymentRecord[];
      beforeEach(async () => {
        const t = (m: number) => new Date(Date.UTC(2025, 0, 1, 0, m));
        rows = [];
        const specs: Partial<PaymentRecord>[] = [
          { buyerId: 'b1', status: 'pending', amount: { amount: '1', currency: 'USDT' }, createdAt: t(1) },
          { buyerId: 'b1', status: 'completed', amount: { amount: '2', currency: 'USDC' }, createdAt: t(2), metadata: { flag: true } },
          { buyerId: 'b2', status: 'pending', amount: { amount: '3', currency: 'USDT' }, createdAt: t(2) },
          { buyerId: 'b2', status: 'cancelled', amount: { amount: '4', currency: 'EUR' }, createdAt: t(2), externalId: 'ext-4' },
          { buyerId: 'b3', status: 'failed', amount: { amount: '5', currency: 'USDT' }, createdAt: t(3), metadata: { flag: false } },
        ];
        for (const s of specs) rows.push(await insert(s));
        rows.push(without(payment({ buyerId: 'b4', createdAt: t(0) }), 'externalId'));
        await store.payments.insertOne(rows[5]!);
      });
      const ids = (list: PaymentRecord[]) => list.map((p) => p.id).sort();

      it('matches $in, $or and nested fields like a MongoDB query', async () => {
        expect(ids(await store.payments.find({ status: { $in: ['cancelled', 'failed'] } }))).toEqual(ids([rows[3]!, rows[4]!]));
        expect(ids(await store.payments.find({ $or: [{ buyerId: 'b1' }, { status: 'failed' }] }))).toEqual(ids([rows[0]!, rows[1]!, rows[4]!]));
        expect(ids(await store.payments.find({ 'amount.currency': 'USDT', buyerId: { $ne: 'b4' } }))).toEqual(ids([rows[0]!, rows[2]!, rows[4]!]));
        expect(ids(await store.payments.find({ id: { $in: [rows[1]!.id, rows[5]!.id, newObjectId()] } }))).toEqual(ids([rows[1]!, rows[5]!]));
      });

      it('$exists sees only present fields, and null matches a missing field', async () => {
        expect(ids(await store.payments.find({ 'metadata.flag': { $exists: true } }))).toEqual(ids([rows[1]!, rows[4]!]));
        expect(ids(await store.payments.find({ externalId: null }))).toEqual(ids(rows.filter((_, i) => i !== 3)));
        expect(await store.payments.count({ externalId: { $ne: null } })).toBe(1);
        expect(await store.payments.count({ externalId: { $in: [null, 'ext-4'] } })).toBe(6);
      });

      it('compares dates as dates', async () => {
        const range = { $gte: new Date(Date.UTC(2025, 0, 1, 0, 2)), $lt: new Date(Date.UTC(2025, 0, 1, 0, 3)) };
        expect(ids(await store.payments.find({ createdAt: range }))).toEqual(ids([rows[1]!, rows[2]!, rows[3]!]));
      });

      it('sorts on several keys with the id as tie-break, and pages with skip/limit', async () => {
        const expected = [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1));
        const sorted = await store.payments.find({}, { sort: { createdAt: -1, id: 1 } });
        expect(sorted.map((p) => p.id)).toEqual(expected.map((p) => p.id));
        const page = (skip: number) => store.payments.find({}, { sort: { createdAt: -1, id: 1 }, skip, limit: 4 });
        expect([...(await page(0)), ...(await page(4))].map((p) => p.id)).toEqual(expected.map((p) => p.id));
        const byBuyer = await store.payments.find({ buyerId: { $in: ['b1', 'b2'] } }, { sort: { buyerId: -1, 'amount.amount': 1 } });
        expect(byBuyer.map((p) => p.amount.amount)).toEqual(['3', '4', '1', '2']);
      });

      it('counts and finds one by filter', async () => {
        expect(await store.payments.count({})).toBe(6);
        expect(await store.payments.count({ status: 'pending' })).toBe(3);
        expect(await store.payments.count({ buyerId: 'nobody' })).toBe(0);
        expect((await store.payments.findOne({ externalId: 'ext-4' }))?.id).toBe(rows[3]!.id);
        expect(await store.payments.findOne({ externalId: 'nope' })).toBeNull();
      });

      it('stream yields the same records in the same order as find', async () => {
        const opts = { sort: { createdAt: 1, id: -1 } as const, skip: 1, limit: 4 };
        const streamed: PaymentRecord[] = [];
        for await (const p of store.payments.stream({ buyerId: { $ne: 'b3' } }, opts)) streamed.push(p);
        const found = await store.payments.find({ buyerId: { $ne: 'b3' } }, opts);
        expect(found).toHaveLength(4);
        expect(streamed).toEqual(found);
      });
    });

    describe('updates', () => {
      it('a conditional update returns the record as written', async () => {
        const p = await insert();
        const updated = await store.payments.updateOne({ id: p.id, status: 'pending' }, { $set: { status: 'processing' } });
        expect(updated).toMatchObject({ id: p.id, status: 'processing', buyerId: p.buyerId });
        expect(await store.payments.findById(p.id)).toEqual(updated);
      });

      it('a conditional update that does not match returns null and changes nothing', async () => {
        const p = await insert({ updatedAt: at('2020-01-01T00:00:00Z') });
        expect(await store.payments.updateOne({ id: p.id, status: 'completed' }, { $set: { status: 'failed' } })).toBeNull();
        expect(await store.payments.updateOne({ id: newObjectId() }, { $set: { status: 'failed' } })).toBeNull();
        expect(await store.payments.findById(p.id)).toEqual(p);
      });

      it('applies $set on a nested path, $push and $inc, and leaves siblings alone', async () => {
        const p = await insert({ metadata: { keep: 'yes', count: 1 } });
        const pushed = entry({ toStatus: 'processing', toEscrow: 'unfunded', reason: 'why' });
        const update = { $set: { 'metadata.k': 'v' }, $push: { history: pushed }, $inc: { 'metadata.count': 2 } };
        const updated = await store.payments.updateOne({ id: p.id }, update);
        expect(updated!.metadata).toEqual({ keep: 'yes', count: 3, k: 'v' });
        expect(updated!.history).toEqual([pushed]);
        expect(updated!.history[0]!.at).toBeInstanceOf(Date);
        expect(await store.payments.findById(p.id)).toEqual(updated);
      });

      it('bumps updatedAt on every update and keeps createdAt', async () => {
        const old = at('2020-01-01T00:00:00Z');
        const p = await insert({ createdAt: old, updatedAt: old });
        const updated = await store.payments.updateOne({ id: p.id }, { $set: { 'metadata.touched': true } });
        expect(updated!.updatedAt.getTime()).toBeGreaterThan(old.getTime());
        expect(updated!.createdAt.getTime()).toBe(old.getTime());
        await store.payments.updateMany({ id: p.id }, { $set: { 'metadata.touched': false } });
        expect((await store.payments.findById(p.id))!.updatedAt.getTime()).toBeGreaterThan(old.getTime());
      });

      it('when 20 writers race the same conditional transition, exactly one wins', async () => {
        const p = await insert();
        const race = (i: number) => ({ $set: { status: 'completed', 'metadata.winner': i }, $push: { history: entry({ actor: `w${i}` }) } });
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.payments.updateOne({ id: p.id, status: 'pending' }, race(i))));
        expect(results.filter((r) => r !== null)).toHaveLength(1);
        const final = await store.payments.findById(p.id);
        expect(final!.status).toBe('completed');
        expect(final!.history).toHaveLength(1);
        expect(final!.history[0]!.actor).toBe(`w${final!.metadata.winner as number}`);
      });

      it('updateMany returns how many records it changed', async () => {
        const a = await insert({ buyerId: 'bulk' });
        const b = await insert({ buyerId: 'bulk' });
        const other = await insert({ buyerId: 'other' });
        expect(await store.payments.updateMany({ buyerId: 'bulk' }, { $set: { 'metadata.batch': 'x' } })).toBe(2);
        expect((await store.payments.find({ 'metadata.batch': 'x' })).map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
        expect(await store.payments.findById(other.id)).toEqual(other);
        expect(await store.payments.updateMany({ buyerId: 'nobody' }, { $set: { 'metadata.batch': 'y' } })).toBe(0);
      });

      it('updateMany that would break a unique key is refused', async () => {
        const a = await insert({ buyerId: 'bulk' });
        const b = await insert({ buyerId: 'bulk' });
        await expectAppError(store.payments.updateMany({ buyerId: 'bulk' }, { $set: { transactionHash: 'same' } }), 'conflict', 'duplicate_key');
        if (store.kind === 'memory') {
          // The in-process store promises all-or-nothing; MongoDB's updateMany does not.
          expect(await store.payments.findById(a.id)).toEqual(a);
          expect(await store.payments.findById(b.id)).toEqual(b);
        }
        const owner = await insert({ transactionHash: 'owned' });
        await expectAppError(store.payments.updateMany({ id: a.id }, { $set: { transactionHash: 'owned' } }), 'conflict', 'duplicate_key');
        expect((await store.payments.findOne({ transactionHash: 'owned' }))!.id).toBe(owner.id);
      });

      it('deleteMany removes only matching records and says how many', async () => {
        await insert({ buyerId: 'gone' });
        await insert({ buyerId: 'gone' });
        const kept = await insert({ buyerId: 'kept' });
        expect(await store.payments.deleteMany({ buyerId: 'gone' })).toBe(2);
        expect(await store.payments.deleteMany({ buyerId: 'gone' })).toBe(0);
        expect(await store.payments.find({})).toEqual([kept]);
      });
    });

    describe('totals', () => {
      const cases: [PaymentStatus, string, string[], string][] = [
        ['pending', 'USDT', ['0.1', '0.2'], '0.3'],
        ['completed', 'USDT', ['1.5', '2.50'], '4'],
        ['pending', 'BNB', ['0.000000000000000001', '1.000000000000000002'], '1.000000000000000003'],
        ['completed', 'BNB', ['999999999999999.999999999999999999', '0.000000000000000001'], '1000000000000000'],
        // A lone record still comes back in the normalised form.
        ['failed', 'EUR', ['2.50'], '2.5'],
        // Beyond Decimal128's 34 significant digits: summed in application code, exact in every store.
        ['released', 'USDT', ['123456789012345678901234567890', '1'], '123456789012345678901234567891'],
        ['refunded', 'USDT', ['12345678901234567890.300000000000000001', '0.000000000000000001'], '12345678901234567890.300000000000000002'],
      ];

      it('sums exactly per status and currency', async () => {
        for (const [status, currency, amounts] of cases) {
          for (const amount of amounts) await insert({ status, amount: { amount, currency } });
        }
        const expected = cases
          .map(([status, currency, amounts, total]) => ({ status, currency, count: amounts.length, total }))
          .sort((x, y) => x.status.localeCompare(y.status) || x.currency.localeCompare(y.currency));
        expect(await paymentTotals(store, {})).toEqual(expected);
      });

      it('totals only what the filter selects', async () => {
        await insert({ buyerId: 'me', amount: { amount: '0.1', currency: 'USDT' } });
        await insert({ buyerId: 'me', amount: { amount: '0.2', currency: 'USDT' } });
        await insert({ buyerId: 'you', amount: { amount: '7', currency: 'USDT' } });
        expect(await paymentTotals(store, { buyerId: 'me' })).toEqual([{ status: 'pending', currency: 'USDT', count: 2, total: '0.3' }]);
        expect(await paymentTotals(store, { buyerId: 'nobody' })).toEqual([]);
      });

      it('ping resolves', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
