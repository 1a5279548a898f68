import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  BUYER,
  deliveriesOf,
  intentFor,
  invoiceCallback,
  expectSoundLedgers,
  paymentOf,
  postWebhook,
  seed,
  useSeededWorld,
  webhookStats,
} from './payinTestKit.js';

/**
 * The webhook under SHKeeper's real delivery habits (spec §4, §5.6, §8): partial payments,
 * repeats, overpayment, out-of-order streams, late money for a cancelled payment. The fake drives
 * it; every accepted delivery must be answered 202 so that SHKeeper stops re-sending.
 */

const { h, s } = useSeededWorld();

const acked = () => h.fake.deliveries.map((d) => d.status);
/** Every delivery the fake made was acknowledged with 202 (and there was at least one). */
const allAcked = () => expect(acked()).toEqual(Array(Math.max(acked().length, 1)).fill(202));
const statuses = async (id: string) => (await paymentOf(h, id)).history.map((x) => x.toStatus);
const completionEffects = async () => ({
  offer: (await h.store.sellerOffers.findById(s.offer.id))?.status,
  sibling: (await h.store.sellerOffers.findById(s.otherOffer.id))?.status,
  request: (await h.store.purchaseRequests.findById(s.request.id))?.status,
  requestUpdates: h.events.named('purchase-request-update').length,
});
const COMPLETED_ONCE = { offer: 'accepted', sibling: 'rejected', request: 'payment_processing', requestUpdates: 1 };
const UNTOUCHED = { offer: 'pending', sibling: 'pending', request: 'open', requestUpdates: 0 };

describe('partial payments', () => {
  it('PARTIAL → processing with the amounts seen; the rest → completed and funded', async () => {
    const intent = await intentFor(h, s);
    const first = h.fake.pay({ externalId: intent.externalId, amountCrypto: '10' });
    await h.fake.callbacksSettled();
    expect(first.status).toBe('PARTIAL');
    let p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'processing', escrowState: 'unfunded', transactionHash: null });
    expect(p.providerData.shkeeper).toMatchObject({ status: 'PARTIAL', balanceCrypto: '10', balanceFiat: '10', txids: [first.txid] });
    expect(await completionEffects()).toEqual(UNTOUCHED);
    expect(h.events.named('payment-updated').map((e) => (e.payload as { status: string }).status)).toEqual(['processing', 'processing', 'processing']);

    // The admin's debug bundle shows the same facts.
    const debug = await h.as({ admin: ADMIN }).get(`/${intent.paymentId}/debug`);
    expect(debug.status).toBe(200);
    expect(debug.body.data.payment.providerData.shkeeper).toMatchObject({ status: 'PARTIAL', balanceCrypto: '10' });

    const rest = h.fake.pay({ externalId: intent.externalId, amountCrypto: '16.01' });
    await h.fake.callbacksSettled();
    expect(rest.status).toBe('PAID');
    allAcked();
    p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: rest.txid });
    expect(p.providerData.shkeeper).toMatchObject({ status: 'PAID', balanceCrypto: '26.01', txids: [first.txid, rest.txid] });
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'processing', 'completed']);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
  });

  it('an unconfirmed (0-confirmation) callback → processing; the confirmed one completes it', async () => {
    const intent = await intentFor(h, s);
    const seen = h.fake.pay({ externalId: intent.externalId, confirmations: 0 });
    await h.fake.callbacksSettled();
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('processing');
    expect(p.providerData.shkeeper).toMatchObject({ status: 'unconfirmed', unconfirmedAmount: '26.01' });
    h.fake.pay({ externalId: intent.externalId, txid: seen.txid });
    await h.fake.callbacksSettled();
    allAcked();
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'processing', 'completed']);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
  });

  it('PARTIAL snapshots arriving out of order never replace a larger balance with a smaller one', async () => {
    const intent = await intentFor(h, s);
    const a = { txid: `0x${'a1'.repeat(32)}`, amount_crypto: '5', amount_fiat: '5' };
    const b = { txid: `0x${'b2'.repeat(32)}`, amount_crypto: '5', amount_fiat: '5' };
    const newer = invoiceCallback(intent, {
      status: 'PARTIAL',
      paid: false,
      balance_crypto: '10',
      balance_fiat: '10',
      transactions: [
        { ...a, crypto: 'BNB-USDT', trigger: false },
        { ...b, crypto: 'BNB-USDT', trigger: true },
      ],
    });
    const older = invoiceCallback(intent, {
      status: 'PARTIAL',
      paid: false,
      balance_crypto: '5',
      balance_fiat: '5',
      transactions: [{ ...a, crypto: 'BNB-USDT', trigger: true }],
    });
    expect((await postWebhook(h, newer)).status).toBe(202);
    expect((await postWebhook(h, older)).status).toBe(202);
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('processing');
    expect(p.providerData.shkeeper).toMatchObject({ balanceCrypto: '10', txids: [a.txid, b.txid] });
  });
});

