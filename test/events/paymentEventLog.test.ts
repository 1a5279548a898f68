import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { PaymentCoordinator, type CreditInput, type NewPayment } from '../../src/core/payments/paymentCoordinator.js';
import type { HistoryEntry, PaymentRecord, PaymentStatus, PendingEvent } from '../../src/core/store/records.js';
import type { Filter, Update } from '../../src/core/store/store.js';
import { AppError } from '../../src/platform/errors.js';
import { InProcessKeyedLock } from '../../src/platform/keyedLock.js';
import { payment, preparedDisbursement } from '../helpers/fixtures.js';
import { ManualClock } from '../helpers/manualClock.js';

/**
 * The invariant of the event outbox (README, "Events out"): every change of a payment's status
 * produces exactly one event of the type the table says, written in the same update as the change
 * (the payment's `pendingEvents`), and a write that is not made (refused, or lost to a race) writes
 * no event. Each path of the coordinator is driven on a real PaymentCoordinator over a MemoryStore,
 * and the events are compared with the history's status changes; no relay runs, so the outbox keeps
 * every event. A seeded random walk over the same operations checks the invariant as a whole.
 */

/** The README's table, written out here independently of src: the event announcing a move to a status, by direction. */
const STATUS_EVENT: Record<'in' | 'out', Partial<Record<PaymentStatus, string>>> = {
  in: {
    processing: 'payment.processing',
    completed: 'escrow.funded',
    released: 'escrow.released',
    refunded: 'escrow.refunded',
    failed: 'payment.failed',
    cancelled: 'payment.cancelled',
  },
  out: { completed: 'payout.completed', failed: 'payout.failed', cancelled: 'payout.failed' },
};
const CREATED = { in: 'payment.created', out: 'payout.created' } as const;
const STATUS_TYPES = new Set([...Object.values(CREATED), ...Object.values(STATUS_EVENT.in), ...Object.values(STATUS_EVENT.out)]);

/** The status events a payment's history calls for, in order: its creation, then each move the table names. */
function expectedStatusEvents(p: PaymentRecord): string[] {
  return p.history.flatMap((h) => {
    if (h.fromStatus === null) return [CREATED[p.direction]];
    if (h.fromStatus === h.toStatus) return [];
    const type = STATUS_EVENT[p.direction][h.toStatus];
    return type ? [type] : [];
  });
}

const events = (p: PaymentRecord): PendingEvent[] => p.pendingEvents ?? [];
const types = (p: PaymentRecord) => events(p).map((e) => e.type);
const statusEvents = (p: PaymentRecord) => events(p).filter((e) => STATUS_TYPES.has(e.type));

let clock: ManualClock;
let store: MemoryStore;
let coordinator: PaymentCoordinator;
/** Every payments.updateOne the coordinator made, and whether it wrote. */
let writes: Array<{ filter: Filter; update: Update; written: boolean }>;
/** Run before the next payments.updateOne (a rival's write landing between a read and the write). */
let beforeNextWrite: (() => Promise<void>) | undefined;

beforeEach(() => {
  clock = new ManualClock();
  store = new MemoryStore(clock);
  coordinator = new PaymentCoordinator(store, new InProcessKeyedLock(), clock);
  writes = [];
  beforeNextWrite = undefined;
  const original = store.payments.updateOne.bind(store.payments);
  store.payments.updateOne = async (...args: Parameters<typeof original>) => {
    const [filter, update] = args;
    const rival = beforeNextWrite;
    beforeNextWrite = undefined;
    await rival?.();
    const written = await original(...args);
    writes.push({ filter, update, written: written !== null });
    return written;
  };
});

const RECEIVER = '0x00000000000000000000000000000000000e5c40';
const PAYER = '0x1111111111111111111111111111111111111111';
let txCount = 0;
const transfer = (amount: string): CreditInput => ({
  txHash: `0x${(++txCount).toString(16).padStart(64, '0')}`,
  from: PAYER,
  to: RECEIVER,
  network: 'bsc',
  token: 'USDT',
  amount,
  baseUnits: null,
  blockNumber: null,
});
const step = { source: 'test', actor: 'tester' };
const claimOf = (txHash: string) => ({ txHash, from: null, nonce: null, source: 'api', actor: 'buyer-1' });
const creditStep = { ...step, completionEffects: [] };

