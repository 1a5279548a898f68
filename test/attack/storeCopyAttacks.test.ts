import { describe, expect, it } from 'vitest';
import { MemoryStore, type MemoryCollection } from '../../src/adapters/store/memoryStore.js';
import { matcher } from '../../src/adapters/store/mingoQuery.js';
import { systemClock } from '../../src/platform/clock.js';
import { newObjectId } from '../../src/platform/ids.js';
import type { PaymentRecord, WebhookDeliveryRecord } from '../../src/core/store/records.js';
import type { Filter } from '../../src/core/store/store.js';
import { payment } from '../helpers/fixtures.js';

/**
 * A caller of the in-process store's API trying to change a stored record by what it holds: what
 * a write returned, what a read returned, and what it handed in. Invariants: nothing a caller
 * holds can change a stored record; unique keys stay unique; a query through an index returns
 * exactly what a full scan of the collection returns.
 */

const fresh = () => new MemoryStore(systemClock);

/** Runs `f`, swallowing the TypeError a frozen target answers: the point is what is stored afterwards. */
function attempt(f: () => unknown): void {
  try {
    f();
  } catch {
    // refused: fine
  }
}

const DATE_SETTERS = Object.getOwnPropertyNames(Date.prototype).filter((n) => n.startsWith('set'));

