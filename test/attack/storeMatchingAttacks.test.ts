import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { matcher } from '../../src/adapters/store/mingoQuery.js';
import { uniqueFields } from '../../src/adapters/store/indexPlan.js';
import { stringValues } from '../../src/adapters/store/memoryIndexes.js';
import { systemClock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { newObjectId } from '../../src/platform/ids.js';
import { newJob } from '../../src/core/jobs/jobState.js';
import type { PaymentRecord, WebhookDeliveryRecord } from '../../src/core/store/records.js';
import type { Filter, Update } from '../../src/core/store/store.js';
import { payment, signedDeliveryFields } from '../helpers/fixtures.js';
import { BUYER, expectSoundLedgers, intentFor, invoiceCallback, paymentOf, postWebhook, seed, useSeededWorld } from '../shkeeper/payinTestKit.js';

/**
 * Attacks on the in-process store's two latest optimisations: the plain-equality fast path of
 * filter matching (mingoQuery.predicate) and the per-field re-indexing of an update
 * (HashIndexes.replace). The store is what keeps the money invariants of escrow-ledger.md (one
 * transfer credits one escrow, one funded escrow per request, unique hashes and external ids,
 * conditional updates as compare-and-set), so each test asserts one of them, not just "no crash".
 */

const D1 = newObjectId();
const newStore = () => new MemoryStore(systemClock);

async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'accepted';
}

const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

describe('unique multikey creditKeys: one transfer credits one escrow', () => {
  it('a credit key held by one payment cannot be pushed, set or inserted into another, even after unrelated updates of the holder', async () => {
    const store = newStore();
    const a = await store.payments.insertOne(payment({ creditKeys: ['bsc:0xaa:0xr', 'bsc:0xbb:0xr'] }));
    const b = await store.payments.insertOne(payment());
    // Unrelated updates of A: its creditKeys index must be left intact (replace skips unchanged fields).
    await store.payments.updateOne({ id: a.id }, { $set: { status: 'completed', 'metadata.x': '1' }, $inc: { revision: 1 } });
    await store.payments.updateOne({ id: a.id }, { $set: { transactionHash: '0xaa' } });
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'bsc:0xbb:0xr' } }))).toBe('duplicate_key');
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $set: { creditKeys: ['x', 'bsc:0xaa:0xr'] } }))).toBe('duplicate_key');
    expect(await refusal(() => store.payments.insertOne(payment({ creditKeys: ['bsc:0xaa:0xr'] })))).toBe('duplicate_key');
    expect((await store.payments.findById(b.id))!.creditKeys).toEqual([]);
    expect(ids(await store.payments.find({ creditKeys: 'bsc:0xbb:0xr' }))).toEqual([a.id]);
    expect(await store.payments.count({ creditKeys: { $in: ['bsc:0xaa:0xr', 'bsc:0xbb:0xr'] } })).toBe(1);
  });

  it('reordering, moving, removing and re-adding keys keeps exactly one holder per key', async () => {
    const store = newStore();
    const a = await store.payments.insertOne(payment({ creditKeys: ['k1', 'k2'] }));
    const b = await store.payments.insertOne(payment({ creditKeys: ['k3'] }));
    // Same keys, other order: still A's.
    await store.payments.updateOne({ id: a.id }, { $set: { creditKeys: ['k2', 'k1'] } });
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k1' } }))).toBe('duplicate_key');
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k2' } }))).toBe('duplicate_key');
    // Duplicate within one record (MongoDB allows it in one document), then dedupe back.
    await store.payments.updateOne({ id: a.id }, { $set: { creditKeys: ['k2', 'k1', 'k1'] } });
    await store.payments.updateOne({ id: a.id }, { $set: { creditKeys: ['k1', 'k2'] } });
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k1' } }))).toBe('duplicate_key');
    // Move k1 from A to B: the old holder gives it up first.
    await store.payments.updateOne({ id: a.id }, { $pull: { creditKeys: 'k1' } });
    await store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k1' } });
    expect(await refusal(() => store.payments.updateOne({ id: a.id }, { $push: { creditKeys: 'k1' } }))).toBe('duplicate_key');
    expect(ids(await store.payments.find({ creditKeys: 'k1' }))).toEqual([b.id]);
    expect(ids(await store.payments.find({ creditKeys: 'k2' }))).toEqual([a.id]);
    // Remove all of B's, then A re-adds k1 and k3.
    await store.payments.updateOne({ id: b.id }, { $set: { creditKeys: [] } });
    expect(await store.payments.find({ creditKeys: 'k1' })).toEqual([]);
    await store.payments.updateOne({ id: a.id }, { $push: { creditKeys: { $each: ['k1', 'k3'] } } });
    expect(ids(await store.payments.find({ creditKeys: { $in: ['k1', 'k3'] } }))).toEqual([a.id]);
    expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k3' } }))).toBe('duplicate_key');
    // Deleted holder frees its keys.
    await store.payments.deleteMany({ id: a.id });
    await store.payments.updateOne({ id: b.id }, { $push: { creditKeys: 'k3' } });
    expect(ids(await store.payments.find({ creditKeys: 'k3' }))).toEqual([b.id]);
  });

  it('an updateMany that would give two payments one unique value changes nothing', async () => {
    const store = newStore();
    const a = await store.payments.insertOne(payment({ buyerId: 'mallory' }));
    const b = await store.payments.insertOne(payment({ buyerId: 'mallory' }));
    const c = await store.payments.insertOne(payment({ buyerId: 'alice', transactionHash: '0xtaken' }));
    const before = await store.payments.find({}, { sort: { id: 1 } });
    for (const update of [
      { $set: { transactionHash: '0xdup' } },
      { $set: { externalId: 'AMN_1' } },
      { $set: { releaseTxHash: '0xrel' } },
      { $set: { refundTxHash: '0xref' } },
      { $set: { fundedRequestKey: 'req-1' } },
      { $push: { creditKeys: 'bsc:0xdup:0xr' } },
      { $set: { creditKeys: ['x', 'y'] } },
    ] as Update[]) {
      expect(await refusal(() => store.payments.updateMany({ buyerId: 'mallory' }, update)), JSON.stringify(update)).toBe('duplicate_key');
    }
    // One record of the batch taking a value another record outside it holds.
    expect(await refusal(() => store.payments.updateMany({ id: a.id }, { $set: { transactionHash: '0xtaken' } }))).toBe('duplicate_key');
    expect(await store.payments.find({}, { sort: { id: 1 } })).toEqual(before);
    // And the indexes still answer as the records say.
    expect(await store.payments.count({ transactionHash: '0xdup' })).toBe(0);
    expect(await store.payments.count({ creditKeys: 'x' })).toBe(0);
    expect(ids(await store.payments.find({ transactionHash: '0xtaken' }))).toEqual([c.id]);
    expect(ids(await store.payments.find({ buyerId: 'mallory' }))).toEqual([a.id, b.id].sort());
  });
});

