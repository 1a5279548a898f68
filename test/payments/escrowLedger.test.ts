import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { newObjectId } from '../../src/platform/ids.js';
import { lowerBound } from '../../src/platform/money.js';
import { available, creditKey, excessAmount, ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import { InProcessKeyedLock } from '../../src/platform/keyedLock.js';
import { PaymentCoordinator, type CreditInput } from '../../src/core/payments/paymentCoordinator.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { payment, preparedDisbursement } from '../helpers/fixtures.js';
import { EffectsSweeper } from '../../src/core/payments/effectsSweeper.js';
import { PaymentEffects } from '../../src/core/payments/paymentEffects.js';
import { createLogger } from '../../src/platform/logger.js';
import { RecordingEvents } from '../helpers/recordingEvents.js';

/**
 * The ledger operations of the coordinator on the in-process store: what a credit does, that one
 * transfer credits one payment and one request funds one escrow, whoever races, and that a
 * disbursement never takes more than the escrow holds or runs beside another.
 */

const now = new Date('2026-01-01T00:00:00Z');
const clock: Clock = { now: () => now };
let store: MemoryStore;
let coordinator: PaymentCoordinator;

beforeEach(() => {
  store = new MemoryStore(clock);
  coordinator = new PaymentCoordinator(store, new InProcessKeyedLock(), clock, undefined, { underpaymentTolerance: '0' });
});

const RECEIVER = '0x00000000000000000000000000000000000e5c40';
const PAYER = '0x1111111111111111111111111111111111111111';
let n = 0;
const hash = () => `0x${(++n).toString(16).padStart(64, '0')}`;
const transfer = (amount: string, over: Partial<CreditInput> = {}): CreditInput => ({
  txHash: hash(),
  from: PAYER,
  to: RECEIVER,
  network: 'bsc',
  token: 'USDT',
  amount,
  baseUnits: null,
  blockNumber: 10,
  ...over,
});
const step = { source: 'test', actor: 'test', completionEffects: [] };
const insert = (over: Partial<PaymentRecord> = {}) => store.payments.insertOne(payment({ id: newObjectId(), ...over }));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof AppError ? e.code : String(e)),
  );
}

describe('money', () => {
  it('lowerBound takes the tolerance off the price, rounding up', () => {
    expect(lowerBound('25.5', '0')).toBe('25.5');
    expect(lowerBound('100', '0.05')).toBe('95');
    expect(lowerBound('0.000000000000000003', '0.5')).toBe('0.000000000000000002');
  });
});

