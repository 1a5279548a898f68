import fc from 'fast-check';
import { emptyLedger } from '../../src/core/payments/escrowLedger.js';
import {
  DIRECTIONS,
  DISBURSEMENT_METHODS,
  ESCROW_STATES,
  PAYMENT_STATUSES,
  PROVIDERS,
  SELLER_OFFER_STATUSES,
  type Disbursement,
  type EscrowLedger,
  type PaymentRecord,
  type SellerOfferRecord,
} from '../../src/core/store/records.js';
import type { Filter, FindOptions, Update } from '../../src/core/store/store.js';

/**
 * Random operations on the `payments` and `sellerOffers` collections for the differential test
 * of the two stores (test/store/storeDifferential.test.ts). Every value comes from a small pool,
 * so unique keys collide, filters match, and updates hit records that exist. Filters follow the
 * shapes of src/store/queryShapes.ts (as services write them, before the Mongo adapter adds
 * `$type`), updates the shapes src/payments/*.ts build.
 */

export type CollectionKey = 'payments' | 'sellerOffers';

export type Op =
  | { op: 'insert'; coll: CollectionKey; doc: Record<string, unknown> }
  | { op: 'updateOne'; coll: CollectionKey; filter: Filter; update: Update }
  | { op: 'updateMany'; coll: CollectionKey; filter: Filter; update: Update }
  | { op: 'deleteMany'; coll: CollectionKey; filter: Filter }
  | { op: 'find' | 'stream'; coll: CollectionKey; filter: Filter; options: FindOptions }
  | { op: 'findOne' | 'count'; coll: CollectionKey; filter: Filter }
  | { op: 'findById'; coll: CollectionKey; id: string };

const hex = (prefix: string, i: number) => `${prefix}${String(i).padStart(24 - prefix.length, '0')}`;
export const PAYMENT_IDS = Array.from({ length: 16 }, (_, i) => i + 1).map((i) => hex('aa', i));
export const OFFER_IDS = [1, 2, 3, 4, 5, 6].map((i) => hex('bb', i));
export const REQUEST_IDS = [1, 2].map((i) => hex('cc', i));
const MALFORMED_ID = 'not-an-object-id';

const BUYERS = ['b1', 'b2', 'b3'];
/** Records take most of their enum values from a few, so multi-field filters match; filters also ask for the rest. */
const COMMON_STATUSES = ['pending', 'processing', 'completed'] as const;
const COMMON_PROVIDERS = ['shkeeper', 'decentralized'] as const;
const mostly = <T>(common: readonly T[], all: readonly T[]) => fc.oneof({ weight: 4, arbitrary: pick(common) }, { weight: 1, arbitrary: pick(all) });
const SELLERS = ['s1', 's2'];
const HASHES = ['h1', 'h2', 'h3'];
const EXTERNAL = ['x1', 'x2'];
const KEYS = ['k1', 'k2', 'k3'];
const EFFECTS = ['e1', 'e2', 'e3'];
const FLIGHT_STATES = ['prepared', 'submitted', 'in_doubt'] as const;
export const DATES = [0, 1, 2, 3].map((m) => new Date(Date.UTC(2025, 0, 1, 0, m)));

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 2 });
/** Unique keys: mostly null, so most inserts succeed and the collection grows, yet keys still collide. */
const rarely = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: a });
const date = pick(DATES);

const disbursement: fc.Arbitrary<Disbursement> = fc.record({
  id: pick(['d1', 'd2']),
  kind: pick(['release', 'refund', 'payout'] as const),
  method: pick(DISBURSEMENT_METHODS),
  recipient: fc.constant('0xseller'),
  amount: fc.constant('1'),
  state: pick(FLIGHT_STATES),
  override: fc.constant(null),
  payoutId: fc.constant(null),
  evidence: orNull(pick(HASHES)),
  payload: fc.constant(null),
  createdBy: fc.constant('admin'),
  createdAt: date,
  updatedAt: date,
});