describe('unique payment hashes and ids across payments', () => {
  it.each(['transactionHash', 'externalId', 'releaseTxHash', 'refundTxHash', 'fundedRequestKey', 'liveOfferKey'] as const)(
    '%s: moved from one payment to another, removed and re-added, stays with one payment',
    async (field) => {
      const store = newStore();
      const a = await store.payments.insertOne(payment({ [field]: 'v1' } as Partial<PaymentRecord>));
      const b = await store.payments.insertOne(payment());
      // Unchanged across unrelated updates.
      await store.payments.updateOne({ id: a.id }, { $set: { status: 'completed' }, $inc: { revision: 1 } });
      expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $set: { [field]: 'v1' } }))).toBe('duplicate_key');
      // A changes to v2: v1 is free, v2 is taken.
      await store.payments.updateOne({ id: a.id }, { $set: { [field]: 'v2' } });
      expect(await refusal(() => store.payments.updateOne({ id: b.id }, { $set: { [field]: 'v2' } }))).toBe('duplicate_key');
      await store.payments.updateOne({ id: b.id }, { $set: { [field]: 'v1' } });
      expect(await refusal(() => store.payments.updateOne({ id: a.id }, { $set: { [field]: 'v1' } }))).toBe('duplicate_key');
      // A unsets (null, as the partial index ignores), then both nulls coexist and v2 is free again.
      await store.payments.updateOne({ id: a.id }, { $set: { [field]: null } });
      await store.payments.updateOne({ id: b.id }, { $set: { [field]: null } });
      await store.payments.updateOne({ id: b.id }, { $set: { [field]: 'v2' } });
      expect(await refusal(() => store.payments.updateOne({ id: a.id }, { $set: { [field]: 'v2' } }))).toBe('duplicate_key');
      expect(ids(await store.payments.find({ [field]: 'v2' }))).toEqual([b.id]);
      expect(await store.payments.find({ [field]: 'v1' })).toEqual([]);
      expect(ids(await store.payments.find({ [field]: null }))).toEqual([a.id]);
    },
  );
});

