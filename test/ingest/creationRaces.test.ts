import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store/store.js';
import { payment } from '../helpers/fixtures.js';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { BUYER, SELLER, ingestMarketplace, offerBody, requestBody, service } from './ingestKit.js';

/**
 * The marketplace changing a request or an offer at the very moment a buyer creates a payment of
 * it. Each side writes first and reads the other after (the ingest looks for a holder after its
 * offer write; the coordinator re-reads the request and offer after its insert), so whatever the
 * interleaving: no open payment of a cancelled request, and no live payment of an offer whose
 * price, currency, seller or request is not the payment's.
 */

/** A store whose `<collection>.updateOne` first runs `before` (once): a payment created between the ingest's check and its write. */
function interposeWrite(collection: 'sellerOffers' | 'purchaseRequests', before: (store: Store) => Promise<boolean>) {
  let armed = true;
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, key) {
        const v = Reflect.get(target, key) as unknown;
        if (key !== collection) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return new Proxy(v as object, {
          get(c, op) {
            const f = Reflect.get(c, op) as (...a: unknown[]) => Promise<unknown>;
            if (op !== 'updateOne' || typeof f !== 'function') return typeof f === 'function' ? f.bind(c) : f;
            return async (...args: unknown[]) => {
              if (armed && (await before(target))) armed = false;
              return f.apply(c, args);
            };
          },
        });
      },
    });
}

const createBody = (requestId: string, offerId: string, amount = '25.5') => ({
  purchaseRequestId: requestId,
  sellerOfferId: offerId,
  buyerId: BUYER,
  sellerId: SELLER,
  amount: { amount, currency: 'USDT' },
});

/** A new pending payment of the offer as its creator checked it (25.5 USDT from seller-1), holding the offer. */
function newPayment(requestId: string, offerId: string) {
  const {
    history: _h,
    createdAt: _c,
    updatedAt: _u,
    pendingEffects: _e,
    escrow: _l,
    creditKeys: _k,
    fundedRequestKey: _f,
    ...fresh
  } = payment({
    purchaseRequestId: requestId,
    sellerOfferId: offerId,
    buyerId: BUYER,
    sellerId: SELLER,
    liveOfferKey: offerId,
  });
  return fresh;
}

/** A pending payment holding the offer, as a creation that passed its own checks inserts it. */
const holder = (requestId: string, offerId: string) =>
  payment({ purchaseRequestId: requestId, sellerOfferId: offerId, buyerId: BUYER, sellerId: SELLER, liveOfferKey: offerId });

/** Every payment of the offer still open or settled is priced as the offer is now. */
async function expectBoundToTheOffer(t: TestWorld, offerId: string) {
  const offer = (await t.store.sellerOffers.findById(offerId))!;
  const live = (await t.store.payments.find({ sellerOfferId: offerId })).filter((p) => p.status !== 'cancelled' && p.status !== 'failed');
  for (const p of live) expect([p.amount.amount, p.amount.currency, p.sellerId]).toEqual([offer.amount, offer.currency, offer.sellerId]);
  return live;
}

describe('a payment created between the ingest’s check and its offer write', () => {
  it('the price change is taken back and refused (409 offer_in_use); the payment keeps the price it was made for', async () => {
    let requestId = '';
    let offerId = '';
    const wrap = interposeWrite('sellerOffers', async (store) => {
      await store.payments.insertOne(holder(requestId, offerId));
      return true;
    });
    const t = await startTestWorld({ wrapStore: (s) => wrap(s) });
    ({ requestId, offerId } = await ingestMarketplace(t));
    const res = await service(t).put(`/seller-offers/${offerId}`, offerBody(requestId, { amount: '30' }));
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('offer_in_use');
    expect((await t.store.sellerOffers.findById(offerId))!.amount).toBe('25.5');
    expect(await expectBoundToTheOffer(t, offerId)).toHaveLength(1);
  });
});