/** A new payment through the coordinator (price 25.5 USDT). */
async function created(direction: 'in' | 'out' = 'in'): Promise<PaymentRecord> {
  const { history: _h, createdAt: _c, updatedAt: _u, escrow: _e, creditKeys: _k, fundedRequestKey: _f, pendingEffects: _p, ...fields } = payment({ direction });
  clock.advance(1_000);
  return coordinator.create(fields as NewPayment, 'api', 'buyer-1');
}

const current = async (id: string) => (await store.payments.findById(id))!;

/** A funded escrow (one full credit) and its state after. */
async function funded(): Promise<PaymentRecord> {
  const p = await created();
  clock.advance(1_000);
  return (await coordinator.credit(p.id, transfer('25.5'), creditStep)).payment;
}

async function openRelease(id: string, kind: 'release' | 'refund' = 'release', dId = 'd-1') {
  clock.advance(1_000);
  return coordinator.openDisbursement(id, preparedDisbursement(kind, { recipient: PAYER, createdBy: 'admin-1' }, { id: dId }), step);
}

/**
 * The invariant on one payment as stored: the status events are exactly those its history calls
 * for, in order, each stamped with its history line's time and carrying the status it announces.
 */
async function expectInvariant(id: string): Promise<PaymentRecord> {
  const p = await current(id);
  expect(statusEvents(p).map((e) => e.type)).toEqual(expectedStatusEvents(p));
  const changes = p.history.filter((h) => h.fromStatus !== h.toStatus && (h.fromStatus === null || STATUS_EVENT[p.direction][h.toStatus]));
  statusEvents(p).forEach((e, i) => {
    const h = changes[i]!;
    expect(e.at, e.type).toEqual(h.at);
    expect(e.data.payment, e.type).toMatchObject({ id: p.id, direction: p.direction, status: h.toStatus });
    if (h.fromStatus !== null) expect(e.data.previousStatus, e.type).toBe(h.fromStatus);
  });
  expect(new Set(events(p).map((e) => e.id)).size, 'event ids are unique').toBe(events(p).length);
  for (const e of events(p)) expect(e.id).toMatch(/^[0-9a-f]{24}$/);
  return p;
}

/**
 * Same update: every write that was made pushed, with it, the status event its own history line
 * calls for (none when it moved no status), and a write that was not made wrote nothing.
 */