const ledger: fc.Arbitrary<EscrowLedger> = fc
  .record({
    inFlight: orNull(disbursement),
    withCredit: fc.boolean(),
    withPayer: fc.boolean(),
  })
  .map(({ inFlight, withCredit, withPayer }) => ({
    ...emptyLedger(),
    inFlight,
    credits: withCredit
      ? [
          {
            key: 'k1',
            kind: 'funding',
            reason: null,
            txHash: 'h1',
            from: null,
            to: null,
            network: 'bsc',
            token: 'USDT',
            amount: '1',
            baseUnits: null,
            blockNumber: null,
            source: 'test',
            at: DATES[0]!,
          },
        ]
      : [],
    payers: withPayer ? [{ wallet: '0xpayer', provenAt: DATES[1]!, provenAtBlock: 7, method: 'eip712' }] : [],
  }));

const claim = fc.record({
  txHash: pick(HASHES),
  from: orNull(pick(['0xf1', '0xf2'])),
  nonce: orNull(pick([1, 2])),
  source: fc.constant('test'),
  actor: fc.constant('buyer'),
  at: date,
});

/** Keys a record may leave out: the store fills their schema default (null, [], {}, 0). */
const OMITTABLE = ['transactionHash', 'externalId', 'claim', 'creditKeys', 'revision', 'metadata', 'pendingEffects'] as const;

export const paymentRecord: fc.Arbitrary<PaymentRecord> = fc
  .record({
    id: pick(PAYMENT_IDS),
    provider: mostly(COMMON_PROVIDERS, PROVIDERS),
    direction: mostly(['in'] as const, DIRECTIONS),
    status: mostly(COMMON_STATUSES, PAYMENT_STATUSES),
    escrowState: pick(ESCROW_STATES),
    purchaseRequestId: pick(REQUEST_IDS),
    sellerOfferId: orNull(pick(OFFER_IDS)),
    buyerId: pick(BUYERS),
    sellerId: orNull(pick(SELLERS)),
    amount: fc.record({ amount: pick(['1', '2.5', '10']), currency: pick(['USDT', 'BNB']) }),
    blockchain: orNull(fc.record({ network: pick(['bsc', 'eth']), token: fc.constant('USDT') })),
    transactionHash: rarely(pick(HASHES)),
    externalId: rarely(pick(EXTERNAL)),
    paymentUrl: fc.constant(null),
    payAddress: orNull(fc.constant('0xpay')),
    expiresAt: orNull(date),
    providerTaskId: orNull(pick(['t1', 't2'])),
    releaseTxHash: rarely(pick(HASHES)),
    refundTxHash: rarely(pick(HASHES)),
    liveOfferKey: rarely(pick(OFFER_IDS)),
    escrow: orNull(ledger),
    creditKeys: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.subarray(KEYS, { minLength: 1, maxLength: 2 }) }),
    fundedRequestKey: rarely(pick(REQUEST_IDS)),
    claim: orNull(claim),
    escrowPaymentId: fc.constant(null),
    revision: pick([0, 1]),
    pendingEffects: fc.subarray(EFFECTS),
    providerData: pick([{}, { received: '1' }]),
    metadata: pick([{}, { flag: true }, { n: 1, note: 'x' }]),
    history: fc.constant<PaymentRecord['history']>([]),
    createdAt: date,
    updatedAt: date,
  })
  .chain((p) =>
    fc.subarray([...OMITTABLE], { maxLength: 2 }).map((omit) => {
      const out = { ...p } as Partial<PaymentRecord>;
      for (const k of omit) delete out[k];
      return out as PaymentRecord;
    }),
  );

export const offerRecord: fc.Arbitrary<SellerOfferRecord> = fc.record({
  id: pick(OFFER_IDS),
  purchaseRequestId: pick(REQUEST_IDS),
  sellerId: pick(SELLERS),
  amount: pick(['25.5', '30']),
  currency: fc.constant('USDT'),
  walletAddress: orNull(fc.constant('0x1111')),
  status: pick(SELLER_OFFER_STATUSES),
  createdAt: date,
  updatedAt: date,
});

