import { describe, expect, it } from 'vitest';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { ESCROW } from '../helpers/testWorld.js';
import { appWithPayment, expectError, TX_A } from '../helpers/controllerKit.js';

const TX_C = `0x${'c'.repeat(64)}`;
const TX_D = `0x${'d'.repeat(64)}`;

type App = Awaited<ReturnType<typeof appWithPayment>>;

/**
 * A concurrent writer (a webhook, another admin) moves the payment right after the request has
 * read it. Rules that hold only for a pending payment must still hold at the moment of the write.
 * `concurrent` is either fields written straight to the store or a function doing the write.
 */
async function racing(concurrent: Partial<PaymentRecord> | ((t: App, id: string) => Promise<unknown>)) {
  const t = await appWithPayment();
  const payments = t.store.payments;
  const read = payments.findById.bind(payments);
  let armed = true;
  let afterRace: PaymentRecord | null = null;
  payments.findById = async (id: string) => {
    const seen = await read(id);
    if (armed) {
      armed = false;
      if (typeof concurrent === 'function') await concurrent(t, id);
      else await payments.updateOne({ id }, { $set: concurrent });
      afterRace = await read(id);
    }
    return seen;
  };
  const put = (body: object, bearer: string) => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', bearer).send(body);
  /** The payment as the concurrent writer left it. */
  const raced = () => {
    expect(afterRace).not.toBeNull();
    return afterRace!;
  };
  /** Asserts the request was refused and wrote nothing over what the concurrent writer left. */
  const expectRefusedAfterRace = async (res: import('supertest').Response, status: number, code: string) => {
    expectError(res, status, code);
    expect(await read(t.payment.id)).toEqual(raced());
  };
  return { ...t, put, raced, expectRefusedAfterRace };
}

/** Another admin's request moving the payment, through the service, with its announcements. */
const adminMoves = (to: 'processing' | 'failed' | 'cancelled') => (t: App, id: string) =>
  t.ctx.payments.update({ userId: 'ops-2', isAdmin: true }, id, { status: to });

/**
 * The payment completed by evidence meanwhile (a proven transfer `TX_C` of the full amount, credited through the
 * settlement with its side effects and announcements): since issue 10 no request completes a payment without one.
 */
const creditArrives = (t: App, id: string) =>
  t.ctx.settlement.credit(
    id,
    {
      txHash: TX_C,
      from: '0x1111111111111111111111111111111111111111',
      to: ESCROW,
      network: 'bsc',
      token: 'USDT',
      amount: '25.5',
      baseUnits: null,
      blockNumber: null,
    },
    { source: 'test', actor: 'chain' },
  );

describe('PUT /api/payment/:id under a concurrent state change', () => {
  it('does not let a party cancel a payment that moved to processing after it was read', async () => {
    const t = await racing({ status: 'processing' });
    const res = await t.put({ status: 'cancelled' }, t.bearer('buyer-1'));
    await t.expectRefusedAfterRace(res, 409, 'precondition_failed');
    expect(t.raced()).toMatchObject({ status: 'processing', history: [] });
    expect(t.events.emitted).toEqual([]);
  });

  it('does not change the network of a payment that left pending after it was read', async () => {
    const t = await racing({ status: 'processing' });
    // (A status change with a network is refused outright now: 400 conflicting_fields; the network alone races.)
    const res = await t.put({ blockchain: { network: 'eth', token: 'USDT' } }, t.bearer('ops', { admin: true }));
    await t.expectRefusedAfterRace(res, 409, 'precondition_failed');
    expect(t.raced()).toMatchObject({ status: 'processing', blockchain: { network: 'bsc' } });
    expect(t.events.emitted).toEqual([]);
  });

  it('does not attach a hash when the chain saw another one after the read', async () => {
    // A hash is a claim now (issue 10): the other writer is the chain, which saw TX_C (processing, its claim kept);
    // a claim cannot replace it then (was: a raw transactionHash write and precondition_failed).
    const claim = { txHash: TX_C, from: null, nonce: null, source: 'chain_verification', actor: 'chain', at: new Date() };
    const t = await racing({ status: 'processing', claim });
    const res = await t.put({ transactionHash: TX_D }, t.bearer('buyer-1'));
    await t.expectRefusedAfterRace(res, 409, 'precondition_failed');
    expect(t.raced()).toMatchObject({ transactionHash: null, claim: { txHash: TX_C } });
    expect(t.events.emitted).toEqual([]);
  });

  it('does not attach a hash to a payment that was completed after it was read', async () => {
    const t = await racing({ status: 'completed', escrowState: 'funded' });
    const res = await t.put({ transactionHash: TX_D, metadata: { note: 'late' } }, t.bearer('buyer-1'));
    // Refused either way (the party edits only open payments, and a hash attaches only while open); nothing written.
    expect(res.status).toBe(409);
    expect(['precondition_failed', 'payment_not_open']).toContain(res.body.error?.code);
    await t.expectRefusedAfterRace(res, 409, res.body.error.code);
    expect(t.raced()).toMatchObject({ status: 'completed', transactionHash: null, metadata: {} });
    expect(t.events.emitted).toEqual([]);
  });

  it('still lets an admin move a payment whose state moved, when the move is allowed from there', async () => {
    const t = await racing({ status: 'processing' });
    const res = await t.put({ status: 'failed' }, t.bearer('ops', { admin: true }));
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('failed');
  });
});