function delivery(over: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord {
  const now = new Date();
  return {
    id: newObjectId(),
    provider: 'shkeeper',
    kind: 'invoice',
    receivedAt: now,
    verification: 'hmac_timestamp',
    verificationError: null,
    externalId: 'AMN_1',
    status: 'PAID',
    txids: ['0x1'],
    outcome: 'received',
    dedupeKey: null,
    replayKey: null,
    paymentId: null,
    detail: null,
    expiresAt: new Date(now.getTime() + 3600_000),
    body: '{}',
    job: { state: 'queued', key: 'invoice:AMN_1', attempts: 0, runAt: now, leaseOwner: null, leaseUntil: null, lastError: null, finishedAt: null },
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

async function seededPayment(store: MemoryStore, over: Partial<PaymentRecord> = {}) {
  const record = payment({
    metadata: { note: 'original', nested: { deep: ['a', { x: 1 }] } },
    expiresAt: new Date('2030-01-01T00:00:00Z'),
    attention: [{ reason: 'r1', at: new Date('2029-01-01T00:00:00Z') }] as unknown as PaymentRecord['attention'],
    ...over,
  });
  await store.payments.insertOne(record);
  const stored = JSON.stringify(await store.payments.findById(record.id));
  return { id: record.id, record, stored };
}

describe('what a read returns cannot change the stored record', () => {
  it('assignment, delete, defineProperty, array mutators and Reflect on every read path change nothing', async () => {
    const store = fresh();
    const { id, stored } = await seededPayment(store);
    const reads: PaymentRecord[] = [
      (await store.payments.findById(id))!,
      (await store.payments.findOne({ id }))!,
      (await store.payments.find({ id }))[0]!,
      (await store.payments.find({ buyerId: 'buyer-1' }, { sort: { createdAt: -1 }, limit: 5 }))[0]!,
    ];
    for await (const r of store.payments.stream({ status: 'pending' })) reads.push(r);
    for (const r of reads) {
      const any = r as unknown as Record<string, any>;
      attempt(() => (any.status = 'completed'));
      attempt(() => delete any.buyerId);
      attempt(() => Object.defineProperty(any, 'sellerId', { value: 'evil' }));
      attempt(() => Reflect.set(any.amount, 'amount', '0'));
      attempt(() => (any.metadata.nested.deep[1].x = 2));
      attempt(() => any.metadata.nested.deep.push('b'));
      attempt(() => any.metadata.nested.deep.splice(0));
      attempt(() => any.metadata.nested.deep.reverse());
      attempt(() => any.metadata.nested.deep.fill('z'));
      attempt(() => (any.metadata.nested.deep.length = 0));
      attempt(() => any.history.push({}));
      attempt(() => any.attention.sort());
      attempt(() => Object.setPrototypeOf(any.metadata, { note: 'evil' }));
      attempt(() => Object.assign(any.metadata, { note: 'changed' }));
    }
    expect(JSON.stringify(await store.payments.findById(id))).toBe(stored);
    expect(Object.getPrototypeOf((await store.payments.findById(id))!.metadata)).toBe(Object.prototype);
  });

  it('stored dates refuse every setter called as a method', async () => {
    const store = fresh();
    const { id } = await seededPayment(store);
    const read = (await store.payments.findById(id))!;
    const dates = [read.createdAt, read.expiresAt!, (read.attention![0] as unknown as { at: Date }).at];
    for (const d of dates) for (const name of DATE_SETTERS) attempt(() => (d as unknown as Record<string, (v: number) => void>)[name]!(0));
    const again = (await store.payments.findById(id))!;
    expect(again.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect((again.attention![0] as unknown as { at: Date }).at.toISOString()).toBe('2029-01-01T00:00:00.000Z');
    expect(again.createdAt.getTime()).toBeGreaterThan(0);
  });

  // KNOWN LIMIT (kept as an expected failure; README, "Stores"): the read-only date is a Date
  // whose prototype's setters throw, but its time lives in the Date's internal slot, which
  // Object.freeze does not guard: Date.prototype.setTime called on it directly (code that sets
  // out to bypass the guard, not a mistake) rewrites the stored date. Only a copy per read would
  // close it, which is the cost the shared frozen record removed from every read.
  it.fails('stored dates cannot be changed by Date.prototype setters called on them directly', async () => {
    const store = fresh();
    const { id } = await seededPayment(store);
    const read = (await store.payments.findById(id))!;
    const createdAt = read.createdAt.getTime();
    attempt(() => Date.prototype.setTime.call(read.createdAt, 0));
    attempt(() => Date.prototype.setUTCFullYear.call(read.expiresAt!, 1999));
    attempt(() => Date.prototype.setUTCFullYear.call((read.attention![0] as unknown as { at: Date }).at, 1990));
    const again = (await store.payments.findById(id))!;
    expect(again.createdAt.getTime()).toBe(createdAt);
    expect(again.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect((again.attention![0] as unknown as { at: Date }).at.toISOString()).toBe('2029-01-01T00:00:00.000Z');
  });

  it('the same holds for webhook delivery rows: job dates and fields of a read row are the store’s', async () => {
    const store = fresh();
    const row = delivery();
    await store.webhookDeliveries.insertOne(row);
    const read = (await store.webhookDeliveries.findOne({ 'job.state': 'queued' }))!;
    attempt(() => ((read.job as { state: string }).state = 'dead'));
    attempt(() => read.txids.push('0x2'));
    attempt(() => read.job!.runAt.setTime(0));
    const again = (await store.webhookDeliveries.findById(row.id))!;
    expect(again.job!.state).toBe('queued');
    expect(again.txids).toEqual(['0x1']);
    expect(again.job!.runAt.getTime()).toBe(row.job!.runAt.getTime());
    expect(await store.webhookDeliveries.count({ 'job.state': 'dead' })).toBe(0);
  });
});

describe('what a write returns, and what the caller handed in, stay the caller’s', () => {
  it('the copies insertOne, updateOne return — nested objects, arrays, dates — change nothing stored', async () => {
    const store = fresh();
    const record = payment({ metadata: { nested: { deep: ['a'] } }, expiresAt: new Date('2030-01-01T00:00:00Z') });
    const inserted = await store.payments.insertOne(record);
    const stored = JSON.stringify(await store.payments.findById(record.id));
    (inserted.metadata as { nested: { deep: string[] } }).nested.deep.push('b');
    inserted.expiresAt!.setFullYear(2040);
    inserted.createdAt.setTime(0);
    inserted.history.push({} as never);
    expect(JSON.stringify(await store.payments.findById(record.id))).toBe(stored);

    const updated = (await store.payments.updateOne({ id: record.id }, { $set: { status: 'processing' }, $push: { creditKeys: 'k1' } }))!;
    const afterUpdate = JSON.stringify(await store.payments.findById(record.id));
    updated.creditKeys.push('k2');
    updated.updatedAt.setTime(0);
    (updated.metadata as { nested: { deep: string[] } }).nested.deep.length = 0;
    expect(JSON.stringify(await store.payments.findById(record.id))).toBe(afterUpdate);
    expect(await store.payments.count({ creditKeys: 'k2' })).toBe(0);
  });

  it('the caller’s own record, $set value and $push value, changed after the write, change nothing stored', async () => {
    const store = fresh();
    const meta = { list: [{ v: 1 }], when: new Date('2030-01-01T00:00:00Z') };
    const record = payment({ metadata: meta });
    await store.payments.insertOne(record);
    meta.list[0]!.v = 2;
    meta.list.push({ v: 3 });
    meta.when.setTime(0);
    record.creditKeys.push('late');
    const setValue = { a: { b: [1] }, at: new Date('2031-01-01T00:00:00Z') };
    const pushValue = { reason: 'r', at: new Date('2031-01-01T00:00:00Z') };
    await store.payments.updateOne({ id: record.id }, { $set: { providerData: setValue }, $push: { attention: pushValue } });
    setValue.a.b.push(2);
    setValue.at.setTime(0);
    pushValue.reason = 'changed';
    pushValue.at.setTime(0);
    const read = (await store.payments.findById(record.id))!;
    expect(read.metadata).toEqual({ list: [{ v: 1 }], when: new Date('2030-01-01T00:00:00Z') });
    expect(read.creditKeys).toEqual([]);
    expect(read.providerData).toEqual({ a: { b: [1] }, at: new Date('2031-01-01T00:00:00Z') });
    expect(read.attention).toEqual([{ reason: 'r', at: new Date('2031-01-01T00:00:00Z') }]);
    expect(await store.payments.count({ 'attention.reason': 'changed' })).toBe(0);
  });

  it('a record built from a read record (frozen sub-objects and dates) is stored as its own, and the source stays as it was', async () => {
    const store = fresh();
    const { id, stored } = await seededPayment(store, { externalId: 'EXT-1' });
    const source = (await store.payments.findById(id))!;
    const copyId = newObjectId();
    const built = { ...source, id: copyId, externalId: 'EXT-2', metadata: source.metadata, history: source.history, attention: source.attention };
    const inserted = await store.payments.insertOne(built);
    (inserted.metadata as { nested: { deep: unknown[] } }).nested.deep.push('mine');
    inserted.createdAt.setFullYear(1970);
    inserted.expiresAt!.setTime(1);
    (inserted.attention![0] as unknown as { at: Date }).at.setTime(1);
    await store.payments.updateOne({ id: copyId }, { $set: { 'metadata.note': 'copy', status: 'failed' } });
    expect(JSON.stringify(await store.payments.findById(id))).toBe(stored);
    const copy = (await store.payments.findById(copyId))!;
    expect(copy.metadata).toEqual({ note: 'copy', nested: { deep: ['a', { x: 1 }] } });
    expect(copy.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    // And a copy that keeps the source's unique key is refused.
    await expect(store.payments.insertOne({ ...source, id: newObjectId() })).rejects.toMatchObject({ code: 'duplicate_key' });
    expect(await store.payments.count({ externalId: 'EXT-1' })).toBe(1);
  });
});

describe('values a record must not hold', () => {
  class Point {
    x = 1;
  }
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const hostile: [string, () => unknown][] = [
    ['a Map', () => new Map([['a', 1]])],
    ['a Set', () => new Set([1])],
    ['a typed array', () => new Uint8Array([1, 2])],
    ['a RegExp', () => /x/],
    ['a cycle', () => cycle],
  ];

  it.each(hostile)('%s is refused on insert, $set and $push, and nothing is stored or changed', async (_name, value) => {
    const store = fresh();
    const record = payment({ metadata: { v: value() } });
    await expect(store.payments.insertOne(record)).rejects.toThrow();
    expect(await store.payments.findById(record.id)).toBeNull();
    const { id, stored } = await seededPayment(store);
    await expect(store.payments.updateOne({ id }, { $set: { 'metadata.v': value() } })).rejects.toThrow();
    await expect(store.payments.updateOne({ id }, { $push: { attention: value() } } as never)).rejects.toThrow();
    await expect(store.payments.updateMany({ id }, { $set: { providerData: { v: value() } } })).rejects.toThrow();
    expect(JSON.stringify(await store.payments.findById(id))).toBe(stored);
  });

  it('a class instance or symbol keys are refused or stored as plain data: never the caller’s object', async () => {
    const store = fresh();
    const sym = Symbol('s');
    const inst = new Point();
    const record = payment({ metadata: { p: inst, s: { [sym]: 1, b: 2 } } });
    const inserted = await store.payments.insertOne(record).catch(() => null);
    if (inserted) {
      const m = (await store.payments.findById(record.id))!.metadata as Record<string, unknown>;
      expect(m.p).not.toBe(inst);
      expect(Object.getPrototypeOf(m.p)).toBe(Object.prototype);
    }
    const { id } = await seededPayment(store);
    const viaSet = new Point();
    await store.payments.updateOne({ id }, { $set: { 'metadata.p': viaSet, 'metadata.s': { [sym]: 1, b: 2 } } }).catch(() => null);
    const m = (await store.payments.findById(id))!.metadata as Record<string, unknown>;
    if (m.p !== undefined) {
      expect(m.p).not.toBe(viaSet);
      expect(Object.getPrototypeOf(m.p)).toBe(Object.prototype);
      viaSet.x = 99;
      expect((m.p as Point).x).toBe(1);
    }
    if (m.s !== undefined) expect(Object.getOwnPropertySymbols(m.s)).toEqual([]);
  });

  it('JSON’s own "__proto__" key in a plain object leaves no record with another prototype', async () => {
    const store = fresh();
    const record = payment({ metadata: JSON.parse('{"__proto__":{"polluted":true},"ok":1}') as Record<string, unknown> });
    await store.payments.insertOne(record).catch(() => null);
    const read = await store.payments.findById(record.id);
    if (read) expect(Object.getPrototypeOf(read.metadata)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // FAULT: a null-prototype object in a Mixed field (metadata, providerData, escrow, attention…) is
  // not copied on insert: `storableMixed` copies only objects whose prototype is Object.prototype,
  // and `freezeOwned` then freezes the caller's own object in place and stores it. An accessor on it
  // stays live, so the caller changes what every reader of the stored record sees.
  it('a null-prototype object with a getter, inserted in a Mixed field, does not keep following the caller', async () => {
    const store = fresh();
    let note = 'original';
    const meta = Object.create(null) as Record<string, unknown>;
    Object.defineProperty(meta, 'note', { get: () => note, set: () => undefined, enumerable: true, configurable: true });
    const record = payment({ metadata: meta });
    const ok = await store.payments.insertOne(record).then(
      () => true,
      () => false,
    );
    if (!ok) return; // refused: the invariant holds
    note = 'changed by the caller';
    const read = (await store.payments.findById(record.id))!;
    expect((read.metadata as { note: string }).note).toBe('original');
    expect(read.metadata).not.toBe(meta);
  });

  // FAULT (same cause): a null-prototype object may hold an own "__proto__" key, which is stored as
  // it is; the next update copies the record with `out[key] = …`, which sets the copy's prototype
  // instead, and the copy is then refused (TypeError): the record can never be updated again.
  it('a null-prototype object with an own "__proto__" key does not make its record impossible to update', async () => {
    const store = fresh();
    const meta = Object.create(null) as Record<string, unknown>;
    meta['__proto__'] = { x: 1 };
    meta.y = 2;
    const record = payment({ metadata: meta });
    const ok = await store.payments.insertOne(record).then(
      () => true,
      () => false,
    );
    if (!ok) return; // refused: the invariant holds
    const updated = await store.payments.updateOne({ id: record.id }, { $set: { status: 'processing' } });
    expect(updated?.status).toBe('processing');
    expect((await store.payments.findById(record.id))!.status).toBe('processing');
  });

  // FAULT: a function inside a Mixed value passes normaliseRecord (`storableMixed` keeps any
  // non-object) and `freezeOwned` (which skips anything not `typeof 'object'`): the stored record
  // holds the caller's own function object, whose properties the caller can still change. ($set of
  // the same value is refused: structuredClone cannot clone a function.)
  it('a function inside a Mixed field is refused on insert, not stored as the caller’s object', async () => {
    const store = fresh();
    const fn = Object.assign(() => 'x', { tag: 'original' });
    const record = payment({ metadata: { f: fn } });
    const ok = await store.payments.insertOne(record).then(
      () => true,
      () => false,
    );
    if (ok) {
      fn.tag = 'changed by the caller';
      const m = (await store.payments.findById(record.id))!.metadata as Record<string, unknown>;
      expect(typeof m.f).not.toBe('function');
    }
    const { id } = await seededPayment(store);
    await expect(store.payments.updateOne({ id }, { $set: { 'metadata.f': fn } })).rejects.toThrow();
  });

  // FAULT: an Array subclass in a Mixed field is kept as the caller's class (`v.map` keeps the
  // species, `freezeOwned` accepts any Array): the stored array's prototype is the caller's, so the
  // caller can change what iterating the stored record yields (or its methods) after the insert.
  it('an Array subclass inserted in a Mixed field is stored as a plain array', async () => {
    const store = fresh();
    class Tags extends Array<string> {}
    const tags = Tags.from(['a', 'b']) as Tags;
    const record = payment({ metadata: { tags } });
    const ok = await store.payments.insertOne(record).then(
      () => true,
      () => false,
    );
    if (!ok) return;
    (Tags.prototype as unknown as Record<symbol, unknown>)[Symbol.iterator] = function* () {
      yield 'forged';
    };
    const read = (await store.payments.findById(record.id))!;
    const stored = (read.metadata as { tags: string[] }).tags;
    expect(Object.getPrototypeOf(stored)).toBe(Array.prototype);
    expect([...stored]).toEqual(['a', 'b']);
  });
});

describe('update paths through "__proto__"', () => {
  // FAULT: `normaliseUpdate` lets any path inside a Mixed field through, and `applyUpdate`'s
  // `parentFor` walks `cur[part]`, so `metadata.__proto__` is the record copy's prototype, which is
  // Object.prototype: `$set`, `$push` and `$inc` write onto every object of the process. MongoDB
  // would store a field named `__proto__`. (The HTTP metadata schema refuses such keys; any other
  // caller of the store does not.)
  it('$set, $push and $inc on metadata.__proto__.* change no object but the record', async () => {
    const store = fresh();
    const { id } = await seededPayment(store);
    const names = ['storeCopyAttacksSet', 'storeCopyAttacksPush', 'storeCopyAttacksInc'] as const;
    const proto = Object.prototype as unknown as Record<string, unknown>;
    try {
      await store.payments.updateOne({ id }, { $set: { [`metadata.__proto__.${names[0]}`]: 'yes' } }).catch(() => null);
      await store.payments.updateOne({ id }, { $push: { [`providerData.__proto__.${names[1]}`]: 'yes' } } as never).catch(() => null);
      await store.payments.updateOne({ id }, { $inc: { [`metadata.__proto__.${names[2]}`]: 1 } } as never).catch(() => null);
      const plain = {} as Record<string, unknown>;
      expect(names.map((n) => plain[n])).toEqual([undefined, undefined, undefined]);
      expect(Object.getPrototypeOf((await store.payments.findById(id))!.metadata)).toBe(Object.prototype);
    } finally {
      // The fast tier shares its worker process between files: leave nothing behind.
      for (const n of names) delete proto[n];
    }
  });
});

describe('unique keys stay unique', () => {
  it('insert, insertIfAbsent, updateOne, updateMany and $push cannot give one key to two records', async () => {
    const store = fresh();
    const a = payment({ externalId: 'EXT-A', creditKeys: ['ka'], transactionHash: '0xa' });
    const b = payment({ externalId: 'EXT-B', creditKeys: ['kb'] });
    await store.payments.insertOne(a);
    await store.payments.insertOne(b);
    const before = JSON.stringify(await store.payments.find({}, { sort: { id: 1 } }));
    await expect(store.payments.insertOne(payment({ externalId: 'EXT-A' }))).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.payments.insertIfAbsent(payment({ creditKeys: ['kz', 'ka'] }))).rejects.toMatchObject({ code: 'duplicate_key' });
    expect(await store.payments.insertIfAbsent({ ...a, externalId: 'EXT-NEW' })).toBe(false);
    await expect(store.payments.updateOne({ id: b.id }, { $set: { externalId: 'EXT-A' } })).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'ka' } })).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.payments.updateOne({ id: b.id }, { $set: { creditKeys: ['kb', 'ka'] } })).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.payments.updateMany({}, { $set: { transactionHash: '0xsame' } })).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.payments.updateMany({ id: b.id }, { $set: { transactionHash: '0xa' } })).rejects.toMatchObject({ code: 'duplicate_key' });
    expect(JSON.stringify(await store.payments.find({}, { sort: { id: 1 } }))).toBe(before);
    for (const [field, v] of [
      ['externalId', 'EXT-A'],
      ['creditKeys', 'ka'],
      ['transactionHash', '0xa'],
    ] as const) {
      expect(await store.payments.count({ [field]: v }), `${field}=${v}`).toBe(1);
    }
    // A key freed by an update or a delete can be taken again, once.
    await store.payments.updateOne({ id: a.id }, { $set: { externalId: 'EXT-A2' } });
    await store.payments.updateOne({ id: b.id }, { $set: { externalId: 'EXT-A' } });
    await store.payments.deleteMany({ id: a.id });
    await store.payments.insertOne(payment({ creditKeys: ['ka'], externalId: 'EXT-A2' }));
    expect(await store.payments.count({ externalId: 'EXT-A' })).toBe(1);
    expect(await store.payments.count({ creditKeys: 'ka' })).toBe(1);
    await expect(store.payments.insertOne(payment({ creditKeys: ['ka'] }))).rejects.toMatchObject({ code: 'duplicate_key' });
  });

  // FAULT (same cause as the Array subclass above, on a typed field): `creditKeys` given as an Array
  // subclass is stored with the caller's prototype; the unique check and the index read its values
  // by iterating it, the record holds them by position. An iterator that lies lets a second payment
  // take a credit key the first one holds: one transfer, two escrows.
  it('an Array subclass whose iterator lies cannot smuggle a credit key past the unique index', async () => {
    const store = fresh();
    class Keys extends Array<string> {}
    (Keys.prototype as unknown as Record<symbol, unknown>)[Symbol.iterator] = function* () {
      yield 'decoy';
    };
    const a = payment({ creditKeys: Keys.from(['k1']) as unknown as string[] });
    await store.payments.insertOne(a).catch(() => null);
    await store.payments.insertOne(payment({ creditKeys: ['k1'] })).catch(() => null);
    const holders = (await store.payments.find({})).filter((p) => Array.prototype.includes.call(p.creditKeys, 'k1'));
    expect(holders).toHaveLength(1);
    expect(await store.payments.count({ creditKeys: 'k1' })).toBe(holders.length);
  });

  it('webhook deliveries: dedupeKey and replayKey name one row; nulls do not collide', async () => {
    const store = fresh();
    await store.webhookDeliveries.insertOne(delivery({ dedupeKey: 'd1', replayKey: 'r1' }));
    await store.webhookDeliveries.insertOne(delivery({ dedupeKey: null, replayKey: null }));
    await store.webhookDeliveries.insertOne(delivery({ dedupeKey: null, replayKey: null }));
    await expect(store.webhookDeliveries.insertOne(delivery({ dedupeKey: 'd1' }))).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.webhookDeliveries.insertOne(delivery({ replayKey: 'r1' }))).rejects.toMatchObject({ code: 'duplicate_key' });
    await expect(store.webhookDeliveries.updateMany({ dedupeKey: null }, { $set: { dedupeKey: 'd2' } })).rejects.toMatchObject({ code: 'duplicate_key' });
    expect(await store.webhookDeliveries.count({ dedupeKey: 'd2' })).toBe(0);
    expect(await store.webhookDeliveries.count({ dedupeKey: 'd1' })).toBe(1);
  });
});

