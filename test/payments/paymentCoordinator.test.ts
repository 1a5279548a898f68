import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/common/clock.js';
import { AppError } from '../../src/common/errors.js';
import { newObjectId } from '../../src/common/ids.js';
import { InProcessKeyedLock } from '../../src/payments/keyedLock.js';
import { PaymentCoordinator } from '../../src/payments/paymentCoordinator.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { PAYMENT_STATUSES, type EscrowState, type PaymentRecord, type PaymentStatus } from '../../src/store/records.js';
import { payment } from '../helpers/fixtures.js';

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
  ['processing', 'completed'],
  ['processing', 'failed'],
  ['processing', 'cancelled'],
  ['completed', 'released'],
  ['completed', 'refunded'],
];
const isAllowed = (from: PaymentStatus, to: PaymentStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const FORBIDDEN = PAYMENT_STATUSES.flatMap((from) =>
  PAYMENT_STATUSES.filter((to) => to !== from && !isAllowed(from, to)).map((to) => [from, to] as const),
);
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
  it.each(ALLOWED)('%s → %s succeeds and records who, why and from where', async (from, to) => {
    const p = await seeded({ status: from, escrowState: ESCROW_IN[from] });
    tick();
    const res = await coordinator.transition(p.id, req(to, { reason: 'because', set: { 'metadata.note': 'x' } }));
    expect(res.changed).toBe(true);
    expect(res.payment).toMatchObject({ status: to, escrowState: ESCROW_IN[to], metadata: { note: 'x' }, updatedAt: now });
    expect(res.payment.history).toEqual([
      { fromStatus: from, toStatus: to, fromEscrow: ESCROW_IN[from], toEscrow: ESCROW_IN[to], source: 'test', actor: 'admin-1', at: now, reason: 'because' },
    ]);
    expect(await store.payments.findById(p.id)).toEqual(res.payment);
  });

  it.each(FORBIDDEN)('%s → %s is refused and nothing is written', async (from, to) => {
    const p = await seeded({ status: from, escrowState: ESCROW_IN[from] });
    const err = await expectAppError(coordinator.transition(p.id, req(to)), 'invalid_state', 'invalid_transition');
    expect(err.details).toMatchObject({ from, to });
    expect(await store.payments.findById(p.id)).toEqual(p);
  });

  it('re-applying the transition just made is a success that writes nothing', async () => {
    const p = await seeded();
    await coordinator.transition(p.id, req('completed'));
    const before = await store.payments.findById(p.id);
    tick();
    const again = await coordinator.transition(p.id, req('completed', { set: { 'metadata.late': true } }));
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
  it('funds an inbound payment when it completes and lets it go once', async () => {
    const p = await seeded();
    expect((await coordinator.transition(p.id, req('completed'))).payment.escrowState).toBe('funded');
    expect((await coordinator.transition(p.id, req('released'))).payment.escrowState).toBe('released');
    await expectAppError(coordinator.transition(p.id, req('refunded')), 'invalid_state', 'invalid_transition');
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
    const p = await seeded({ transactionHash: '0xabc' });
    await expectAppError(
      coordinator.transition(p.id, req('completed', { where: { transactionHash: '0xother' } })),
      'conflict',
      'precondition_failed',
    );
    expect(await store.payments.findById(p.id)).toEqual(p);
    const ok = await coordinator.transition(p.id, req('completed', { where: { transactionHash: '0xabc' } }));
    expect(ok.changed).toBe(true);
  });

  it('when 50 writers complete one payment at once, exactly one writes', async () => {
    const p = await seeded();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => coordinator.transition(p.id, req('completed', { actor: `w${i}` }))));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(results.every((r) => r.payment.status === 'completed')).toBe(true);
    const final = await store.payments.findById(p.id);
    expect(final!.history.filter((h) => h.toStatus === 'completed')).toHaveLength(1);
    expect(final!.history).toHaveLength(1);
  });

  it('when completion and cancellation race, one wins and the other is refused', async () => {
    const p = await seeded();
    const targets = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'completed' : 'cancelled') as PaymentStatus);
    const settled = await Promise.allSettled(targets.map((to) => coordinator.transition(p.id, req(to))));
    const final = (await store.payments.findById(p.id))!;
    expect(['completed', 'cancelled']).toContain(final.status);
    expect(final.history).toHaveLength(1);
    let winners = 0;
    settled.forEach((s, i) => {
      if (targets[i] === final.status) {
        expect(s.status).toBe('fulfilled');
        if (s.status === 'fulfilled' && s.value.changed) winners++;
      } else {
        expect(s.status).toBe('rejected');
        expect((s as PromiseRejectedResult).reason).toMatchObject({ kind: 'invalid_state' });
      }
    });
    expect(winners).toBe(1);
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
    await expectAppError(busy.withPaymentLock('p1', async () => 'never'), 'unavailable', 'lock_timeout');
    await holder;
  });
});

describe('patch', () => {
  it('writes non-state fields under a condition, bumping updatedAt but not history', async () => {
    const p = await seeded({ metadata: { keep: 1 } });
    tick();
    const patched = await coordinator.patch(p.id, { 'metadata.note': 'n', transactionHash: '0x1' }, { status: 'pending' });
    expect(patched).toMatchObject({ status: 'pending', transactionHash: '0x1', metadata: { keep: 1, note: 'n' }, updatedAt: now, history: [] });
    expect(await store.payments.findById(p.id)).toEqual(patched);
  });

  it('is precondition_failed when the condition no longer holds', async () => {
    const p = await seeded({ status: 'completed', escrowState: 'funded' });
    await expectAppError(coordinator.patch(p.id, { transactionHash: '0x1' }, { status: 'pending' }), 'conflict', 'precondition_failed');
    expect(await store.payments.findById(p.id)).toEqual(p);
  });

  it('is not_found for an unknown payment', async () => {
    await expectAppError(coordinator.patch(newObjectId(), { 'metadata.x': 1 }), 'not_found', 'payment_not_found');
  });

  it('surfaces a taken unique key as a conflict', async () => {
    await seeded({ transactionHash: '0xtaken' });
    const p = await seeded();
    await expectAppError(coordinator.patch(p.id, { transactionHash: '0xtaken' }), 'conflict', 'duplicate_key');
  });
});