describe('PUT /api/payment/:id when another writer already made the same status change', () => {
  it('still applies the fields sent with the status, and announces the change only once', async () => {
    const t = await racing(adminMoves('processing'));
    expect(t.events.named('payment-updated')).toHaveLength(0);
    const res = await t.put({ status: 'processing', transactionHash: TX_A, metadata: { ticket: 'T-1' } }, t.bearer('ops', { admin: true }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'processing', transactionHash: TX_A, metadata: { ticket: 'T-1' } });
    const stored = await t.store.payments.findById(t.payment.id);
    // The hash is recorded as a claim (issue 10).
    expect(stored).toMatchObject({
      status: 'processing',
      escrowState: 'unfunded',
      transactionHash: null,
      claim: { txHash: TX_A },
      metadata: { ticket: 'T-1' },
    });
    // one transition, by the writer that made it
    expect(stored?.history).toEqual([expect.objectContaining({ fromStatus: 'pending', toStatus: 'processing', actor: 'ops-2' })]);
    // the other writer's announcement, once to each audience, and no second one
    const payload = { paymentId: t.payment.id, purchaseRequestId: t.payment.purchaseRequestId, status: 'processing', escrowState: 'unfunded' };
    expect(t.events.emitted).toEqual([
      { target: { kind: 'request', id: t.payment.purchaseRequestId }, event: 'payment-updated', payload },
      { target: { kind: 'user', id: 'buyer-1' }, event: 'payment-updated', payload },
      { target: { kind: 'seller', id: 'seller-1' }, event: 'payment-updated', payload },
    ]);
  });

  // Was: a bare admin `completed` (sent after another writer completed it) applied its metadata. A completion
  // needs evidence now (issue 10), so it is refused, and nothing is written over the credit that completed it.
  it('refuses a completion without evidence even when the payment was completed meanwhile; nothing written', async () => {
    const t = await racing(creditArrives);
    const res = await t.put({ status: 'completed', metadata: { checkedBy: 'ops' } }, t.bearer('ops', { admin: true }));
    await t.expectRefusedAfterRace(res, 409, 'evidence_required');
    const stored = await t.store.payments.findById(t.payment.id);
    expect(stored).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: TX_C, metadata: {} });
    expect(stored?.history).toHaveLength(1);
    expect(t.events.named('payment-updated')).toHaveLength(3);
  });

  it('returns the payment unchanged when only the status was sent', async () => {
    const t = await racing(adminMoves('failed'));
    const res = await t.put({ status: 'failed' }, t.bearer('ops', { admin: true }));
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('failed');
    expect(await t.store.payments.findById(t.payment.id)).toEqual(t.raced());
    expect(t.events.named('payment-updated')).toHaveLength(3);
  });

  it('does not attach a hash to a payment the other writer completed: hashes attach only while open', async () => {
    const t = await racing(creditArrives);
    const res = await t.put({ status: 'completed', transactionHash: TX_A, metadata: { a: 1 } }, t.bearer('ops', { admin: true }));
    // A completion with a hash is now an admin's evidence, which the chain must prove; this app has none (was 409 precondition_failed).
    await t.expectRefusedAfterRace(res, 503, 'not_configured');
    expect(t.raced()).toMatchObject({ status: 'completed', transactionHash: TX_C, metadata: {} });
    expect(t.events.named('payment-updated')).toHaveLength(3);
  });
});

describe('PUT /api/payment/:id re-sending the current status with fields (no race)', () => {
  it('applies the fields and announces nothing', async () => {
    const t = await appWithPayment({ status: 'processing' });
    const res = await t
      .http()
      .put(`/api/payment/${t.payment.id}`)
      .set('Authorization', t.bearer('ops', { admin: true }))
      .send({ status: 'processing', transactionHash: TX_A, metadata: { a: 1 } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'processing', transactionHash: TX_A, metadata: { a: 1 } });
    // The hash is recorded as a claim (issue 10).
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ transactionHash: null, claim: { txHash: TX_A }, metadata: { a: 1 }, history: [] });
    expect(t.events.emitted).toEqual([]);
  });
});