describe('conditional updates as compare-and-set', () => {
  it('a filter value of another type than the record holds never matches (MongoDB equality is type-strict)', async () => {
    const store = newStore();
    const p = await store.payments.insertOne(payment({ revision: 3, status: 'completed', escrowState: 'funded' }));
    const base = { id: p.id, status: 'completed', escrowState: 'funded' };
    const misses: Filter[] = [
      { ...base, revision: '3' },
      { ...base, revision: 4 },
      { ...base, revision: true },
      { ...base, revision: null },
      { ...base, revision: [3, 4] },
      { ...base, revision: { $gt: 3 } },
      { ...base, status: ['completed'] },
      { ...base, status: true },
      { ...base, status: 1 },
      { ...base, status: null },
      { ...base, status: 'Completed' },
      { ...base, escrowState: 'released' },
      { ...base, 'escrow.state': 'nope' },
      { ...base, fundedRequestKey: 'x' },
      { ...base, 'escrow.inFlight.state': 'prepared' },
      { ...base, 'claim.state': false },
      { ...base, 'amount.amount': 25.5 },
      { ...base, 'amount.amount': '25.50' },
      { ...base, 'blockchain.network': 'BSC' },
      { ...base, 'blockchain.network.x': 'bsc' },
      { ...base, creditKeys: 'k' },
      { ...base, id: 5 },
      { id: { $in: [p.id] }, revision: 2 },
      { $or: [{ id: 'nope' }, { id: p.id, revision: 2 }] },
    ];
    for (const f of misses) {
      expect(matcher(f).test(p as never), JSON.stringify(f)).toBe(false);
      expect(await store.payments.updateOne(f, { $set: { status: 'refunded' }, $inc: { revision: 1 } }), JSON.stringify(f)).toBeNull();
      expect(await store.payments.count(f), JSON.stringify(f)).toBe(0);
      expect(await store.payments.updateMany(f, { $set: { status: 'refunded' } }), JSON.stringify(f)).toBe(0);
    }
    expect(await store.payments.findById(p.id)).toMatchObject({ status: 'completed', revision: 3 });
    const hits: Filter[] = [
      { ...base, revision: 3 },
      { ...base, revision: 3.0 },
      { ...base, 'amount.amount': '25.5' },
      { ...base, 'blockchain.network': 'bsc' },
      { ...base, fundedRequestKey: null },
      { ...base, claim: null },
      { ...base, 'claim.state': null },
      { ...base, 'job.state': null },
      { ...base, creditKeys: [] },
      { ...base, revision: { $in: [3, '3'] } },
    ];
    for (const f of hits) {
      expect(matcher(f).test(p as never), JSON.stringify(f)).toBe(true);
      expect(await store.payments.count(f), JSON.stringify(f)).toBe(1);
    }
  });

  it('array-valued filters are whole-array equality (order counts), a scalar matches an element; missing and null match null', async () => {
    const store = newStore();
    const p = await store.payments.insertOne(payment({ creditKeys: ['k1', 'k2'], fundedRequestKey: 'req-1' }));
    const q = await store.payments.insertOne(payment({ creditKeys: ['k3'] }));
    const hit = async (f: Filter) => ids(await store.payments.find({ id: { $in: [p.id, q.id] }, ...f }));
    expect(await hit({ creditKeys: ['k1', 'k2'] })).toEqual([p.id]);
    expect(await hit({ creditKeys: ['k2', 'k1'] })).toEqual([]);
    expect(await hit({ creditKeys: ['k1'] })).toEqual([]);
    expect(await hit({ creditKeys: 'k2' })).toEqual([p.id]);
    expect(await hit({ creditKeys: { $all: ['k2', 'k1'] } })).toEqual([p.id]);
    expect(await hit({ 'creditKeys.1': 'k2' })).toEqual([p.id]);
    expect(await hit({ 'creditKeys.0': 'k2' })).toEqual([]);
    expect(await hit({ 'creditKeys.length': 2 })).toEqual([]);
    // A compare-and-set on the credit keys read: a stale read (another order, one key fewer) does nothing.
    expect(await store.payments.updateOne({ id: p.id, creditKeys: ['k1'] }, { $push: { creditKeys: 'k9' } })).toBeNull();
    expect(await store.payments.updateOne({ id: p.id, creditKeys: ['k2', 'k1'] }, { $push: { creditKeys: 'k9' } })).toBeNull();
    expect((await store.payments.findById(p.id))!.creditKeys).toEqual(['k1', 'k2']);
    // Unset and null: both match null, neither holds the unique value, and the value is free again.
    await store.payments.updateOne({ id: p.id }, { $unset: { fundedRequestKey: '' } });
    expect(await hit({ fundedRequestKey: null })).toEqual([p.id, q.id].sort());
    expect(await store.payments.count({ fundedRequestKey: 'req-1' })).toBe(0);
    await store.payments.updateOne({ id: q.id }, { $set: { fundedRequestKey: 'req-1' } });
    expect(await refusal(() => store.payments.updateOne({ id: p.id }, { $set: { fundedRequestKey: 'req-1' } }))).toBe('duplicate_key');
    expect(await hit({ fundedRequestKey: 'req-1' })).toEqual([q.id]);
  });

  it('two writers racing on one revision: exactly one wins, and the loser sees a changed record', async () => {
    const store = newStore();
    for (let round = 0; round < 20; round++) {
      const p = await store.payments.insertOne(payment({ revision: round, status: 'completed', escrowState: 'funded' }));
      const cas = (to: 'released' | 'refunded', hash: string) =>
        store.payments.updateOne(
          { id: p.id, status: 'completed', escrowState: 'funded', revision: round },
          { $set: { status: to, escrowState: to, [to === 'released' ? 'releaseTxHash' : 'refundTxHash']: hash }, $inc: { revision: 1 } },
        );
      const [rel, ref] = await Promise.all([cas('released', `0xrel${round}`), cas('refunded', `0xref${round}`)]);
      expect([rel, ref].filter((x) => x !== null)).toHaveLength(1);
      const now = (await store.payments.findById(p.id))!;
      expect(now.revision).toBe(round + 1);
      // Never both a release and a refund hash.
      expect([now.releaseTxHash, now.refundTxHash].filter((h) => h !== null)).toHaveLength(1);
      // The old revision no longer matches: a replayed compare-and-set does nothing.
      expect(await cas('released', `0xrel2-${round}`)).toBeNull();
    }
  });

  it('job leases: only the holder of a running lease completes it; a re-queued record cannot be finished by the old holder', async () => {
    const store = newStore();
    const now = new Date();
    const row: WebhookDeliveryRecord = {
      id: D1,
      provider: 'shkeeper',
      ...signedDeliveryFields,
      txids: ['0x1'],
      receivedAt: now,
      outcome: 'received',
      dedupeKey: null,
      paymentId: null,
      detail: null,
      body: '{}',
      job: newJob('AMN_1', now),
      createdAt: now,
      updatedAt: now,
    };
    await store.webhookDeliveries.insertOne(row);
    const lease = (owner: string) =>
      store.webhookDeliveries.updateOne({ id: D1, 'job.state': 'queued' }, { $set: { 'job.state': 'running', 'job.leaseOwner': owner } });
    const [w1, w2] = await Promise.all([lease('w1'), lease('w2')]);
    expect([w1, w2].filter((x) => x !== null)).toHaveLength(1);
    const owner = (w1 ?? w2)!.job!.leaseOwner!;
    const other = owner === 'w1' ? 'w2' : 'w1';
    const finish = (who: unknown) =>
      store.webhookDeliveries.updateOne({ id: D1, 'job.state': 'running', 'job.leaseOwner': who }, { $set: { 'job.state': null, 'job.leaseOwner': null } });
    for (const wrong of [other, null, true, 1, [owner], { $ne: owner }] as unknown[]) expect(await finish(wrong), JSON.stringify(wrong)).toBeNull();
    // Lease expired and taken again by the other worker: the first holder's finish must not land.
    await store.webhookDeliveries.updateOne({ id: D1 }, { $set: { 'job.state': 'queued', 'job.leaseOwner': null } });
    expect(await lease(other)).not.toBeNull();
    expect(await finish(owner)).toBeNull();
    expect((await store.webhookDeliveries.findById(D1))!.job).toMatchObject({ state: 'running', leaseOwner: other });
    // Indexes follow the job: the queued set no longer names it, the running one does.
    expect(await store.webhookDeliveries.count({ 'job.state': 'queued' })).toBe(0);
    expect(await store.webhookDeliveries.count({ 'job.state': 'running' })).toBe(1);
    expect(await finish(other)).not.toBeNull();
    expect(await store.webhookDeliveries.count({ 'job.state': 'running' })).toBe(0);
  });
});

