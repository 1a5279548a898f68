import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { newObjectId } from '../../src/platform/ids.js';
import { InProcessKeyedLock } from '../../src/platform/keyedLock.js';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import { PaymentCoordinator, type CreditInput } from '../../src/core/payments/paymentCoordinator.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { PAYMENT_STATUSES, type EscrowState, type PaymentRecord, type PaymentStatus } from '../../src/core/store/records.js';
import { payment, preparedDisbursement } from '../helpers/fixtures.js';

/** The coordinator is the only writer of payment state, so every rule of the state machine is checked here. */

async function expectAppError(p: Promise<unknown>, kind: string, code: string): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the call to reject').toBeInstanceOf(AppError);
  expect(err).toMatchObject({ kind, code });
  return err as AppError;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The state machine as the product defines it, written out independently of the table in src. */
const ALLOWED: [PaymentStatus, PaymentStatus][] = [
  ['pending', 'processing'],
  ['pending', 'completed'],
  ['pending', 'failed'],
  ['pending', 'cancelled'],
  // A reorg: the transfer that was seen is no longer on the chain (issue 10).
  ['processing', 'pending'],
  ['processing', 'completed'],
  ['processing', 'failed'],
  ['processing', 'cancelled'],
  ['completed', 'released'],
  ['completed', 'refunded'],
];
/** Targets that move money (issue 10): an inbound payment reaches them only on evidence (`credit`, a settled disbursement). */
const MONEY_TARGETS: PaymentStatus[] = ['completed', 'released', 'refunded'];
const PLAIN = ALLOWED.filter(([, to]) => !MONEY_TARGETS.includes(to));
const MONEY = ALLOWED.filter(([, to]) => MONEY_TARGETS.includes(to));
const isAllowed = (from: PaymentStatus, to: PaymentStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const FORBIDDEN = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.filter((to) => to !== from && !isAllowed(from, to)).map((to) => [from, to] as const));
/** Where an inbound payment's escrow stands in each status. */
const ESCROW_IN: Record<PaymentStatus, EscrowState> = {
  pending: 'unfunded',
  processing: 'unfunded',
  failed: 'unfunded',
  cancelled: 'unfunded',
  completed: 'funded',
  released: 'released',
  refunded: 'refunded',
};

let now: Date;
const clock: Clock = { now: () => now };
const tick = () => (now = new Date(now.getTime() + 1000));
let store: MemoryStore;
let coordinator: PaymentCoordinator;

beforeEach(() => {
  now = new Date('2025-03-01T10:00:00Z');
  store = new MemoryStore(clock);
  coordinator = new PaymentCoordinator(store, new InProcessKeyedLock(), clock);
});

/** A payment placed directly in a given state, bypassing the coordinator. */
async function seeded(over: Partial<PaymentRecord> = {}): Promise<PaymentRecord> {
  const p = payment({ createdAt: now, updatedAt: now, ...over });
  await store.payments.insertOne(p);
  return p;
}

const RECEIVER = '0x00000000000000000000000000000000000e5c40';
const PAYER = '0x1111111111111111111111111111111111111111';
let txCount = 0;
/** A proven transfer of `amount` to the escrow receiver, as the inflow paths hand it to `credit`. */
const transfer = (amount = '25.5', over: Partial<CreditInput> = {}): CreditInput => ({
  txHash: `0x${(++txCount).toString(16).padStart(64, '0')}`,
  from: PAYER,
  to: RECEIVER,
  network: 'bsc',
  token: 'USDT',
  amount,
  baseUnits: null,
  blockNumber: null,
  ...over,
});
const creditStep = (actor = 'test') => ({ source: 'test', actor, completionEffects: [] });

const req = (to: PaymentStatus, extra: Partial<Parameters<PaymentCoordinator['transition']>[1]> = {}) => ({
  to,
  source: 'test',
  actor: 'admin-1',
  ...extra,
});