async function expectEventsInTheirWrite() {
  for (const w of writes.filter((x) => x.written)) {
    const { direction } = await current(w.filter.id as string);
    const pushed = ((w.update.$push?.pendingEvents as { $each: PendingEvent[] } | undefined)?.$each ?? []).map((e) => e.type);
    const line = w.update.$push?.history as HistoryEntry | undefined;
    const moved = line && line.fromStatus !== line.toStatus ? STATUS_EVENT[direction][line.toStatus] : undefined;
    expect(
      pushed.filter((t) => STATUS_TYPES.has(t)),
      JSON.stringify(w.update.$set?.status),
    ).toEqual(moved ? [moved] : []);
  }
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('creation', () => {
  it.each([
    ['in', 'payment.created'],
    ['out', 'payout.created'],
  ] as const)('a %s payment is created with one %s event, in the insert itself', async (direction, type) => {
    const p = await created(direction);
    expect(types(p)).toEqual([type]);
    expect(types(await current(p.id))).toEqual([type]);
    expect(events(p)[0]).toMatchObject({ at: p.createdAt, data: { payment: { id: p.id, status: 'pending', direction } } });
    await expectInvariant(p.id);
  });
});

describe('money arriving', () => {
  it('a short credit moves pending → processing with one payment.processing; a second short one moves nothing and adds none', async () => {
    const p = await created();
    clock.advance(1_000);
    const short = await coordinator.credit(p.id, transfer('10'), creditStep);
    expect(short.payment.status).toBe('processing');
    expect(types(short.payment)).toEqual(['payment.created', 'payment.processing']);
    expect(events(short.payment)[1]!.data).toMatchObject({ previousStatus: 'pending', payment: { status: 'processing', received: '10' } });
    clock.advance(1_000);
    const again = await coordinator.credit(p.id, transfer('5'), creditStep);
    expect(again.payment.status).toBe('processing');
    expect(types(again.payment)).toEqual(['payment.created', 'payment.processing']);
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });

  it('the credit that completes the price funds the escrow with one escrow.funded, from processing or from pending', async () => {
    const p = await created();
    clock.advance(1_000);
    await coordinator.credit(p.id, transfer('10'), creditStep);
    clock.advance(1_000);
    const full = await coordinator.credit(p.id, transfer('15.5'), creditStep);
    expect(full.payment).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(types(full.payment)).toEqual(['payment.created', 'payment.processing', 'escrow.funded']);
    expect(events(full.payment)[2]!.data).toMatchObject({ previousStatus: 'processing', payment: { escrowState: 'funded', received: '25.5' } });

    const direct = await funded();
    expect(types(direct)).toEqual(['payment.created', 'escrow.funded']);
    await expectInvariant(p.id);
    await expectInvariant(direct.id);
    await expectEventsInTheirWrite();
  });

  it('money after funding is one escrow.excess_received with the credit, and no status event', async () => {
    const p = await funded();
    clock.advance(1_000);
    const excess = await coordinator.credit(p.id, transfer('3'), creditStep);
    expect(excess.outcome).toBe('excess');
    expect(types(excess.payment)).toEqual(['payment.created', 'escrow.funded', 'escrow.excess_received']);
    expect(events(excess.payment)[2]!.data).toMatchObject({
      payment: { status: 'completed', received: '28.5' },
      credit: { amount: '3', kind: 'excess', reason: 'second_payment', from: PAYER },
    });
    // The same transfer again is already credited: nothing is written.
    const dup = await coordinator.credit(p.id, { ...transfer('3'), txHash: excess.payment.escrow!.credits.at(-1)!.txHash }, creditStep);
    expect(dup.outcome).toBe('already_credited');
    expect(types(await current(p.id))).toHaveLength(3);
    await expectInvariant(p.id);
  });

  it('money after cancellation is one escrow.excess_received (late_payment) and the status stays', async () => {
    const p = await created();
    clock.advance(1_000);
    await coordinator.transition(p.id, { to: 'cancelled', ...step });
    clock.advance(1_000);
    const late = await coordinator.credit(p.id, transfer('25.5'), creditStep);
    expect(late.payment.status).toBe('cancelled');
    expect(types(late.payment)).toEqual(['payment.created', 'payment.cancelled', 'escrow.excess_received']);
    expect(events(late.payment)[2]!.data).toMatchObject({ credit: { kind: 'excess', reason: 'late_payment' } });
    await expectInvariant(p.id);
  });

  it('a transfer already credited to another payment is refused and writes no event there', async () => {
    const [a, b] = [await created(), await created()];
    const t = transfer('25.5');
    await coordinator.credit(a.id, t, creditStep);
    const before = await current(b.id);
    await refusal(coordinator.credit(b.id, t, creditStep));
    expect(await current(b.id)).toEqual(before);
    await expectInvariant(a.id);
  });
});

describe('plain transitions', () => {
  it.each([
    ['pending', 'cancelled', 'payment.cancelled'],
    ['pending', 'failed', 'payment.failed'],
    ['processing', 'cancelled', 'payment.cancelled'],
    ['processing', 'failed', 'payment.failed'],
  ] as const)('%s → %s writes one %s', async (from, to, type) => {
    const p = await created();
    if (from === 'processing') {
      clock.advance(1_000);
      await coordinator.transition(p.id, { to: 'processing', ...step });
    }
    clock.advance(1_000);
    const res = await coordinator.transition(p.id, { to, ...step, reason: 'because' });
    expect(res.changed).toBe(true);
    expect(types(res.payment).at(-1)).toBe(type);
    expect(events(res.payment).at(-1)!.data).toMatchObject({ previousStatus: from, payment: { status: to } });
    // The same move again is a success that writes nothing: no second event.
    const again = await coordinator.transition(p.id, { to, ...step });
    expect(again.changed).toBe(false);
    expect(types(await current(p.id)).filter((t) => t === type)).toHaveLength(1);
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });

  it('a reorg (clearClaim: processing → pending) is a status change with no event', async () => {
    const p = await created();
    const hash = `0x${'ab'.repeat(32)}`;
    clock.advance(1_000);
    await coordinator.transition(p.id, { to: 'processing', ...step, set: { claim: claimOf(hash) } });
    clock.advance(1_000);
    const back = await coordinator.clearClaim(p.id, hash, { source: 'chain_verification', reason: 'reorg' });
    expect(back.status).toBe('pending');
    expect(back.history.at(-1)).toMatchObject({ fromStatus: 'processing', toStatus: 'pending' });
    expect(types(back)).toEqual(['payment.created', 'payment.processing']);
    // Processing again is announced again.
    clock.advance(1_000);
    await coordinator.transition(p.id, { to: 'processing', ...step });
    expect(types(await current(p.id))).toEqual(['payment.created', 'payment.processing', 'payment.processing']);
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });

  it('refused moves write nothing, so no event: invalid, evidence-only, a failed condition', async () => {
    const p = await created();
    const before = await current(p.id);
    expect((await refusal(coordinator.transition(p.id, { to: 'released', ...step }))).code).toBe('invalid_transition');
    expect((await refusal(coordinator.transition(p.id, { to: 'completed', ...step }))).code).toBe('evidence_required');
    expect((await refusal(coordinator.transition(p.id, { to: 'failed', ...step, where: { transactionHash: '0xother' } }))).code).toBe('precondition_failed');
    expect((await refusal(openRelease(p.id))).code).toBe('escrow_not_funded');
    expect(await current(p.id)).toEqual(before);
  });

  it('a write that loses its race writes no event; the retry on the record as it is now writes exactly one', async () => {
    const p = await created();
    // A rival's write lands between the coordinator's read and its write.
    beforeNextWrite = async () => void (await store.payments.updateOne({ id: p.id }, { $inc: { revision: 1 } }));
    clock.advance(1_000);
    const res = await coordinator.transition(p.id, { to: 'cancelled', ...step });
    expect(res.changed).toBe(true);
    const lost = writes.filter((w) => !w.written);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.update.$push?.pendingEvents).toBeDefined(); // the lost write carried its event, and it went nowhere
    expect(types(await current(p.id))).toEqual(['payment.created', 'payment.cancelled']);
    await expectInvariant(p.id);
  });

  it('of two racing moves to closed states, only the winner is announced', async () => {
    const p = await created();
    clock.advance(1_000);
    const results = await Promise.allSettled([
      coordinator.transition(p.id, { to: 'cancelled', ...step }),
      coordinator.transition(p.id, { to: 'failed', ...step }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const after = await expectInvariant(p.id);
    expect(types(after)).toEqual(['payment.created', after.status === 'cancelled' ? 'payment.cancelled' : 'payment.failed']);
  });
});

describe('money leaving', () => {
  it.each([
    ['release', 'released', 'escrow.released'],
    ['refund', 'refunded', 'escrow.refunded'],
  ] as const)('opening a %s announces nothing; settling it is one event with data.disbursement', async (kind, status, type) => {
    const p = await funded();
    const opened = await openRelease(p.id, kind);
    expect(types(opened)).toEqual(['payment.created', 'escrow.funded']);
    clock.advance(1_000);
    const evidence = `0x${'e'.repeat(64)}`;
    const settled = await coordinator.settleDisbursement(p.id, 'd-1', { ...step, evidence, effects: [] });
    expect(settled.payment.status).toBe(status);
    expect(types(settled.payment)).toEqual(['payment.created', 'escrow.funded', type]);
    expect(events(settled.payment)[2]!.data).toMatchObject({
      previousStatus: 'completed',
      payment: { status, escrowState: status },
      disbursement: { id: 'd-1', kind, state: 'settled', amount: '25.5', recipient: PAYER, evidence },
    });
    // The same evidence again changes nothing.
    expect((await coordinator.settleDisbursement(p.id, 'd-1', { ...step, evidence, effects: [] })).changed).toBe(false);
    expect(types(await current(p.id))).toHaveLength(3);
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });

  it('a disbursement becoming in_doubt is one disbursement.in_doubt each time it becomes so, and no status event', async () => {
    const p = await funded();
    await openRelease(p.id);
    clock.advance(1_000);
    const doubt = await coordinator.moveDisbursement(p.id, 'd-1', 'in_doubt', { ...step, reason: 'timeout' });
    expect(doubt.changed).toBe(true);
    expect(types(doubt.payment)).toEqual(['payment.created', 'escrow.funded', 'disbursement.in_doubt']);
    expect(events(doubt.payment)[2]!.data).toMatchObject({ payment: { status: 'completed' }, disbursement: { id: 'd-1', kind: 'release', state: 'in_doubt' } });
    // in_doubt again: a no-op, no event.
    expect((await coordinator.moveDisbursement(p.id, 'd-1', 'in_doubt', step)).changed).toBe(false);
    clock.advance(1_000);
    await coordinator.moveDisbursement(p.id, 'd-1', 'submitted', step);
    clock.advance(1_000);
    await coordinator.moveDisbursement(p.id, 'd-1', 'in_doubt', step);
    clock.advance(1_000);
    await coordinator.moveDisbursement(p.id, 'd-1', 'failed', step);
    expect(types(await current(p.id))).toEqual(['payment.created', 'escrow.funded', 'disbursement.in_doubt', 'disbursement.in_doubt']);
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });

  it('a refused disbursement move writes no event', async () => {
    const p = await funded();
    await openRelease(p.id);
    const before = await current(p.id);
    expect((await refusal(coordinator.moveDisbursement(p.id, 'nope', 'in_doubt', step))).code).toBe('disbursement_not_in_flight');
    expect((await refusal(openRelease(p.id, 'refund', 'd-2'))).code).toBe('disbursement_in_flight');
    expect(await current(p.id)).toEqual(before);
  });
});

describe('attention', () => {
  it('flagForAdmin is one payment.attention_required with data.reason, once per reason however often it is raised', async () => {
    const p = await funded();
    clock.advance(1_000);
    const flagged = await coordinator.flagForAdmin(p.id, { reason: 'request_cancelled_with_funded_escrow', ...step });
    expect(types(flagged)).toEqual(['payment.created', 'escrow.funded', 'payment.attention_required']);
    expect(events(flagged)[2]!.data).toMatchObject({ reason: 'request_cancelled_with_funded_escrow', payment: { status: 'completed' } });
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      await coordinator.flagForAdmin(p.id, { reason: 'request_cancelled_with_funded_escrow', ...step });
    }
    expect(types(await current(p.id))).toHaveLength(3);
    await coordinator.flagForAdmin(p.id, { reason: 'another_reason', ...step });
    expect(types(await current(p.id)).filter((t) => t === 'payment.attention_required')).toHaveLength(2);
    await expectInvariant(p.id);
  });

  it('two concurrent flags of one reason are announced once', async () => {
    const p = await created();
    await Promise.all([1, 2, 3].map(() => coordinator.flagForAdmin(p.id, { reason: 'request_cancelled_while_processing', ...step })));
    expect(types(await current(p.id)).filter((t) => t === 'payment.attention_required')).toHaveLength(1);
  });
});

describe('outbound payouts', () => {
  it.each([
    ['completed', 'payout.completed'],
    ['failed', 'payout.failed'],
    ['cancelled', 'payout.failed'],
  ] as const)('processing announces nothing; %s is one %s', async (to, type) => {
    const p = await created('out');
    clock.advance(1_000);
    const processing = await coordinator.transition(p.id, { to: 'processing', ...step });
    expect(types(processing.payment)).toEqual(['payout.created']);
    clock.advance(1_000);
    const done = await coordinator.transition(p.id, { to, ...step });
    expect(types(done.payment)).toEqual(['payout.created', type]);
    expect(events(done.payment)[1]!.data).toMatchObject({ previousStatus: 'processing', payment: { direction: 'out', status: to } });
    await expectInvariant(p.id);
    await expectEventsInTheirWrite();
  });
});

describe('any sequence of operations', () => {
  /** A small deterministic generator, so a failure replays. */
  function random(seed: number) {
    let s = seed;
    return (n: number) => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  }

  type Op = (id: string, pick: (n: number) => number) => Promise<unknown>;
  const ops: Record<string, Op> = {
    shortCredit: (id, pick) => coordinator.credit(id, transfer(['1', '5', '10'][pick(3)]!), creditStep),
    fullCredit: (id) => coordinator.credit(id, transfer('25.5'), creditStep),
    processing: (id) => coordinator.transition(id, { to: 'processing', ...step }),
    claimProcessing: async (id) => {
      const p = await current(id);
      return coordinator.transition(id, { to: 'processing', ...step, set: { claim: claimOf(`0x${p.id.padStart(64, '0')}`) } });
    },
    reorg: async (id) => coordinator.clearClaim(id, `0x${id.padStart(64, '0')}`, { source: 'chain', reason: 'reorg' }),
    pending: (id) => coordinator.transition(id, { to: 'pending', ...step }),
    cancel: (id) => coordinator.transition(id, { to: 'cancelled', ...step }),
    fail: (id) => coordinator.transition(id, { to: 'failed', ...step }),
    complete: (id) => coordinator.transition(id, { to: 'completed', ...step }),
    open: async (id, pick) => {
      const p = await current(id);
      const n = p.history.length;
      return coordinator.openDisbursement(
        id,
        preparedDisbursement(pick(2) ? 'refund' : 'release', { recipient: PAYER, createdBy: 'admin' }, { id: `d-${n}`, amount: '25.5' }),
        step,
      );
    },
    doubt: async (id) => {
      const d = (await current(id)).escrow?.inFlight;
      return coordinator.moveDisbursement(id, d?.id ?? 'none', 'in_doubt', step);
    },
    submit: async (id) => {
      const d = (await current(id)).escrow?.inFlight;
      return coordinator.moveDisbursement(id, d?.id ?? 'none', 'submitted', step);
    },
    failDisbursement: async (id) => {
      const d = (await current(id)).escrow?.inFlight;
      return coordinator.moveDisbursement(id, d?.id ?? 'none', 'failed', step);
    },
    settle: async (id) => {
      const d = (await current(id)).escrow?.inFlight;
      return coordinator.settleDisbursement(id, d?.id ?? 'none', { ...step, evidence: `0x${'f'.repeat(64)}`, effects: [] });
    },
    flag: (id, pick) => coordinator.flagForAdmin(id, { reason: ['a', 'b'][pick(2)]!, ...step }),
  };
  // Weighted so that sequences reach the escrow's later states before a cancel or a failure ends them.
  const names = [...Object.keys(ops), 'fullCredit', 'fullCredit', 'open', 'open', 'settle', 'settle', 'doubt', 'shortCredit', 'claimProcessing', 'reorg'];

  it.each(Array.from({ length: 30 }, (_, i) => i + 1))('seed %i: the status events equal the history status changes mapped through the table', async (seed) => {
    const pick = random(seed);
    const ps = [await created('in'), await created('in'), await created('out')];
    let applied = 0;
    for (let i = 0; i < 25; i++) {
      const p = ps[pick(ps.length)]!;
      const name = names[pick(names.length)]!;
      clock.advance(1 + pick(2_000));
      try {
        await ops[name]!(p.id, pick);
        applied++;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
      }
    }
    expect(applied).toBeGreaterThan(0);
    for (const p of ps) {
      const after = await expectInvariant(p.id);
      // As multisets too (the order check above is stricter; this states the property as the README does).
      const count = (xs: string[]) => [...xs].sort();
      expect(count(statusEvents(after).map((e) => e.type))).toEqual(count(expectedStatusEvents(after)));
      // Every credit beyond the price (an excess credit, or a funding credit that overpaid), and every flag, has its one event.
      const excess = after.escrow?.credits.filter((c) => c.kind === 'excess' || c.reason === 'overpaid').length ?? 0;
      expect(types(after).filter((t) => t === 'escrow.excess_received')).toHaveLength(excess);
      expect(types(after).filter((t) => t === 'payment.attention_required')).toHaveLength(after.attention?.length ?? 0);
    }
    await expectEventsInTheirWrite();
  });
});