/**
 * A model-based attack: random sequences of inserts, conditional updates (updateOne by id and
 * revision, updateMany by status, credit key or hash), moves of unique values between payments
 * and deletes, over a few values so that collisions are frequent. A small model predicts every
 * answer: an operation that would leave two payments sharing a unique value is refused and
 * changes nothing; any other is applied to every match. After each step the store must hold what
 * the model holds, and every probe filter must return, through the indexes and the fast path,
 * what mingo returns over every record (no index).
 */
describe('model-based sequences over the unique and indexed fields', () => {
  type M = { id: string; status: PaymentRecord['status']; revision: number; transactionHash: string | null; externalId: string | null; creditKeys: string[] };
  const IDS = Array.from({ length: 4 }, () => newObjectId());
  const VALS = ['v1', 'v2', 'v3'];
  const KEYS = ['k1', 'k2', 'k3'];
  const STATUS: PaymentRecord['status'][] = ['pending', 'completed', 'released'];
  const UNIQUE = ['transactionHash', 'externalId'] as const;

  type Sel = { kind: 'id'; id: string; rev: number | string | null } | { kind: 'status'; s: string } | { kind: 'key'; k: string } | { kind: 'hash'; v: string };
  type Change =
    | { op: 'setUnique'; field: (typeof UNIQUE)[number]; v: string | null }
    | { op: 'push'; k: string }
    | { op: 'pull'; k: string }
    | { op: 'setKeys'; ks: string[] }
    | { op: 'status'; s: PaymentRecord['status'] };
  type Step = { op: 'insert'; rec: Omit<M, 'revision'> } | { op: 'update'; many: boolean; sel: Sel; change: Change } | { op: 'delete'; sel: Sel };

  const sel: fc.Arbitrary<Sel> = fc.oneof(
    fc.record({
      kind: fc.constant('id' as const),
      id: fc.constantFrom(...IDS),
      rev: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 3 }), fc.constantFrom('0', '1')),
    }),
    fc.record({ kind: fc.constant('status' as const), s: fc.constantFrom(...STATUS) }),
    fc.record({ kind: fc.constant('key' as const), k: fc.constantFrom(...KEYS) }),
    fc.record({ kind: fc.constant('hash' as const), v: fc.constantFrom(...VALS) }),
  );
  const change: fc.Arbitrary<Change> = fc.oneof(
    fc.record({ op: fc.constant('setUnique' as const), field: fc.constantFrom(...UNIQUE), v: fc.constantFrom(null, ...VALS) }),
    fc.record({ op: fc.constant('push' as const), k: fc.constantFrom(...KEYS) }),
    fc.record({ op: fc.constant('pull' as const), k: fc.constantFrom(...KEYS) }),
    fc.record({ op: fc.constant('setKeys' as const), ks: fc.subarray(KEYS).chain((ks) => fc.shuffledSubarray(ks, { minLength: ks.length })) }),
    fc.record({ op: fc.constant('status' as const), s: fc.constantFrom(...STATUS) }),
  );
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('insert' as const),
        rec: fc.record({
          id: fc.constantFrom(...IDS),
          status: fc.constantFrom(...STATUS),
          transactionHash: fc.constantFrom(null, ...VALS),
          externalId: fc.constantFrom(null, ...VALS),
          creditKeys: fc.subarray(KEYS, { maxLength: 2 }),
        }),
      }),
    },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('update' as const), many: fc.boolean(), sel, change }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), sel }) },
  );

  const filterOf = (s: Sel): Filter => {
    switch (s.kind) {
      case 'id':
        return s.rev === null ? { id: s.id } : { id: s.id, revision: s.rev };
      case 'status':
        return { status: s.s };
      case 'key':
        return { creditKeys: s.k };
      case 'hash':
        return { transactionHash: s.v };
    }
  };
  const modelMatches = (m: M, s: Sel): boolean => {
    switch (s.kind) {
      case 'id':
        return m.id === s.id && (s.rev === null || m.revision === s.rev);
      case 'status':
        return m.status === s.s;
      case 'key':
        return m.creditKeys.includes(s.k);
      case 'hash':
        return m.transactionHash === s.v;
    }
  };
  const updateOf = (c: Change): Update => {
    switch (c.op) {
      case 'setUnique':
        return { $set: { [c.field]: c.v }, $inc: { revision: 1 } };
      case 'push':
        return { $push: { creditKeys: c.k }, $inc: { revision: 1 } };
      case 'pull':
        return { $pull: { creditKeys: c.k }, $inc: { revision: 1 } };
      case 'setKeys':
        return { $set: { creditKeys: c.ks }, $inc: { revision: 1 } };
      case 'status':
        return { $set: { status: c.s }, $inc: { revision: 1 } };
    }
  };
  const applyModel = (m: M, c: Change): M => {
    const n = { ...m, creditKeys: [...m.creditKeys], revision: m.revision + 1 };
    if (c.op === 'setUnique') n[c.field] = c.v;
    else if (c.op === 'push') n.creditKeys.push(c.k);
    else if (c.op === 'pull') n.creditKeys = n.creditKeys.filter((k) => k !== c.k);
    else if (c.op === 'setKeys') n.creditKeys = [...c.ks];
    else n.status = c.s;
    return n;
  };
  const uniqueOk = (ms: M[]): boolean => {
    for (const f of [...UNIQUE, 'creditKeys'] as const) {
      const seen = new Map<string, string>();
      for (const m of ms) {
        const vs = f === 'creditKeys' ? new Set(m.creditKeys) : m[f] === null ? [] : [m[f]];
        for (const v of vs) {
          if (seen.has(v) && seen.get(v) !== m.id) return false;
          seen.set(v, m.id);
        }
      }
    }
    return true;
  };
  const view = (p: PaymentRecord): M => ({
    id: p.id,
    status: p.status,
    revision: p.revision!,
    transactionHash: p.transactionHash,
    externalId: p.externalId,
    creditKeys: [...p.creditKeys],
  });
  const probes = (): Filter[] => [
    ...VALS.flatMap((v) => [{ transactionHash: v }, { externalId: v }, { transactionHash: { $in: [v, 'zz'] } }, { externalId: { $eq: v } }]),
    ...KEYS.flatMap((k) => [{ creditKeys: k }, { creditKeys: { $in: [k] } }, { creditKeys: k, status: 'completed' }]),
    ...STATUS.map((s) => ({ status: s })),
    { transactionHash: { $type: 'string' } },
    { creditKeys: { $type: 'string' } },
    { transactionHash: null },
    { $or: [{ creditKeys: 'k1' }, { transactionHash: 'v1' }] },
    { $and: [{ status: 'pending' }, { creditKeys: 'k2' }] },
    ...IDS.map((id) => ({ id, revision: 1 })),
  ];

  it('the store answers as the model, and every probe as a full scan', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const store = newStore();
        let model: M[] = [];
        for (const s of steps) {
          const before = await store.payments.find({}, { sort: { id: 1 } });
          let expected: M[];
          let result: string;
          if (s.op === 'insert') {
            const next = [...model, { ...s.rec, revision: 0 }];
            expected = model.some((m) => m.id === s.rec.id) || !uniqueOk(next) ? model : next;
            result = await refusal(() => store.payments.insertOne(payment({ ...s.rec, creditKeys: [...s.rec.creditKeys], revision: 0 })));
          } else if (s.op === 'delete') {
            expected = model.filter((m) => !modelMatches(m, s.sel));
            result = await refusal(() => store.payments.deleteMany(filterOf(s.sel)));
          } else {
            // updateOne only where the match is one record at most (by id), so the model knows which.
            const many = s.many || s.sel.kind !== 'id';
            const next = model.map((m) => (modelMatches(m, s.sel) ? applyModel(m, s.change) : m));
            expected = uniqueOk(next) ? next : model;
            result = await refusal(() =>
              many ? store.payments.updateMany(filterOf(s.sel), updateOf(s.change)) : store.payments.updateOne(filterOf(s.sel), updateOf(s.change)),
            );
          }
          const refusedExpected = expected === model && s.op !== 'delete' && (s.op === 'insert' || model.some((m) => modelMatches(m, s.sel)));
          const label = JSON.stringify(s);
          expect(result, label).toBe(refusedExpected ? 'duplicate_key' : 'accepted');
          const all = await store.payments.find({}, { sort: { id: 1 } });
          if (refusedExpected) expect(all, `${label}: a refused write changed nothing`).toEqual(before);
          expect(all.map(view), label).toEqual([...expected].sort((a, b) => (a.id < b.id ? -1 : 1)));
          model = expected;
          // Every unique value has one holder, through the index.
          for (const f of uniqueFields('payments')) {
            const holders = new Map<string, number>();
            for (const p of all) for (const v of new Set(stringValues(p, f))) holders.set(v, (holders.get(v) ?? 0) + 1);
            for (const [v, n] of holders) {
              expect(n, `${f}=${v}`).toBe(1);
              expect(await store.payments.count({ [f]: v }), `${f}=${v}`).toBe(1);
            }
          }
          for (const f of probes()) {
            const oracle = all.filter((p) => matcher(f).test(p as never)).map((p) => p.id);
            expect(ids(await store.payments.find(f)), `${label} ${JSON.stringify(f)}`).toEqual(oracle.sort());
            expect(await store.payments.count(f)).toBe(oracle.length);
            const one = await store.payments.findOne(f);
            expect(one === null ? null : oracle.includes(one.id)).toBe(oracle.length ? true : null);
          }
        }
      }),
      { seed: Number(process.env.FC_SEED ?? 20261130), numRuns: Number(process.env.FC_RUNS ?? 120) },
    );
  });
});