describe('repeats and overpayment', () => {
  it('PAID twice (two transactions): one completion, the second recorded as excess', async () => {
    const intent = await intentFor(h, s);
    const first = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    const second = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    expect([first.status, second.status]).toEqual(['PAID', 'OVERPAID']);
    expect(acked()).toEqual([202, 202]);
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'completed']);
    const p = await paymentOf(h, intent.paymentId);
    expect(p.transactionHash).toBe(first.txid);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
    // The second payment used to be answered as a duplicate and recorded nowhere (issue 10): it is
    // money that arrived, on the escrow as excess for an admin.
    expect((await deliveriesOf(h)).map((d) => d.outcome)).toEqual(['applied', 'excess']);
    expect(p.escrow!.credits.map((c) => [c.kind, c.txHash, c.amount])).toEqual([
      ['funding', first.txid, '26.01'],
      ['excess', second.txid, '26.01'],
    ]);
    expect(p.escrow!.received).toBe('52.02');
    expect(await webhookStats(h)).toMatchObject({ success: 1, excess: 1, duplicate: 0 });
    await expectSoundLedgers(h);
  });

  it('the same callback re-delivered (same external id, txid, crypto): one completion, duplicates counted', async () => {
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId, callback: { duplicates: 3 } });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202, 202, 202, 202]);
    expect(h.fake.deliveries.filter((d) => d.duplicate)).toHaveLength(3);
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'completed']);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
    expect(await webhookStats(h)).toMatchObject({ total: 4, success: 1, duplicate: 3 });
  });

  it('the same callback delivered concurrently still completes once', async () => {
    const intent = await intentFor(h, s);
    const body = invoiceCallback(intent);
    const answers = await Promise.all(Array.from({ length: 6 }, () => postWebhook(h, body)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(202));
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'completed']);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
    expect(await webhookStats(h)).toMatchObject({ success: 1, duplicate: 5 });
  });

  it('OVERPAID completes the payment', async () => {
    const intent = await intentFor(h, s);
    const paid = h.fake.pay({ externalId: intent.externalId, amountCrypto: '40' });
    await h.fake.callbacksSettled();
    expect(paid.status).toBe('OVERPAID');
    allAcked();
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(p.providerData.shkeeper).toMatchObject({ status: 'OVERPAID', balanceCrypto: '40' });
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
  });

  it('one txid paying two invoices completes both; the hash is claimed by the first only', async () => {
    const other = await seed(h);
    const one = await intentFor(h, s);
    const two = await intentFor(h, other);
    const txid = `0x${'c3'.repeat(32)}`;
    h.fake.pay({ externalId: one.externalId, txid });
    await h.fake.callbacksSettled();
    h.fake.pay({ externalId: two.externalId, txid });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202, 202]);
    expect(await paymentOf(h, one.paymentId)).toMatchObject({ status: 'completed', transactionHash: txid });
    expect(await paymentOf(h, two.paymentId)).toMatchObject({ status: 'completed', transactionHash: null });
  });
});

