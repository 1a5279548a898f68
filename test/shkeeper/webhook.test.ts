import { afterEach, describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { snapshot } from '../helpers/fixtures.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import type { FakeShkeeperOptions } from '../helpers/fakeShkeeper/fakeShkeeper.js';
import { compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import {
  ADMIN,
  BUYER,
  deliveriesOf,
  intentFor,
  invoiceCallback,
  nowSec,
  expectSoundLedgers,
  paymentOf,
  postWebhook,
  seed,
  webhookStats,
  type Seeded,
} from './payinTestKit.js';

/**
 * POST /api/payment/shkeeper/webhook end to end: SHKeeper's callbacks come from the fake (a real
 * HTTP client), hand-made ones are posted over HTTP. Signature forms, refusals, what a completion
 * does, and the counters.
 */

let h: ListeningWorld;
let s: Seeded;

async function start(opts: { env?: Record<string, string>; fake?: FakeShkeeperOptions } = {}) {
  h = await startTestWorld({ listen: true, shkeeper: opts.fake ?? true, env: opts.env });
  s = await seed(h);
}
afterEach(async () => {
  await h?.stop();
});

const acked = () => h.fake.deliveries.map((d) => d.status);

describe('signature forms', () => {
  it("SHKeeper's own callback (timestamp + signature, compact sorted body) completes the payment", async () => {
    await start();
    const intent = await intentFor(h, s);
    const paid = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202]);
    expect(h.fake.deliveries[0]!.headers['X-Shkeeper-Timestamp']).toMatch(/^\d+$/);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: paid.txid });
    expect(p.providerData.shkeeper).toMatchObject({ status: 'PAID', crypto: 'BNB-USDT', balanceCrypto: '26.01', txids: [paid.txid] });
    // Funded for what arrived (the invoice's 26.01, SHKeeper's fee included), credited to the invoice address.
    expect(p.escrow).toMatchObject({ received: '26.01', shortfall: null });
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({ kind: 'funding', txHash: paid.txid, to: intent.payAddress, amount: '26.01', source: 'shkeeper_webhook' }),
    ]);
    await expectSoundLedgers(h);
    const [d] = await deliveriesOf(h);
    expect(d).toMatchObject({
      kind: 'invoice',
      verification: 'hmac_timestamp',
      externalId: intent.externalId,
      status: 'PAID',
      txids: [paid.txid],
      outcome: 'applied',
      paymentId: intent.paymentId,
    });
  });

  it('the body-only x-shkeeper-signature form is accepted', async () => {
    await start();
    const intent = await intentFor(h, s);
    const r = await postWebhook(h, invoiceCallback(intent), { form: 'body' });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ success: true });
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
    expect((await deliveriesOf(h))[0]).toMatchObject({ verification: 'hmac_body', outcome: 'applied' });
  });

  it('a raw text/plain body is verified on its bytes and read as JSON', async () => {
    await start();
    const intent = await intentFor(h, s);
    const r = await postWebhook(h, invoiceCallback(intent), { contentType: 'text/plain' });
    expect(r.status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });

  it('a JSON string holding the JSON (double-encoded body) is accepted', async () => {
    await start();
    const intent = await intentFor(h, s);
    const raw = JSON.stringify(compactSortedJson(invoiceCallback(intent)));
    const r = await postWebhook(h, raw, { form: 'body', contentType: 'text/plain' });
    expect(r.status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });

  it('a body signed as bytes is verified as bytes: re-serialised JSON would not match', async () => {
    await start();
    const intent = await intentFor(h, s);
    // Spaces and key order as python-requests sent them: whatever bytes arrive are what is signed.
    const raw = JSON.stringify(invoiceCallback(intent), null, 1);
    expect((await postWebhook(h, raw)).status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });

  it('legacy X-Shkeeper-Api-Key callbacks are accepted when SHKEEPER_ALLOW_LEGACY_API_KEY=true', async () => {
    await start({ env: { SHKEEPER_ALLOW_LEGACY_API_KEY: 'true' } });
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId, callback: { legacy: true } });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202]);
    expect(h.fake.deliveries[0]!.headers['X-Shkeeper-Signature']).toBeUndefined();
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
    expect((await deliveriesOf(h))[0]).toMatchObject({ verification: 'legacy_api_key', outcome: 'applied' });
    // Even then, the wrong key is refused.
    const wrong = await postWebhook(h, invoiceCallback(intent), { form: 'none', headers: { 'x-shkeeper-api-key': 'nope' } });
    expect(wrong.status).toBe(401);
  });

  it('with legacy allowed, a bad signature is still refused: the API-key header does not rescue it', async () => {
    await start({ env: { SHKEEPER_ALLOW_LEGACY_API_KEY: 'true' }, fake: { callbackMaxAttempts: 2 } });
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId, callback: { badSignature: true } });
    await h.fake.callbacksSettled();
    expect(h.fake.deliveries[0]!.headers['X-Shkeeper-Api-Key']).toBe(h.fake.apiKey);
    expect(acked()).toEqual([401, 401]);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });

  it('legacy callbacks are refused (401) by default, and nothing changes', async () => {
    await start({ fake: { callbackMaxAttempts: 3 } });
    const intent = await intentFor(h, s);
    const before = await snapshot(h.store);
    h.fake.pay({ externalId: intent.externalId, callback: { legacy: true } });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([401, 401, 401]);
    expect(await snapshot(h.store)).toEqual(before);
    const rows = await deliveriesOf(h);
    expect(rows.map((d) => d.outcome)).toEqual(['bad_signature', 'bad_signature', 'bad_signature']);
    expect(rows[0]!.verificationError).toMatch(/legacy/);
  });
});