describe('through the API: SHKeeper deliveries against the store invariants', () => {
  const { h } = useSeededWorld();
  const txid = (n: number) => `0x${n.toString(16).padStart(64, 'c')}`;
  const funding = (p: PaymentRecord) => p.escrow!.credits.filter((c) => c.kind === 'funding');

  // Without a chain to ask (the fast world), SHKeeper's report for an invoice's own address is the
  // evidence, and one EVM transaction may pay several addresses: a credit key is crypto, txid AND
  // receiver, so each invoice may be credited once for its own address, never twice, and the
  // unique transactionHash stays with one payment.
  it("one txid in two invoices' PAID callbacks: each escrow holds only its own address's credit, once; the hash has one holder", async () => {
    const a = await intentFor(h, await seed(h));
    const b = await intentFor(h, await seed(h));
    const t = txid(1);
    const answers = await Promise.all([postWebhook(h, invoiceCallback(a, {}, { txid: t })), postWebhook(h, invoiceCallback(b, {}, { txid: t }))]);
    expect(answers.map((r) => r.status)).toEqual([202, 202]);
    const pa = await paymentOf(h, a.paymentId);
    const pb = await paymentOf(h, b.paymentId);
    for (const p of [pa, pb]) {
      for (const k of p.creditKeys) expect(k.endsWith(`:${p.payAddress!.toLowerCase()}`), k).toBe(true);
      expect(funding(p).length).toBeLessThanOrEqual(1);
    }
    expect((await h.store.payments.find({ transactionHash: t })).length).toBeLessThanOrEqual(1);
    expect((await h.store.payments.find({ creditKeys: { $in: [...pa.creditKeys, ...pb.creditKeys] } })).length).toBe(
      new Set([...pa.creditKeys, ...pb.creditKeys]).size,
    );
    // A replay of either, after both were applied, credits nothing more.
    await postWebhook(h, invoiceCallback(a, {}, { txid: t }));
    await postWebhook(h, invoiceCallback(b, {}, { txid: t }));
    expect((await paymentOf(h, a.paymentId)).escrow!.credits).toEqual(pa.escrow!.credits);
    expect((await paymentOf(h, b.paymentId)).escrow!.credits).toEqual(pb.escrow!.credits);
    await expectSoundLedgers(h);
  });

  it('replays of a PAID callback (concurrent, then after the payment moved on) credit it once', async () => {
    const a = await intentFor(h, await seed(h));
    const body = invoiceCallback(a, {}, { txid: txid(2) });
    await Promise.all([postWebhook(h, body), postWebhook(h, body), postWebhook(h, body)]);
    const first = await paymentOf(h, a.paymentId);
    expect(first.escrowState).toBe('funded');
    expect(funding(first)).toHaveLength(1);
    // The buyer tries to cancel (refused on a funded escrow or not: either way no re-credit), then SHKeeper replays.
    await h.as(BUYER).put(`/${a.paymentId}`, { status: 'cancelled' });
    await postWebhook(h, body);
    await postWebhook(h, invoiceCallback(a, { balance_crypto: '52.02' }, { txid: txid(2) }));
    const p = await paymentOf(h, a.paymentId);
    expect(p.escrow!.credits.map((c) => c.txHash)).toEqual([txid(2)]);
    expect(p.escrow!.received).toEqual(first.escrow!.received);
    expect(p.creditKeys).toEqual(first.creditKeys);
    await expectSoundLedgers(h);
  });

  it("a PAID for invoice A stating invoice B's pay address funds neither A nor B twice, and takes none of B's credit keys", async () => {
    const a = await intentFor(h, await seed(h));
    const b = await intentFor(h, await seed(h));
    await postWebhook(h, invoiceCallback(b, {}, { txid: txid(5) }));
    const pb = await paymentOf(h, b.paymentId);
    expect(pb.escrowState).toBe('funded');
    const r = await postWebhook(h, invoiceCallback({ externalId: a.externalId, payAddress: b.payAddress }, {}, { txid: txid(5) }));
    expect(r.status).toBe(202);
    const pa = await paymentOf(h, a.paymentId);
    expect({ escrow: pa.escrowState, credits: pa.escrow!.credits, keys: pa.creditKeys }).toEqual({ escrow: 'unfunded', credits: [], keys: [] });
    expect(await paymentOf(h, b.paymentId)).toMatchObject({ escrowState: 'funded', creditKeys: pb.creditKeys });
    await expectSoundLedgers(h);
  });

  it('two different transfers for one invoice: one funds, the other is recorded as excess, never a second funding', async () => {
    const a = await intentFor(h, await seed(h));
    await Promise.all([
      postWebhook(h, invoiceCallback(a, {}, { txid: txid(3) })),
      postWebhook(h, invoiceCallback(a, { balance_crypto: '52.02' }, { txid: txid(4) })),
    ]);
    const p = await paymentOf(h, a.paymentId);
    expect(p.escrowState).toBe('funded');
    expect(funding(p)).toHaveLength(1);
    expect(new Set(p.creditKeys).size).toBe(p.creditKeys.length);
    await expectSoundLedgers(h);
  });
});