/** Writes both stores must refuse with `record_invalid` (and store nothing). */
const invalidRecord = (valid: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(valid, pick(['unknown path', 'status out of enum', 'empty required', 'malformed id', 'wrong type'] as const)).map(([doc, how]) => {
    switch (how) {
      case 'unknown path':
        return { ...doc, sneaky: 'x' };
      case 'status out of enum':
        return { ...doc, status: 'paid' };
      case 'empty required':
        return { ...doc, purchaseRequestId: '' };
      case 'malformed id':
        return { ...doc, id: MALFORMED_ID };
      case 'wrong type':
        return { ...doc, createdAt: 'yesterday' };
    }
  });

// ---- filters ----

const str = (xs: readonly string[]) => pick(xs);
const ins = (xs: readonly string[]) => fc.subarray([...xs], { minLength: 1 }).map((v) => ({ $in: v }));
const statusIn = fc.oneof(ins(COMMON_STATUSES), ins(PAYMENT_STATUSES));
const aProvider = mostly(COMMON_PROVIDERS, PROVIDERS);
const before = date.map((d) => ({ $lte: d }));
const party = fc.tuple(str(BUYERS), str(SELLERS)).map(([b, s]) => ({ $or: [{ buyerId: b }, { sellerId: s }] }));
/** A payment id in a filter; with `malformed`, sometimes one that is not an ObjectId. */
const idIn = (malformed: boolean) =>
  malformed ? fc.oneof({ weight: 6, arbitrary: pick(PAYMENT_IDS) }, { weight: 1, arbitrary: fc.constant(MALFORMED_ID) }) : pick(PAYMENT_IDS);

export const paymentFilter = (anId: fc.Arbitrary<string>): fc.Arbitrary<Filter> =>
  fc.oneof(
    str(HASHES).map((h) => ({ transactionHash: h })),
    str(HASHES).map((h) => ({ $or: [{ transactionHash: h }, { releaseTxHash: h }, { refundTxHash: h }] })),
    fc.record({ fundedRequestKey: str(REQUEST_IDS), direction: str(DIRECTIONS) }),
    str(KEYS).map((k) => ({ creditKeys: k })),
    fc.record({ provider: aProvider, externalId: str(EXTERNAL) }),
    fc.record({ externalId: str(EXTERNAL), direction: str(DIRECTIONS) }),
    fc.record({ providerTaskId: str(['t1', 't2']), direction: str(DIRECTIONS) }),
    str(OFFER_IDS).map((o) => ({ liveOfferKey: o })),
    fc.tuple(str(OFFER_IDS), statusIn, aProvider).map(([o, status, provider]) => ({
      $or: [{ liveOfferKey: o }, { sellerOfferId: o, status, provider: { $ne: provider } }, { sellerOfferId: o, status, provider }],
    })),
    fc.record({ provider: aProvider, purchaseRequestId: str(REQUEST_IDS), sellerOfferId: str(OFFER_IDS), status: statusIn }),
    fc.tuple(party, statusIn).map(([p, status]) => ({ ...p, status })),
    party,
    fc.tuple(party, aProvider).map(([p, provider]) => ({ provider, ...p })),
    fc.record({ provider: aProvider, status: statusIn, 'claim.txHash': fc.constant({ $type: 'string' }) }),
    fc.record({ provider: aProvider, status: statusIn, externalId: fc.constant({ $ne: null }), createdAt: before }),
    fc.record({ provider: aProvider, status: statusIn, payAddress: fc.constant({ $ne: null }), 'blockchain.network': str(['bsc', 'eth']) }),
    fc.record({ provider: aProvider, direction: str(DIRECTIONS), status: statusIn, updatedAt: before }),
    fc.record({ status: statusIn, transactionHash: fc.constant(null) }),
    fc.record({ direction: str(DIRECTIONS), status: statusIn, 'escrow.credits.0': fc.constant({ $exists: false }) }),
    fc.record({ createdAt: date.map((d) => ({ $lt: d })) }).map(({ createdAt }) => ({
      status: 'pending',
      direction: 'in',
      transactionHash: null,
      payAddress: null,
      createdAt,
      claim: null,
      'creditKeys.0': { $exists: false },
      'escrow.payers.0': { $exists: false },
    })),
    fc.record({ pendingEffects: fc.constant({ $type: 'string' }), updatedAt: before }),
    fc.record({ 'escrow.inFlight.state': str(FLIGHT_STATES), 'escrow.inFlight.method': ins(DISBURSEMENT_METHODS), updatedAt: before }),
    fc.record({ 'escrow.inFlight.method': str(DISBURSEMENT_METHODS), 'escrow.inFlight.state': str(FLIGHT_STATES) }),
    str(FLIGHT_STATES).map((s) => ({ 'escrow.inFlight.state': s })),
    fc.record({ direction: str(DIRECTIONS), escrowState: str(ESCROW_STATES) }),
    // The store contract's own shapes: null among $in, $ne null / a value, a date range, ids.
    str(EXTERNAL).map((x) => ({ externalId: { $in: [null, x] } })),
    str(BUYERS).map((b) => ({ buyerId: { $ne: b } })),
    fc.tuple(date, date).map(([a, b]) => ({ createdAt: { $gte: a, $lt: b } })),
    fc.subarray(PAYMENT_IDS, { minLength: 1 }).map((ids) => ({ id: { $in: ids } })),
    anId.map((id) => ({ id })),
    fc.constant({}),
  );

export const offerFilter: fc.Arbitrary<Filter> = fc.oneof(
  str(REQUEST_IDS).map((r) => ({ purchaseRequestId: r })),
  fc.record({ purchaseRequestId: str(REQUEST_IDS), status: str(SELLER_OFFER_STATUSES) }),
  fc.record({ purchaseRequestId: str(REQUEST_IDS), status: str(SELLER_OFFER_STATUSES), sellerId: str(SELLERS) }),
  fc.record({ purchaseRequestId: str(REQUEST_IDS), sellerId: str(SELLERS) }),
  fc.record({ purchaseRequestId: str(REQUEST_IDS), id: str(OFFER_IDS).map((o) => ({ $ne: o })), status: str(SELLER_OFFER_STATUSES) }),
  str(OFFER_IDS).map((id) => ({ id })),
  fc.constant({}),
);

/** The conditional writes of one record: its id, and what the caller read (coordinatorBase.guard, amend). */
const paymentGuard = (anId: fc.Arbitrary<string>): fc.Arbitrary<Filter> =>
  fc.oneof(
    anId.map((id) => ({ id })),
    fc.record({ id: anId, status: str(PAYMENT_STATUSES), escrowState: str(ESCROW_STATES), revision: pick([0, 1, 2, null]) }),
    anId.map((id) => ({ id, $and: [{ $or: [{ status: 'pending' }, { status: 'processing', claim: null }] }] })),
  );

// ---- updates ----

const historyEntry = fc.record({
  fromStatus: orNull(str(PAYMENT_STATUSES)),
  toStatus: str(PAYMENT_STATUSES),
  fromEscrow: orNull(str(ESCROW_STATES)),
  toEscrow: str(ESCROW_STATES),
  source: fc.constant('test'),
  actor: fc.constant('system'),
  at: date,
  reason: orNull(fc.constant('why')),
});

/** `$set` paths the services write, each with its values; the unique keys are kept apart. */
const SET_PLAIN: Record<string, fc.Arbitrary<unknown>> = {
  status: str(PAYMENT_STATUSES),
  escrowState: str(ESCROW_STATES),
  'metadata.k': pick(['v', 1, true]),
  'providerData.q': pick(['1', '2']),
  claim: orNull(claim),
  pendingEffects: fc.subarray(EFFECTS),
  escrow: ledger,
  payAddress: fc.constant('0xpay'),
};
/**
 * Paths written to one record at a time only: unique keys, and paths inside fields that may be
 * null (MongoDB refuses to create a field inside null). A MongoDB updateMany that fails on its
 * n-th record has written the ones before it; the in-process store writes none.
 */
const SET_ONE_RECORD: Record<string, fc.Arbitrary<unknown>> = {
  liveOfferKey: orNull(str(OFFER_IDS)),
  transactionHash: orNull(str(HASHES)),
  externalId: orNull(str(EXTERNAL)),
  releaseTxHash: orNull(str(HASHES)),
  fundedRequestKey: orNull(str(REQUEST_IDS)),
  'claim.from': fc.constant('0xf3'),
  'blockchain.network': str(['bsc', 'eth']),
};

function setOf(paths: Record<string, fc.Arbitrary<unknown>>) {
  return fc.subarray(Object.keys(paths), { minLength: 1, maxLength: 3 }).chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, paths[k]!]))));
}