describe('create', () => {
  it('writes the record with an initial history entry stamped now', async () => {
    const { history: _h, createdAt: _c, updatedAt: _u, ...fields } = payment();
    const created = await coordinator.create(fields, 'api', 'buyer-1');
    const entry = { fromStatus: null, toStatus: 'pending', fromEscrow: null, toEscrow: 'unfunded', source: 'api', actor: 'buyer-1', at: now, reason: null };
    expect(created.history).toEqual([entry]);
    expect(created.createdAt).toEqual(now);
    expect(created.updatedAt).toEqual(now);
    expect(await store.payments.findById(fields.id)).toEqual(created);
  });
});

describe('transitions', () => {
  // `transition` carries no money now (issue 10), and writes only provider facts with the status (was: any field).
  it.each(PLAIN)('%s → %s succeeds and records who, why and from where', async (from, to) => {
    const p = await seeded({ status: from, escrowState: ESCROW_IN[from] });
    tick();
    const res = await coordinator.transition(p.id, req(to, { reason: 'because', set: { providerData: { note: 'x' } } }));
    expect(res.changed).toBe(true);
    expect(res.payment).toMatchObject({ status: to, escrowState: ESCROW_IN[to], providerData: { note: 'x' }, updatedAt: now });
    expect(res.payment.history).toEqual([
      { fromStatus: from, toStatus: to, fromEscrow: ESCROW_IN[from], toEscrow: ESCROW_IN[to], source: 'test', actor: 'admin-1', at: now, reason: 'because' },
    ]);
    expect(await store.payments.findById(p.id)).toEqual(res.payment);
  });

  // Was: an inbound payment reached these by a plain transition. Only evidence moves money now (issue 10).
  it.each(MONEY)('%s → %s is refused for an inbound payment (evidence_required) and nothing is written', async (from, to) => {
    const p = await seeded({ status: from, escrowState: ESCROW_IN[from] });
    await expectAppError(coordinator.transition(p.id, req(to)), 'invalid_state', 'evidence_required');
    expect(await store.payments.findById(p.id)).toEqual(p);
  });

  it.each(FORBIDDEN)('%s → %s is refused and nothing is written', async (from, to) => {
    const p = await seeded({ status: from, escrowState: ESCROW_IN[from] });
    const err = await expectAppError(coordinator.transition(p.id, req(to)), 'invalid_state', 'invalid_transition');
    expect(err.details).toMatchObject({ from, to });
    expect(await store.payments.findById(p.id)).toEqual(p);
  });

  it('re-applying the transition just made is a success that writes nothing', async () => {
    const p = await seeded();
    await coordinator.transition(p.id, req('processing'));
    const before = await store.payments.findById(p.id);
    tick();
    const again = await coordinator.transition(p.id, req('processing', { set: { providerData: { late: true } } }));
    expect(again.changed).toBe(false);
    expect(again.payment).toEqual(before);
    expect(await store.payments.findById(p.id)).toEqual(before);
    expect(before!.history).toHaveLength(1);
  });

  it('an unknown payment is not_found', async () => {
    await expectAppError(coordinator.transition(newObjectId(), req('completed')), 'not_found', 'payment_not_found');
  });
});

describe('escrow', () => {
  // Was: plain transitions to completed and released. Now a credit funds it and a settled disbursement lets it go (issue 10).
  it('funds an inbound payment when a credit completes it and lets it go once', async () => {
    const p = await seeded();
    expect((await coordinator.credit(p.id, transfer(), creditStep())).payment.escrowState).toBe('funded');
    await expectAppError(coordinator.transition(p.id, req('released')), 'invalid_state', 'evidence_required');
    await coordinator.openDisbursement(p.id, preparedDisbursement('release', { recipient: PAYER, createdBy: 'admin-1' }, { id: 'd-1' }), {
      source: 'test',
      actor: 'admin-1',
    });
    const released = await coordinator.settleDisbursement(p.id, 'd-1', { source: 'test', actor: 'chain', evidence: `0x${'e'.repeat(64)}`, effects: [] });
    expect(released.payment).toMatchObject({ status: 'released', escrowState: 'released' });
    await expectAppError(coordinator.transition(p.id, req('refunded')), 'invalid_state', 'invalid_transition');
    expect(ledgerProblems(released.payment)).toEqual([]);
  });

  it.each(['released', 'refunded'] as const)('refuses %s while the escrow is not funded', async (to) => {
    for (const escrowState of ['unfunded', 'released', 'refunded'] as const) {
      const p = await seeded({ status: 'completed', escrowState });
      await expectAppError(coordinator.transition(p.id, req(to)), 'invalid_state', 'invalid_transition');
      expect(await store.payments.findById(p.id)).toEqual(p);
    }
  });

  it('an outbound payment keeps its escrow state through every move', async () => {
    const p = await seeded({ direction: 'out', escrowState: 'unfunded' });
    const done = await coordinator.transition(p.id, req('completed'));
    expect(done.payment.escrowState).toBe('unfunded');
    const released = await coordinator.transition(p.id, req('released'));
    expect(released.payment.escrowState).toBe('unfunded');
    expect(released.payment.history.map((h) => [h.toStatus, h.toEscrow])).toEqual([
      ['completed', 'unfunded'],
      ['released', 'unfunded'],
    ]);
  });
});