describe('a payment created between the ingest’s check and its request write', () => {
  it.each([
    ['the refund wallet', { buyerWalletAddress: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' }],
    ['the buyer', { buyerId: 'buyer-9' }],
    ['the buyer, sent with a cancel', { buyerId: 'buyer-9', status: 'cancelled' }],
  ])('%s is put back with everything the PUT wrote (409 purchase_request_in_use)', async (_what, change) => {
    let requestId = '';
    let offerId = '';
    let armed = false;
    const wrap = interposeWrite('purchaseRequests', async (store) => {
      if (!armed) return false;
      await store.payments.insertOne(holder(requestId, offerId));
      return true;
    });
    const t = await startTestWorld({ wrapStore: (s) => wrap(s) });
    ({ requestId, offerId } = await ingestMarketplace(t));
    const set = await service(t).put(`/purchase-requests/${requestId}`, requestBody({ buyerWalletAddress: '0x1111111111111111111111111111111111111111' }));
    expect(set.status, set.text).toBe(200);
    const before = (await t.store.purchaseRequests.findById(requestId))!;
    armed = true;
    const res = await service(t).put(`/purchase-requests/${requestId}`, requestBody({ buyerWalletAddress: before.buyerWalletAddress, ...change }));
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('purchase_request_in_use');
    const after = (await t.store.purchaseRequests.findById(requestId))!;
    expect([after.buyerId, after.buyerWalletAddress, after.status]).toEqual([before.buyerId, before.buyerWalletAddress, 'open']);
  });
});

describe('the coordinator reads the request and offer again after creating a payment', () => {
  it('an offer repriced after the creator checked it: the new payment is cancelled and 409 offer_in_use', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    // The creator checked 25.5 (the record says so); the offer moves to 30 before its insert.
    await t.store.sellerOffers.updateOne({ id: offerId }, { $set: { amount: '30' } });
    const record = newPayment(requestId, offerId);
    await expect(t.ctx.coordinator.create(record, 'test', BUYER)).rejects.toMatchObject({ code: 'offer_in_use' });
    expect((await t.store.payments.findById(record.id))?.status).toBe('cancelled');
    await expectBoundToTheOffer(t, offerId);
  });

  it('a request cancelled after the creator checked it: the new payment is cancelled and 409 purchase_request_not_open', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await t.store.purchaseRequests.updateOne({ id: requestId }, { $set: { status: 'cancelled' } });
    const record = newPayment(requestId, offerId);
    await expect(t.ctx.coordinator.create(record, 'test', BUYER)).rejects.toMatchObject({ code: 'purchase_request_not_open' });
    expect((await t.store.payments.findById(record.id))?.status).toBe('cancelled');
  });
});

describe('racing for real, many times', () => {
  it('a reprice and a payment creation at once never leave a live payment at another price than its offer', async () => {
    const t = await startTestWorld();
    for (let round = 0; round < 15; round++) {
      const { requestId, offerId } = await ingestMarketplace(t);
      const [put, created] = await Promise.all([
        service(t).put(`/seller-offers/${offerId}`, offerBody(requestId, { amount: '30' })),
        t.as(BUYER).post('', createBody(requestId, offerId)),
      ]);
      expect([200, 409], put.text).toContain(put.status);
      expect([201, 409], created.text).toContain(created.status);
      await expectBoundToTheOffer(t, offerId);
    }
  });

  it('a cancel and a payment creation at once never leave an open payment on a cancelled request', async () => {
    const t = await startTestWorld();
    for (let round = 0; round < 15; round++) {
      const { requestId, offerId } = await ingestMarketplace(t);
      const [cancel, created] = await Promise.all([
        service(t).put(`/purchase-requests/${requestId}`, requestBody({ status: 'cancelled' })),
        t.as(BUYER).post('', createBody(requestId, offerId)),
      ]);
      expect(cancel.status, cancel.text).toBe(200);
      expect([201, 409], created.text).toContain(created.status);
      const open = (await t.store.payments.find({ purchaseRequestId: requestId })).filter((p) => p.status === 'pending' || p.status === 'processing');
      expect(open).toEqual([]);
    }
  });
});