describe('refusals change nothing', () => {
  it('a bad signature from SHKeeper → 401 on every attempt, payment untouched', async () => {
    await start({ fake: { callbackMaxAttempts: 3 } });
    const intent = await intentFor(h, s);
    const before = await snapshot(h.store);
    h.fake.pay({ externalId: intent.externalId, callback: { badSignature: true } });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([401, 401, 401]);
    expect(await snapshot(h.store)).toEqual(before);
    expect(h.events.named('purchase-request-update')).toHaveLength(0);
  });

  it('hand-made bad signatures → 401 invalid_signature (wrong secret, body form, no signature at all)', async () => {
    await start();
    const intent = await intentFor(h, s);
    const before = await snapshot(h.store);
    const body = invoiceCallback(intent);
    const answers = [
      await postWebhook(h, body, { secret: 'not-the-secret' }),
      await postWebhook(h, body, { form: 'body', secret: 'not-the-secret' }),
      await postWebhook(h, body, { form: 'none' }),
      await postWebhook(h, body, { headers: { 'x-shkeeper-signature': 'zz' } }),
      // Signed for another timestamp than the one sent.
      await postWebhook(h, body, { headers: { 'x-shkeeper-timestamp': String(nowSec() - 1) } }),
    ];
    for (const r of answers) {
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ success: false, error: { code: 'invalid_signature' } });
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect((await deliveriesOf(h)).map((d) => d.outcome)).toEqual(Array(5).fill('bad_signature'));
  });

  it('a stale or future timestamp (beyond ±300 s) → 401; within the window it is accepted', async () => {
    await start({ fake: { callbackMaxAttempts: 2 } });
    const intent = await intentFor(h, s);
    const before = await snapshot(h.store);
    h.fake.pay({ externalId: intent.externalId, callback: { timestampOffsetSec: -400 } });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([401, 401]);
    expect((await postWebhook(h, invoiceCallback(intent), { ts: nowSec() + 400 })).status).toBe(401);
    expect(await snapshot(h.store)).toEqual(before);
    expect((await deliveriesOf(h)).every((d) => d.verificationError === 'timestamp outside the allowed window')).toBe(true);

    expect((await postWebhook(h, invoiceCallback(intent), { ts: nowSec() - 200 })).status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });

  it('a malformed body → 400, recorded, nothing changed', async () => {
    await start();
    const intent = await intentFor(h, s);
    const before = await snapshot(h.store);
    const notJson = await postWebhook(h, 'this is not json');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('malformed_json');
    const bodies = [
      { external_id: intent.externalId },
      invoiceCallback(intent, { status: 'UNPAID' }),
      invoiceCallback(intent, { transactions: [] }),
      invoiceCallback(intent, { balance_fiat: 26.01 }),
      [invoiceCallback(intent)],
    ];
    for (const b of bodies) {
      const r = await postWebhook(h, b);
      expect(r.status, JSON.stringify(b).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect((await deliveriesOf(h)).map((d) => d.outcome)).toEqual(Array(6).fill('malformed'));
  });

  it('an unknown external id → 202 (so SHKeeper stops), recorded as unknown_invoice, nothing changed', async () => {
    await start();
    await intentFor(h, s);
    const before = await snapshot(h.store);
    const r = await postWebhook(h, invoiceCallback('AMN_' + newObjectId()));
    expect(r.status).toBe(202);
    expect(await snapshot(h.store)).toEqual(before);
    expect((await deliveriesOf(h))[0]).toMatchObject({ outcome: 'unknown_invoice', verification: 'hmac_timestamp', paymentId: null });
  });
});

describe('without a secret', () => {
  it('answers 503 not_configured (SHKeeper keeps retrying) and changes nothing', async () => {
    await start({ env: { SHKEEPER_API_KEY: '' }, fake: { callbackMaxAttempts: 2 } });
    expect(h.config.shkeeper.webhookSecret).toBeUndefined();
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([503, 503]);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });
});

describe('what a completion does, exactly once', () => {
  it('accepts the chosen offer, rejects its sibling, moves the request, and announces each once', async () => {
    await start();
    const intent = await intentFor(h, s);
    const mark = h.events.emitted.length;
    const paid = h.fake.pay({ externalId: intent.externalId, callback: { duplicates: 2 } });
    await h.fake.callbacksSettled();
    // A second transaction (an OVERPAID callback) after completion moves no status and announces
    // nothing; it is recorded on the escrow as excess (it used to be dropped as a duplicate: issue 10).
    const second = h.fake.pay({ externalId: intent.externalId, amountCrypto: '1' });
    await h.fake.callbacksSettled();
    expect(acked()).toEqual([202, 202, 202, 202]);

    expect((await h.store.sellerOffers.findById(s.offer.id))?.status).toBe('accepted');
    expect((await h.store.sellerOffers.findById(s.otherOffer.id))?.status).toBe('rejected');
    expect((await h.store.purchaseRequests.findById(s.request.id))?.status).toBe('payment_processing');
    const p = await paymentOf(h, intent.paymentId);
    expect(p.history.map((x) => x.toStatus)).toEqual(['pending', 'completed']);
    expect(p.transactionHash).toBe(paid.txid);

    const after = h.events.emitted.slice(mark);
    const offerUpdates = after.filter((e) => e.event === 'seller-offer-update');
    expect(offerUpdates).toEqual([
      {
        target: { kind: 'seller', id: 'seller-1' },
        event: 'seller-offer-update',
        payload: { sellerOfferId: s.offer.id, purchaseRequestId: s.request.id, status: 'accepted' },
      },
      {
        target: { kind: 'request', id: s.request.id },
        event: 'seller-offer-update',
        payload: { sellerOfferId: s.offer.id, purchaseRequestId: s.request.id, status: 'accepted' },
      },
      {
        target: { kind: 'seller', id: 'seller-2' },
        event: 'seller-offer-update',
        payload: { sellerOfferId: s.otherOffer.id, purchaseRequestId: s.request.id, status: 'rejected' },
      },
      {
        target: { kind: 'request', id: s.request.id },
        event: 'seller-offer-update',
        payload: { sellerOfferId: s.otherOffer.id, purchaseRequestId: s.request.id, status: 'rejected' },
      },
    ]);
    expect(after.filter((e) => e.event === 'purchase-request-update')).toEqual([
      {
        target: { kind: 'request', id: s.request.id },
        event: 'purchase-request-update',
        payload: { purchaseRequestId: s.request.id, status: 'payment_processing', type: 'payment_completed', paymentId: intent.paymentId },
      },
    ]);
    const updates = after.filter((e) => e.event === 'payment-updated');
    expect(updates.map((e) => e.target)).toEqual([
      { kind: 'request', id: s.request.id },
      { kind: 'user', id: BUYER },
      { kind: 'seller', id: 'seller-1' },
    ]);
    expect(updates.every((e) => (e.payload as { status: string }).status === 'completed')).toBe(true);

    const outcomes = (await deliveriesOf(h)).map((d) => d.outcome);
    expect(outcomes).toEqual(['applied', 'duplicate', 'duplicate', 'excess']);
    expect(p.escrow!.credits.map((c) => [c.kind, c.reason, c.txHash, c.amount])).toEqual([
      ['funding', 'overpaid', paid.txid, '26.01'],
      ['excess', 'second_payment', second.txid, '1'],
    ]);
    expect(p.escrow!.received).toBe('27.01');
    await expectSoundLedgers(h);
  });
});

describe('GET /shkeeper/webhook-stats', () => {
  it('401 anonymous, 403 for a non-admin', async () => {
    await start();
    expect((await h.anonymous.get('/shkeeper/webhook-stats')).status).toBe(401);
    const user = await h.as(BUYER).get('/shkeeper/webhook-stats');
    expect(user.status).toBe(403);
    expect(user.body.error.code).toBe('admin_required');
  });

  it('counts success, duplicate, bad signature and failure from the stored deliveries', async () => {
    await start({ fake: { callbackMaxAttempts: 2 } });
    expect(await webhookStats(h)).toMatchObject({ total: 0, success: 0, duplicate: 0, badSignature: 0, failure: 0 });
    const intent = await intentFor(h, s);
    h.fake.pay({ externalId: intent.externalId, callback: { duplicates: 1 } }); // success + duplicate
    await h.fake.callbacksSettled();
    await postWebhook(h, invoiceCallback(intent), { secret: 'wrong' }); // bad signature
    await postWebhook(h, '{"broken"'); // failure: malformed
    await postWebhook(h, invoiceCallback('AMN_unknown')); // failure: unknown invoice
    const stats = await webhookStats(h);
    expect(stats).toEqual({
      total: 5,
      success: 1,
      duplicate: 1,
      badSignature: 1,
      failure: 2,
      latePayments: 0,
      stale: 0,
      inFlight: 0,
      excess: 0,
      refused: 0,
      inbox: { depth: 0, running: 0, dead: 0, lagSeconds: 0 },
    });

    const full = await h.as({ admin: ADMIN }).get('/shkeeper/webhook-stats');
    expect(full.body.data.payout).toMatchObject({ total: 0 });

    // Derived from the stored rows, not from process memory: a row written elsewhere counts.
    const row = (await deliveriesOf(h))[0]!;
    await h.store.webhookDeliveries.insertOne({ ...row, id: newObjectId(), dedupeKey: null, outcome: 'duplicate' });
    expect((await webhookStats(h)).duplicate).toBe(2);
  });
});