/** The ids a query returns through the store, and the ids a scan of every record with the same filter matches. */
async function indexedAndScanned<T extends { id: string }>(c: MemoryCollection<T>, filter: Filter) {
  const viaStore = (await c.find(filter)).map((d) => d.id).sort();
  const all = await c.find({});
  const q = matcher(filter);
  const scanned = all
    .filter((d) => q.test(d as unknown as Record<string, unknown>))
    .map((d) => d.id)
    .sort();
  return { viaStore, scanned, count: await c.count(filter), one: (await c.findOne(filter))?.id ?? null };
}

async function expectIndexMatchesScan<T extends { id: string }>(c: MemoryCollection<T>, fields: readonly string[], values: readonly string[]) {
  for (const f of fields) {
    for (const v of values) {
      for (const filter of [
        { [f]: v },
        { [f]: { $eq: v } },
        { [f]: { $in: [v, 'never'] } },
        { [f]: { $type: 'string' } },
        { $and: [{ [f]: v }, { id: { $exists: true } }] },
        { $or: [{ [f]: v }, { [f]: 'never' }] },
      ] as Filter[]) {
        const r = await indexedAndScanned(c, filter);
        expect(r.viaStore, JSON.stringify(filter)).toEqual(r.scanned);
        expect(r.count, JSON.stringify(filter)).toBe(r.scanned.length);
        expect(r.one === null ? r.scanned.length === 0 : r.scanned.includes(r.one), JSON.stringify(filter)).toBe(true);
      }
    }
  }
}