describe('ordering', () => {
  it('streams flushed in reverse order never move the payment backwards', async () => {
    const intent = await intentFor(h, s);
    h.fake.deferCallbacks();
    const first = h.fake.pay({ externalId: intent.externalId, amountCrypto: '10' });
    const rest = h.fake.pay({ externalId: intent.externalId, amountCrypto: '16.01' });
    expect(h.fake.deliveries).toHaveLength(0);
    await h.fake.flushCallbacks('reverse');
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202, 202]);
    expect(h.fake.deliveries.map((d) => d.txid)[0]).toBe(rest.txid);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: rest.txid });
    // The first delivery carries both transactions; each is one credit, in SHKeeper's order, so the
    // payment passes through processing (10 of 25.5) on its way to completed — it used to jump
    // straight to completed on the PAID status alone. The late PARTIAL stream then adds nothing.
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'processing', 'completed']);
    expect(p.escrow!.credits.map((c) => [c.txHash, c.amount])).toEqual([
      [first.txid, '10'],
      [rest.txid, '16.01'],
    ]);
    expect((await deliveriesOf(h)).map((d) => d.outcome)).toEqual(['applied', 'duplicate']);
    expect(await completionEffects()).toEqual(COMPLETED_ONCE);
    await expectSoundLedgers(h);
  });

  it('a PARTIAL that arrives after completion is acknowledged as stale and changes nothing', async () => {
    const intent = await intentFor(h, s);
    const a = { txid: `0x${'a5'.repeat(32)}`, amount_crypto: '10', amount_fiat: '10', crypto: 'BNB-USDT' };
    const b = { txid: `0x${'b6'.repeat(32)}`, amount_crypto: '16.01', amount_fiat: '16.01', crypto: 'BNB-USDT' };
    const paid = invoiceCallback(intent, {
      transactions: [
        { ...a, trigger: false },
        { ...b, trigger: true },
      ],
    });
    expect((await postWebhook(h, paid)).status).toBe(202);
    const before = await paymentOf(h, intent.paymentId);
    expect(before.status).toBe('completed');
    // The PARTIAL SHKeeper sent for the first transaction, delivered late: it names nothing new.
    const late = invoiceCallback(intent, { status: 'PARTIAL', paid: false, balance_crypto: '10', balance_fiat: '10', transactions: [{ ...a, trigger: true }] });
    const r = await postWebhook(h, late);
    expect(r.status).toBe(202);
    expect(await paymentOf(h, intent.paymentId)).toEqual(before);
    expect((await deliveriesOf(h)).at(-1)).toMatchObject({ outcome: 'stale', paymentId: intent.paymentId });
    expect(await webhookStats(h)).toMatchObject({ success: 1, stale: 1 });
  });

  it('a PARTIAL after completion that names a new transaction is that money arriving: recorded as excess', async () => {
    // This used to be answered "stale" and forgotten (issue 10): 1 USDT did arrive at the invoice address.
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    const before = await paymentOf(h, intent.paymentId);
    const emitted = h.events.emitted.length;
    const late = invoiceCallback(
      intent,
      { status: 'PARTIAL', paid: false, balance_crypto: '1', balance_fiat: '1' },
      { txid: `0x${'d4'.repeat(32)}`, amount_crypto: '1', amount_fiat: '1' },
    );
    expect((await postWebhook(h, late)).status).toBe(202);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: before.transactionHash });
    expect(p.history).toEqual(before.history);
    expect(p.escrow!.credits.at(-1)).toMatchObject({ kind: 'excess', reason: 'second_payment', txHash: `0x${'d4'.repeat(32)}`, amount: '1' });
    expect(h.events.emitted.length).toBe(emitted);
    expect((await deliveriesOf(h)).at(-1)).toMatchObject({ outcome: 'excess', paymentId: intent.paymentId });
    await expectSoundLedgers(h);
  });
});