/**
 * A payment update as the coordinator builds one: a `$set`, `$push` of a history line, a credit
 * key or an outbox step, `$pull` of a step, `$inc` of the revision, `$unset` inside Mixed fields.
 * Paths never repeat across operators (the services never send that; MongoDB refuses it).
 * `oneRecord`: the filter names one record, so `$set`/`$push` may touch SET_ONE_RECORD paths and
 * credit keys.
 */
function paymentUpdate(oneRecord: boolean): fc.Arbitrary<Update> {
  const unique = oneRecord;
  const set = setOf(oneRecord ? { ...SET_PLAIN, ...SET_ONE_RECORD } : SET_PLAIN);
  return fc
    .record(
      {
        $set: set,
        $push: unique
          ? fc.oneof(
              historyEntry.map((history) => ({ history })),
              str(KEYS).map((creditKeys) => ({ creditKeys })),
              str(EFFECTS).map((pendingEffects) => ({ pendingEffects })),
            )
          : fc.oneof(
              historyEntry.map((history) => ({ history })),
              str(EFFECTS).map((pendingEffects) => ({ pendingEffects })),
            ),
        $pull: fc.oneof(
          str(EFFECTS).map((pendingEffects) => ({ pendingEffects })),
          str(KEYS).map((creditKeys) => ({ creditKeys })),
        ),
        $inc: fc.constant({ revision: 1 }),
        $unset: pick([{ 'metadata.k': '' as const }, { 'providerData.q': '' as const }]),
      },
      { requiredKeys: [] },
    )
    .filter((u) => Object.keys(u).length > 0)
    .map((u) => withoutConflicts(u as Update));
}