/**
 * The nested and multikey indexed paths (the outbox `pendingEffects`, the admin queue
 * `attention.reason` and `escrow.shortfall`): values pushed, pulled, moved between payments and
 * re-added, by updateOne and updateMany. A payment an index forgets is one the outbox never
 * carries out or the admin never sees; after every step each probe must return, through the
 * indexes and the fast path, exactly what mingo returns over every record.
 */
describe('nested and multikey indexed paths follow every update', () => {
  const IDS = Array.from({ length: 3 }, () => newObjectId());
  const EFFECTS = ['notify', 'release'];
  const REASONS = ['short', 'excess'];
  type Op =
    | { op: 'pushEffect' | 'pullEffect'; e: string }
    | { op: 'pushFlag' | 'pullFlag'; r: string }
    | { op: 'clearFlags' }
    | { op: 'shortfall'; v: string | null }
    | { op: 'status'; s: PaymentRecord['status'] };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constantFrom('pushEffect' as const, 'pullEffect' as const), e: fc.constantFrom(...EFFECTS) }),
    fc.record({ op: fc.constantFrom('pushFlag' as const, 'pullFlag' as const), r: fc.constantFrom(...REASONS) }),
    fc.record({ op: fc.constant('clearFlags' as const) }),
    fc.record({ op: fc.constant('shortfall' as const), v: fc.constantFrom(null, '1', '2') }),
    fc.record({ op: fc.constant('status' as const), s: fc.constantFrom<PaymentRecord['status']>('pending', 'completed') }),
  );
  const updateOf = (o: Op): Update => {
    switch (o.op) {
      case 'pushEffect':
        return { $push: { pendingEffects: o.e } };
      case 'pullEffect':
        return { $pull: { pendingEffects: o.e } };
      case 'pushFlag':
        return { $push: { attention: { reason: o.r, source: 'test', actor: 'system', at: new Date(0) } } };
      case 'pullFlag':
        return { $pull: { attention: { reason: o.r } } };
      case 'clearFlags':
        return { $set: { attention: [] } };
      case 'shortfall':
        return { $set: { 'escrow.shortfall': o.v } };
      case 'status':
        return { $set: { status: o.s } };
    }
  };
  const selArb: fc.Arbitrary<Filter> = fc.oneof(
    fc.constantFrom(...IDS).map((id) => ({ id })),
    fc.constantFrom(...EFFECTS).map((e) => ({ pendingEffects: e })),
    fc.constantFrom(...REASONS).map((r) => ({ 'attention.reason': r })),
    fc.constantFrom('pending', 'completed').map((s) => ({ status: s })),
    fc.constant({ 'escrow.shortfall': { $type: 'string' } }),
  );
  const probes: Filter[] = [
    ...EFFECTS.flatMap((e) => [{ pendingEffects: e }, { pendingEffects: { $in: [e] } }, { pendingEffects: e, status: 'completed' }]),
    { pendingEffects: { $type: 'string' } },
    ...REASONS.flatMap((r) => [{ 'attention.reason': r }, { 'attention.reason': { $eq: r } }]),
    { 'attention.reason': { $in: REASONS } },
    { 'attention.reason': { $type: 'string' } },
    { 'escrow.shortfall': '1' },
    { 'escrow.shortfall': { $type: 'string' } },
    { 'escrow.shortfall': null },
    { $or: [{ pendingEffects: 'notify' }, { 'attention.reason': 'short' }, { 'escrow.shortfall': '2' }] },
    { $and: [{ status: 'completed' }, { pendingEffects: { $type: 'string' } }] },
  ];

  it('every probe answers as a full scan after random pushes, pulls and moves', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ many: fc.boolean(), sel: selArb, op: opArb }), { minLength: 1, maxLength: 25 }), async (steps) => {
        const store = newStore();
        for (const id of IDS) await store.payments.insertOne(payment({ id }));
        for (const s of steps) {
          if (s.many) await store.payments.updateMany(s.sel, updateOf(s.op));
          else await store.payments.updateOne(s.sel, updateOf(s.op));
          const all = await store.payments.find({});
          for (const f of probes) {
            const oracle = all
              .filter((p) => matcher(f).test(p as never))
              .map((p) => p.id)
              .sort();
            expect(ids(await store.payments.find(f)), `${JSON.stringify(s)} ${JSON.stringify(f)}`).toEqual(oracle);
            expect(await store.payments.count(f)).toBe(oracle.length);
          }
        }
      }),
      { seed: Number(process.env.FC_SEED ?? 20261130), numRuns: Number(process.env.FC_RUNS ?? 80) },
    );
  });
});