describe('money for a cancelled payment', () => {
  // Late money used to be pushed straight into providerData.latePayments by a direct store write;
  // it is now an excess credit of the escrow ledger, written by the coordinator (issue 10).
  it('is acknowledged (202), recorded on the escrow as an excess credit, and not applied', async () => {
    const intent = await intentFor(h, s);
    const cancel = await h.as(BUYER).put(`/${intent.paymentId}`, { status: 'cancelled' });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data.status).toBe('cancelled');
    const mark = h.events.emitted.length;

    const paid = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202]);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'cancelled', escrowState: 'unfunded', transactionHash: null });
    expect(await statuses(intent.paymentId)).toEqual(['pending', 'cancelled']);
    expect(await completionEffects()).toEqual(UNTOUCHED);
    expect(h.events.emitted.slice(mark)).toEqual([]);

    const debug = await h.as({ admin: ADMIN }).get(`/${intent.paymentId}/debug`);
    expect(debug.status).toBe(200);
    expect(debug.body.data.payment.status).toBe('cancelled');
    expect(debug.body.data.payment.providerData.latePayments).toBeUndefined();
    const late = (await paymentOf(h, intent.paymentId)).escrow!;
    expect(late.credits).toEqual([
      expect.objectContaining({
        kind: 'excess',
        reason: 'late_payment',
        source: 'shkeeper_webhook',
        txHash: paid.txid,
        to: intent.payAddress,
        amount: '26.01',
      }),
    ]);
    expect(late.received).toBe('26.01');
    expect((await deliveriesOf(h)).at(-1)).toMatchObject({ outcome: 'late_payment', paymentId: intent.paymentId });
    expect(await webhookStats(h)).toMatchObject({ latePayments: 1, success: 0 });

    // Another transaction is a second late payment; the re-delivery of its callback is a duplicate.
    h.fake.pay({ externalId: intent.externalId, amountCrypto: '1', callback: { duplicates: 1 } });
    await h.fake.callbacksSettled();
    allAcked();
    const after = await paymentOf(h, intent.paymentId);
    expect(after.escrow!.credits.map((c) => [c.kind, c.reason, c.amount])).toEqual([
      ['excess', 'late_payment', '26.01'],
      ['excess', 'late_payment', '1'],
    ]);
    expect(after).toMatchObject({ status: 'cancelled', escrowState: 'unfunded' });
    expect(await webhookStats(h)).toMatchObject({ latePayments: 2, duplicate: 1 });
    await expectSoundLedgers(h);
  });

  it('money for an intent that failed after SHKeeper had made the invoice is recorded as late', async () => {
    // SHKeeper handles every attempt but the answers never arrive: the intent fails…
    h.fake.fail('reset_after_processing', { endpoint: 'payment_request' });
    const r = await h
      .as(BUYER)
      .post('/shkeeper/intents', { purchaseRequestId: s.request.id, sellerOfferId: s.offer.id, amount: s.offer.amount, sellerId: s.offer.sellerId });
    expect(r.status).toBe(502);
    const [failed] = await h.store.payments.find({});
    expect(failed!.status).toBe('failed');
    // …yet the invoice exists there, and money sent to it is announced to us.
    await h.fake.heal();
    h.fake.pay({ externalId: failed!.externalId! });
    await h.fake.callbacksSettled();
    allAcked();
    const p = await paymentOf(h, failed!.id);
    expect(p.status).toBe('failed');
    // Its address was never recorded (the intent failed): SHKeeper's signed word names it.
    expect(p.payAddress).toBeNull();
    expect(p.escrow!.credits).toEqual([expect.objectContaining({ kind: 'excess', reason: 'late_payment', amount: '26.01' })]);
    expect(await completionEffects()).toEqual(UNTOUCHED);
    await expectSoundLedgers(h);
  });

  it('paying the old invoice after a new intent leaves the new payment alone', async () => {
    const old = await intentFor(h, s);
    await h.as(BUYER).put(`/${old.paymentId}`, { status: 'cancelled' });
    const fresh = await intentFor(h, s);
    h.fake.pay({ externalId: old.externalId });
    await h.fake.callbacksSettled();
    allAcked();
    expect((await paymentOf(h, old.paymentId)).status).toBe('cancelled');
    expect((await paymentOf(h, fresh.paymentId)).status).toBe('pending');
    expect(await completionEffects()).toEqual(UNTOUCHED);
  });
});