/** Drops an operator whose paths another operator already writes (e.g. `$set.pendingEffects` and `$pull.pendingEffects`). */
function withoutConflicts(u: Update): Update {
  const out: Record<string, Record<string, unknown>> = {};
  const taken: string[] = [];
  const clash = (p: string) => taken.some((t) => t === p || t.startsWith(`${p}.`) || p.startsWith(`${t}.`));
  for (const [op, fields] of Object.entries(u) as [string, Record<string, unknown>][]) {
    const kept = Object.fromEntries(Object.entries(fields).filter(([p]) => !clash(p)));
    if (Object.keys(kept).length === 0) continue;
    taken.push(...Object.keys(kept));
    out[op] = kept;
  }
  return out as Update;
}

/** Updates both stores must refuse with `record_invalid`, whatever they match. */
const invalidPaymentUpdate: fc.Arbitrary<Update> = pick<Update>([
  { $set: { sneaky: 'x' } },
  { $set: { 'amount.extra': '1' } },
  { $set: { status: 'paid' } },
  { $set: { buyerId: '' } },
  { $unset: { buyerId: '' } },
  { $inc: { buyerId: 1 } },
  { $push: { history: { toStatus: 'nope' } } },
]);

const offerUpdate: fc.Arbitrary<Update> = fc.oneof(
  str(SELLER_OFFER_STATUSES).map((status) => ({ $set: { status } })),
  fc.constant({ $set: { walletAddress: null } }),
  fc.constant({ $set: { status: 'withdrawn' } }),
  fc.constant({ $set: { sellerId: '' } }),
);

const findOptions = (limitZero: boolean): fc.Arbitrary<FindOptions> =>
  fc.record(
    {
      sort: pick<FindOptions['sort']>([
        { createdAt: -1, id: -1 },
        { createdAt: 1 },
        { updatedAt: 1 },
        { 'amount.amount': 1 },
        { buyerId: -1, createdAt: 1 },
        { status: 1 },
        { sellerId: 1 },
        { id: -1 },
      ]),
      skip: fc.integer({ min: 0, max: 3 }),
      limit: fc.integer({ min: limitZero ? 0 : 1, max: 4 }),
    },
    { requiredKeys: [] },
  );