describe('conditions and races', () => {
  it('a where-condition that no longer holds is precondition_failed and writes nothing', async () => {
    // (Was completed: a money target is no plain transition any more, issue 10.)
    const p = await seeded({ transactionHash: '0xabc' });
    await expectAppError(coordinator.transition(p.id, req('failed', { where: { transactionHash: '0xother' } })), 'conflict', 'precondition_failed');
    expect(await store.payments.findById(p.id)).toEqual(p);
    const ok = await coordinator.transition(p.id, req('failed', { where: { transactionHash: '0xabc' } }));
    expect(ok.changed).toBe(true);
  });

  // Was: 50 plain transitions to completed. A payment completes by a credit now (issue 10); the same transfer credited 50 times writes once.
  it('when 50 writers credit the same transfer to one payment at once, exactly one writes', async () => {
    const p = await seeded();
    const t = transfer();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => coordinator.credit(p.id, t, creditStep(`w${i}`))));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(results.filter((r) => !r.changed).every((r) => r.outcome === 'already_credited')).toBe(true);
    const final = await store.payments.findById(p.id);
    expect(final).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: t.txHash });
    expect(final!.history.filter((h) => h.toStatus === 'completed')).toHaveLength(1);
    expect(final!.history).toHaveLength(1);
    expect(final!.escrow).toMatchObject({ received: '25.5' });
    expect(ledgerProblems(final!)).toEqual([]);
  });

  // Was: completed vs cancelled transitions. A credit that loses to a cancellation is not refused now: the money is recorded as excess (issue 10).
  it('when a credit and a cancellation race, one wins; the money is recorded either way', async () => {
    const p = await seeded();
    const t = transfer();
    const kinds = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'credit' : 'cancel'));
    const settled = await Promise.allSettled(
      kinds.map((k) => (k === 'credit' ? coordinator.credit(p.id, t, creditStep()) : coordinator.transition(p.id, req('cancelled')))),
    );
    const final = (await store.payments.findById(p.id))!;
    expect(['completed', 'cancelled']).toContain(final.status);
    expect(final.history).toHaveLength(1);
    expect(final.escrow).toMatchObject({ received: '25.5' });
    expect(final.creditKeys).toHaveLength(1);
    expect(ledgerProblems(final)).toEqual([]);
    let winners = 0;
    settled.forEach((s, i) => {
      if (kinds[i] === 'cancel' && final.status === 'completed') {
        expect(s.status).toBe('rejected');
        expect((s as PromiseRejectedResult).reason).toMatchObject({ kind: 'invalid_state' });
        return;
      }
      expect(s.status).toBe('fulfilled');
      const v = (s as PromiseFulfilledResult<{ changed: boolean; outcome?: string; payment: PaymentRecord }>).value;
      if (kinds[i] === (final.status === 'completed' ? 'credit' : 'cancel') && v.changed) winners++;
    });
    expect(winners).toBe(1);
    if (final.status === 'cancelled') expect(final.escrow?.credits).toMatchObject([{ kind: 'excess', reason: 'late_payment' }]);
    else expect(final.transactionHash).toBe(t.txHash);
  });
});