const PAYMENT_FIELDS = [
  'externalId',
  'creditKeys',
  'pendingEffects',
  'attention.reason',
  'escrow.credits.reason',
  'escrow.shortfall',
  'escrow.inFlight.state',
  'pendingEvents.id',
  'status',
  'buyerId',
  'providerTaskId',
] as const;
const VALUES = ['a', 'b', 'c', 'pending', 'completed', 'buyer-1', 'buyer-2'] as const;

describe('indexes find exactly what a scan finds', () => {
  it('payments: after inserts, updates of indexed fields (arrays and sub-documents in Mixed fields) and deletes', async () => {
    const store = fresh();
    const c = store.payments;
    const p1 = payment({ externalId: 'a', creditKeys: ['a', 'b'], pendingEffects: ['a'] as never, providerTaskId: 'a' });
    const p2 = payment({
      externalId: 'b',
      buyerId: 'buyer-2',
      escrow: { credits: [{ reason: 'a' }, { reason: ['b', 'c'] }], shortfall: 'a', inFlight: [{ state: 'b' }, { state: 'c' }] } as never,
      attention: [{ reason: 'a' }, { reason: 'b' }] as never,
      pendingEvents: [{ id: 'c' }] as never,
    });
    const p3 = payment({ escrow: [{ credits: { reason: 'c' } }, { shortfall: ['a', 'b'] }] as never, status: 'completed' });
    for (const p of [p1, p2, p3]) await c.insertOne(p);
    await expectIndexMatchesScan(c, PAYMENT_FIELDS, VALUES);

    await c.updateOne({ id: p1.id }, { $set: { externalId: 'c', creditKeys: ['c'] }, $push: { attention: { reason: 'c' } } } as never);
    await c.updateOne({ id: p2.id }, { $set: { 'escrow.shortfall': 'b', 'escrow.inFlight.0.state': 'a' }, $pull: { attention: { reason: 'a' } } } as never);
    await c.updateOne({ id: p3.id }, { $unset: { escrow: '' }, $set: { status: 'pending' } } as never);
    await c.updateMany({ buyerId: 'buyer-1' }, { $set: { providerTaskId: 'b' }, $push: { pendingEffects: 'b' } } as never);
    await expectIndexMatchesScan(c, PAYMENT_FIELDS, VALUES);

    await c.deleteMany({ creditKeys: 'c' });
    await c.insertOne(payment({ externalId: 'a', creditKeys: ['a'] }));
    await expectIndexMatchesScan(c, PAYMENT_FIELDS, VALUES);
    expect(await c.count({ externalId: 'c' })).toBe(0);
  });

  it('webhook deliveries: externalId, job.state, job.key and dedupeKey through the inbox’s life cycle', async () => {
    const store = fresh();
    const c = store.webhookDeliveries;
    const rows = [delivery({ externalId: 'a' }), delivery({ externalId: 'a', dedupeKey: 'a' }), delivery({ externalId: 'b', job: null })];
    for (const r of rows) await c.insertOne(r);
    const fields = ['externalId', 'job.state', 'job.key', 'dedupeKey', 'kind', 'outcome'];
    const values = ['a', 'b', 'queued', 'running', 'dead', 'invoice:AMN_1', 'invoice', 'received', 'applied'];
    await expectIndexMatchesScan(c, fields, values);
    await c.updateOne({ id: rows[0]!.id }, { $set: { 'job.state': 'running', 'job.key': 'b', dedupeKey: 'b', outcome: 'applied' } } as never);
    await c.updateOne({ id: rows[1]!.id }, { $set: { job: null, externalId: 'b' } } as never);
    await c.updateMany({ externalId: 'b' }, { $set: { kind: 'payout' } } as never);
    await expectIndexMatchesScan(c, fields, values);
    await c.deleteMany({ 'job.state': 'running' });
    await expectIndexMatchesScan(c, fields, values);
  });

  // KNOWN LIMIT (kept as an expected failure): in a Mixed field, a value nested in an array of
  // arrays is matched by mingo's scan but not by the index, which agrees with MongoDB (equality
  // does not reach into nested arrays). No service writes arrays of arrays into an indexed path.
  it.fails('a string nested in an array of arrays (Mixed escrow) is found the same way with or without the index', async () => {
    const store = fresh();
    const c = store.payments;
    await c.insertOne(payment({ escrow: { shortfall: [['a']], credits: [{ reason: [['b']] }] } as never }));
    await c.insertOne(payment());
    await expectIndexMatchesScan(c, ['escrow.shortfall', 'escrow.credits.reason'], ['a', 'b']);
  });
});