const paymentOp = (anId: fc.Arbitrary<string>, findOptions: fc.Arbitrary<FindOptions>): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: paymentRecord.map((doc) => ({ op: 'insert' as const, coll: 'payments' as const, doc: doc as unknown as Record<string, unknown> })),
    },
    { weight: 1, arbitrary: invalidRecord(paymentRecord as never).map((doc) => ({ op: 'insert' as const, coll: 'payments' as const, doc })) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('updateOne' as const),
        coll: fc.constant('payments' as const),
        filter: paymentGuard(anId),
        update: paymentUpdate(true),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('updateOne' as const),
        coll: fc.constant('payments' as const),
        filter: paymentGuard(anId),
        update: invalidPaymentUpdate,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('updateMany' as const),
        coll: fc.constant('payments' as const),
        filter: paymentGuard(anId),
        update: paymentUpdate(true),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('updateMany' as const),
        coll: fc.constant('payments' as const),
        filter: paymentFilter(anId),
        update: paymentUpdate(false),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('updateMany' as const),
        coll: fc.constant('payments' as const),
        filter: paymentFilter(anId),
        update: invalidPaymentUpdate,
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteMany' as const), coll: fc.constant('payments' as const), filter: paymentFilter(anId) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: pick(['find', 'stream'] as const),
        coll: fc.constant('payments' as const),
        filter: paymentFilter(anId),
        options: findOptions,
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: pick(['findOne', 'count'] as const), coll: fc.constant('payments' as const), filter: paymentFilter(anId) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('findById' as const), coll: fc.constant('payments' as const), id: idIn(true) }) },
  );

const offerOp = (findOptions: fc.Arbitrary<FindOptions>): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: offerRecord.map((doc) => ({ op: 'insert' as const, coll: 'sellerOffers' as const, doc: doc as unknown as Record<string, unknown> })),
    },
    { weight: 1, arbitrary: invalidRecord(offerRecord as never).map((doc) => ({ op: 'insert' as const, coll: 'sellerOffers' as const, doc })) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('updateOne' as const),
        coll: fc.constant('sellerOffers' as const),
        filter: fc.record({ id: str(OFFER_IDS), status: fc.constant('pending') }),
        update: offerUpdate,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('updateMany' as const), coll: fc.constant('sellerOffers' as const), filter: offerFilter, update: offerUpdate }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteMany' as const), coll: fc.constant('sellerOffers' as const), filter: offerFilter }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: pick(['find', 'stream'] as const), coll: fc.constant('sellerOffers' as const), filter: offerFilter, options: findOptions }),
    },
    { weight: 2, arbitrary: fc.record({ op: pick(['findOne', 'count'] as const), coll: fc.constant('sellerOffers' as const), filter: offerFilter }) },
  );

/**
 * Sequences of up to `maxLength` operations. Two switches bring in inputs on which the stores
 * are known to disagree (pinned in test/store/storeDifferential.test.ts): `malformedIdsInFilters`,
 * filters (not only `findById` and inserts) naming a payment by a malformed id; `limitZero`,
 * `limit: 0` in find options.
 */
export function operations(opts: { malformedIdsInFilters: boolean; limitZero: boolean; maxLength: number }): fc.Arbitrary<Op[]> {
  const options = findOptions(opts.limitZero);
  const op = fc.oneof({ weight: 3, arbitrary: paymentOp(idIn(opts.malformedIdsInFilters), options) }, { weight: 1, arbitrary: offerOp(options) });
  // A run opens with a batch of inserts, so the queries and updates after it have records to find.
  const opening = fc.array(
    fc.oneof({ weight: 3, arbitrary: paymentRecord.map(insertOf('payments')) }, { weight: 1, arbitrary: offerRecord.map(insertOf('sellerOffers')) }),
    { minLength: 4, maxLength: 12 },
  );
  return fc.tuple(opening, fc.array(op, { minLength: Math.min(10, opts.maxLength), maxLength: opts.maxLength })).map(([a, b]) => [...a, ...b]);
}

function insertOf(coll: CollectionKey) {
  return (doc: object): Op => ({ op: 'insert', coll, doc: doc as Record<string, unknown> });
}