describe('withPaymentLock', () => {
  it('runs critical sections of one payment one at a time, in arrival order', async () => {
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        coordinator.withPaymentLock('p1', async () => {
          most = Math.max(most, ++inside);
          await sleep(5);
          order.push(i);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('lets different payments proceed at the same time', async () => {
    let releaseA!: (v: string) => void;
    const a = coordinator.withPaymentLock(
      'p1',
      // Only a section running concurrently for another key can release this one.
      () =>
        new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('serialised'), 2000);
          releaseA = (v) => {
            clearTimeout(timer);
            resolve(v);
          };
        }),
    );
    const b = coordinator.withPaymentLock('p2', async () => {
      releaseA('a');
      return 'b';
    });
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
  });

  it('passes the result through, and a failing section frees the lock with its own error', async () => {
    const boom = new Error('boom');
    await expect(coordinator.withPaymentLock('p1', async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(await coordinator.withPaymentLock('p1', async () => 42)).toBe(42);
  });

  it('gives up with lock_timeout when the payment stays busy', async () => {
    const busy = new PaymentCoordinator(store, new InProcessKeyedLock({ timeoutMs: 20 }), clock);
    const holder = busy.withPaymentLock('p1', () => sleep(150));
    await expectAppError(
      busy.withPaymentLock('p1', async () => 'never'),
      'unavailable',
      'lock_timeout',
    );
    await holder;
  });
});

// `patch(anyField)` is gone (issue 10): non-state fields are written by named operations, each under a condition.
describe('named writes of non-state fields', () => {
  it('amend and recordClaim write under a condition, bumping updatedAt but not history', async () => {
    const p = await seeded({ metadata: { keep: 1 } });
    tick();
    await coordinator.amend(p.id, { metadata: { note: 'n' } }, { status: 'pending' });
    const claimed = await coordinator.recordClaim(p.id, { txHash: '0x1', from: null, nonce: null, source: 'api', actor: 'buyer-1' });
    expect(claimed).toMatchObject({
      status: 'pending',
      transactionHash: null,
      claim: { txHash: '0x1', at: now },
      metadata: { keep: 1, note: 'n' },
      updatedAt: now,
      history: [],
    });
    expect(await store.payments.findById(p.id)).toEqual(claimed);
  });

  it('is precondition_failed when the condition no longer holds, and a claim is refused once the payment is settled', async () => {
    const p = await seeded({ status: 'completed', escrowState: 'funded' });
    await expectAppError(coordinator.amend(p.id, { metadata: { x: 1 } }, { status: 'pending' }), 'conflict', 'precondition_failed');
    await expectAppError(
      coordinator.recordClaim(p.id, { txHash: '0x1', from: null, nonce: null, source: 'api', actor: 'buyer-1' }),
      'invalid_state',
      'payment_not_open',
    );
    expect(await store.payments.findById(p.id)).toEqual(p);
  });

  it('is not_found for an unknown payment', async () => {
    await expectAppError(coordinator.amend(newObjectId(), { metadata: { x: 1 } }), 'not_found', 'payment_not_found');
    await expectAppError(
      coordinator.recordClaim(newObjectId(), { txHash: '0x1', from: null, nonce: null, source: 'api', actor: 'x' }),
      'not_found',
      'payment_not_found',
    );
  });

  it('a claim reserves nothing, but a transfer credited to one payment is refused to another (conflict)', async () => {
    const a = await seeded();
    const b = await seeded({ purchaseRequestId: newObjectId() });
    const t = transfer();
    await coordinator.recordClaim(a.id, { txHash: t.txHash, from: null, nonce: null, source: 'api', actor: 'x' });
    await coordinator.recordClaim(b.id, { txHash: t.txHash, from: null, nonce: null, source: 'api', actor: 'y' });
    await coordinator.credit(a.id, t, creditStep());
    await expectAppError(coordinator.credit(b.id, t, creditStep()), 'conflict', 'transfer_already_credited');
    expect(await store.payments.findById(b.id)).toMatchObject({ status: 'pending', transactionHash: null, creditKeys: [] });
  });
});