describe('credit', () => {
  it('funds for what arrived, completes once, and records the payer', async () => {
    const p = await insert();
    const r = await coordinator.credit(p.id, transfer('25.5'), step);
    expect(r.outcome).toBe('funded');
    expect(r.payment).toMatchObject({ status: 'completed', escrowState: 'funded', fundedRequestKey: p.purchaseRequestId });
    expect(r.payment.escrow).toMatchObject({ received: '25.5', shortfall: null, payer: PAYER });
    expect(ledgerProblems(r.payment)).toEqual([]);
  });

  it('an underpayment is partial (processing, shortfall), and the rest completes it', async () => {
    const p = await insert();
    const a = await coordinator.credit(p.id, transfer('20'), step);
    expect(a.outcome).toBe('partial');
    expect(a.payment).toMatchObject({ status: 'processing', escrowState: 'unfunded' });
    expect(a.payment.escrow?.shortfall).toBe('5.5');
    const b = await coordinator.credit(p.id, transfer('5.5'), step);
    expect(b.outcome).toBe('funded');
    expect(b.payment.escrow).toMatchObject({ received: '25.5', shortfall: null });
  });

  it('completes within UNDERPAYMENT_TOLERANCE and records the shortfall', async () => {
    const tolerant = new PaymentCoordinator(store, new InProcessKeyedLock(), clock, undefined, { underpaymentTolerance: '0.05' });
    const p = await insert({ amount: { amount: '100', currency: 'USDT' } });
    const r = await tolerant.credit(p.id, transfer('95'), step);
    expect(r.outcome).toBe('funded');
    expect(r.payment.escrow?.shortfall).toBe('5');
    const q = await insert({ amount: { amount: '100', currency: 'USDT' } });
    expect((await tolerant.credit(q.id, transfer('94.99'), step)).outcome).toBe('partial');
  });

  it('over, second and late payments are excess, with their reason', async () => {
    const p = await insert();
    const over = await coordinator.credit(p.id, transfer('30'), step);
    expect(over.outcome).toBe('funded');
    expect(excessAmount(over.payment)).toBe('4.5');
    const second = await coordinator.credit(p.id, transfer('1'), step);
    expect(second.outcome).toBe('excess');
    expect(second.payment.escrow?.credits.at(-1)).toMatchObject({ kind: 'excess', reason: 'second_payment' });
    expect(excessAmount(second.payment)).toBe('5.5');

    const cancelled = await insert({ status: 'cancelled' });
    const late = await coordinator.credit(cancelled.id, transfer('25.5'), step);
    expect(late.outcome).toBe('excess');
    expect(late.payment).toMatchObject({ status: 'cancelled', escrowState: 'unfunded' });
    expect(late.payment.escrow?.credits[0]).toMatchObject({ reason: 'late_payment' });
  });

  it('the same transfer again is already credited; on another payment it is refused', async () => {
    const a = await insert();
    const b = await insert();
    const t = transfer('25.5');
    await coordinator.credit(a.id, t, step);
    expect((await coordinator.credit(a.id, t, step)).outcome).toBe('already_credited');
    expect(await codeOf(coordinator.credit(b.id, t, step))).toBe('transfer_already_credited');
    expect((await store.payments.findById(b.id))!.escrow?.received).toBe('0');
  });

  it('one funded escrow per purchase request: a second payment of the request gets excess', async () => {
    const requestId = newObjectId();
    const a = await insert({ purchaseRequestId: requestId });
    const b = await insert({ purchaseRequestId: requestId });
    await coordinator.credit(a.id, transfer('25.5'), step);
    const r = await coordinator.credit(b.id, transfer('25.5'), step);
    expect(r.outcome).toBe('excess');
    expect(r.payment).toMatchObject({ status: 'pending', escrowState: 'unfunded', fundedRequestKey: null });
    expect(r.payment.escrow?.credits[0]).toMatchObject({ kind: 'excess', reason: 'request_already_funded' });
  });

  it('a plain transition never reaches a money state', async () => {
    const p = await insert();
    expect(await codeOf(coordinator.transition(p.id, { to: 'completed', source: 'test', actor: 'admin' }))).toBe('evidence_required');
  });

  it('racing credits: whatever the interleaving, one transfer funds one payment and each request one escrow', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ payment: fc.nat({ max: 3 }), transfer: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 16 }), async (claims) => {
        const requestId = newObjectId();
        const payments = await Promise.all([0, 1, 2, 3].map((i) => insert({ purchaseRequestId: i < 2 ? requestId : newObjectId() })));
        const transfers = [0, 1, 2, 3].map(() => transfer('25.5'));
        await Promise.allSettled(claims.map((c) => coordinator.credit(payments[c.payment]!.id, transfers[c.transfer]!, step)));
        const after = await Promise.all(payments.map((p) => store.payments.findById(p.id)));
        const keys = after.flatMap((p) => p!.creditKeys);
        expect(new Set(keys).size).toBe(keys.length);
        expect(after.filter((p) => p!.fundedRequestKey === requestId).length).toBeLessThanOrEqual(1);
        for (const p of after) expect(ledgerProblems(p!)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});

describe('disbursements', () => {
  async function funded(amount = '25.5') {
    const p = await insert();
    return (await coordinator.credit(p.id, transfer(amount), step)).payment;
  }
  const d = (id: string, amount: string, kind: 'release' | 'refund' | 'payout' = 'release') => ({
    id,
    kind,
    method: 'escrow_tx' as const,
    recipient: PAYER,
    amount,
    state: 'prepared' as const,
    override: null,
    payoutId: null,
    evidence: null,
    payload: null,
    createdBy: 'admin',
  });

  it('refuses an unfunded escrow, more than it holds, and a second one in flight', async () => {
    const unfunded = await insert();
    expect(await codeOf(coordinator.openDisbursement(unfunded.id, d('d0', '1'), step))).toBe('escrow_not_funded');
    const p = await funded();
    expect(await codeOf(coordinator.openDisbursement(p.id, d('d1', '25.6'), step))).toBe('exceeds_escrow_balance');
    await coordinator.openDisbursement(p.id, d('d2', '25.5'), step);
    expect(await codeOf(coordinator.openDisbursement(p.id, d('d3', '1', 'refund'), step))).toBe('disbursement_in_flight');
    expect(available((await store.payments.findById(p.id))!.escrow!)).toBe('0');
  });

  it('settles once on evidence; a released escrow can never be refunded; a failed one frees the escrow', async () => {
    const p = await funded();
    await coordinator.openDisbursement(p.id, d('r1', '25.5', 'refund'), step);
    await coordinator.moveDisbursement(p.id, 'r1', 'failed', { ...step, reason: 'reverted' });
    await coordinator.openDisbursement(p.id, d('rel', '25.5'), step);
    const s = await coordinator.settleDisbursement(p.id, 'rel', { ...step, evidence: hash(), effects: [] });
    expect(s.payment).toMatchObject({ status: 'released', escrowState: 'released' });
    expect(s.payment.escrow).toMatchObject({ disbursed: '25.5', inFlight: null });
    expect((await coordinator.settleDisbursement(p.id, 'rel', { ...step, evidence: 'x', effects: [] })).changed).toBe(false);
    expect(await codeOf(coordinator.openDisbursement(p.id, d('again', '1', 'refund'), step))).toBe('escrow_not_funded');
    expect(ledgerProblems((await store.payments.findById(p.id))!)).toEqual([]);
  });

  it('concurrent opens on one escrow: exactly one wins', async () => {
    const p = await funded();
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((id, i) => coordinator.openDisbursement(p.id, d(id, '25.5', i % 2 ? 'refund' : 'release'), step)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const after = (await store.payments.findById(p.id))!;
    expect(ledgerProblems(after)).toEqual([]);
  });

  it('an in-doubt disbursement moves only to settled or failed, never withdrawn', async () => {
    const p = await funded();
    await coordinator.openDisbursement(p.id, { ...d('x', '25.5', 'payout'), method: 'shkeeper', state: 'submitted' }, step);
    await coordinator.moveDisbursement(p.id, 'x', 'in_doubt', step);
    expect(await codeOf(coordinator.moveDisbursement(p.id, 'x', 'withdrawn', step))).toBe('invalid_disbursement_transition');
    expect(creditKey('BSC', '0xAB', '0xCD')).toBe('bsc:0xab:0xcd');
  });
});

describe('records settled before the ledger existed', () => {
  it('adopt the ledger their state implies, and can then be disbursed', async () => {
    const old = await insert({ status: 'completed', escrowState: 'funded', escrow: null, transactionHash: hash(), providerData: { payerAddress: PAYER } });
    const adopted = await coordinator.adoptLegacyLedger(old.id);
    expect(adopted.escrow).toMatchObject({ received: '25.5', payer: PAYER, disbursed: '0' });
    expect(adopted.fundedRequestKey).toBe(old.purchaseRequestId);
    expect(ledgerProblems(adopted)).toEqual([]);
    expect((await coordinator.adoptLegacyLedger(old.id)).revision).toBe(adopted.revision);
    await coordinator.openDisbursement(old.id, preparedDisbursement('refund', { recipient: PAYER, createdBy: 'admin' }, { id: 'r' }), step);

    const released = await insert({ status: 'released', escrowState: 'released', escrow: null, releaseTxHash: hash() });
    const r = await coordinator.adoptLegacyLedger(released.id);
    expect(r.escrow).toMatchObject({ received: '25.5', disbursed: '25.5' });
    expect(r.escrow?.disbursements[0]).toMatchObject({ kind: 'release', state: 'settled', evidence: released.releaseTxHash });
    expect(ledgerProblems(r)).toEqual([]);
  });
});

describe('what a crash leaves behind', () => {
  it('a payout disbursement whose payout row was never written fails, freeing the escrow; one with a row stays', async () => {
    const logger = createLogger('silent');
    const effects = new PaymentEffects(store, coordinator, new RecordingEvents(), logger);
    const sweeper = new EffectsSweeper({ store, coordinator, effects, clock, graceMs: 0, intervalMs: 3_600_000 }, logger);
    const p = await insert();
    await coordinator.credit(p.id, transfer('25.5'), step);
    const base = {
      kind: 'payout' as const,
      method: 'shkeeper' as const,
      recipient: PAYER,
      amount: '25.5',
      state: 'prepared' as const,
      override: null,
      evidence: null,
      payload: null,
      createdBy: 'admin',
    };
    await coordinator.openDisbursement(p.id, { ...base, id: 'orphan', payoutId: newObjectId() }, step);
    await sweeper.tick();
    let after = (await store.payments.findById(p.id))!;
    expect(after.escrow?.inFlight).toBeNull();
    expect(after.escrow?.disbursements.at(-1)).toMatchObject({ id: 'orphan', state: 'failed' });

    const row = await insert({ direction: 'out', escrow: null });
    await coordinator.openDisbursement(p.id, { ...base, id: 'kept', payoutId: row.id }, step);
    await sweeper.tick();
    after = (await store.payments.findById(p.id))!;
    expect(after.escrow?.inFlight?.id).toBe('kept');
    expect(ledgerProblems(after)).toEqual([]);
  });
});
