import { describe, expect, it } from 'vitest';
import { expectRefused } from '../helpers/controllerKit.js';
import { dataOf, startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { OTHER_WALLET, ingestMarketplace, offerBody, paymentOfRequest, requestBody, service } from './ingestKit.js';

const putOffer = (t: TestWorld, id: string, body: unknown) => () => service(t).put(`/seller-offers/${id}`, body);

/** An offer held by a live payment (its `liveOfferKey`), in a given status. */
async function heldOffer(status: 'pending' | 'processing' | 'completed' = 'pending') {
  const t = await startTestWorld();
  const m = await ingestMarketplace(t);
  const payment = await paymentOfRequest(t, m.requestId, m.offerId, {
    status,
    escrowState: status === 'completed' ? 'funded' : 'unfunded',
    liveOfferKey: m.offerId,
  });
  return { t, ...m, payment };
}

describe('an offer a live payment holds', () => {
  it.each([
    ['amount', { amount: '1' }],
    ['currency', { currency: 'USDC' }],
    ['walletAddress', { walletAddress: OTHER_WALLET }],
    ['walletAddress', { walletAddress: null }],
    ['sellerId', { sellerId: 'seller-9' }],
  ])('refuses a change of %s (409 offer_in_use)', async (field, over) => {
    const { t, requestId, offerId, payment } = await heldOffer('completed');
    const res = await expectRefused(t, putOffer(t, offerId, offerBody(requestId, over)), 409, 'offer_in_use');
    expect(res.body.error.details).toMatchObject({ fields: [field], paymentId: payment.id });
  });

  it('refuses moving it to another purchase request (409 offer_in_use)', async () => {
    const { t, requestId, offerId } = await heldOffer();
    const other = await service(t).put(`/purchase-requests/${'a'.repeat(24)}`, requestBody());
    expect(other.status).toBe(201);
    await expectRefused(t, putOffer(t, offerId, offerBody('a'.repeat(24))), 409, 'offer_in_use');
    expect((await t.store.sellerOffers.findById(offerId))?.purchaseRequestId).toBe(requestId);
  });

  it('refuses rejecting it while a payment is pending on it (409 offer_in_use)', async () => {
    const { t, requestId, offerId } = await heldOffer('pending');
    await expectRefused(t, putOffer(t, offerId, offerBody(requestId, { status: 'rejected' })), 409, 'offer_in_use');
  });

  it('answers an identical repeat with 200', async () => {
    const { t, requestId, offerId } = await heldOffer('processing');
    const res = await service(t).put(`/seller-offers/${offerId}`, offerBody(requestId));
    expect(res.status).toBe(200);
  });

  it('lets the money fields change again once the payment no longer holds it (cancelled)', async () => {
    const { t, requestId, offerId, payment } = await heldOffer('pending');
    await t.ctx.coordinator.transition(payment.id, { to: 'cancelled', source: 'test', actor: 'test' });
    const res = await service(t).put(`/seller-offers/${offerId}`, offerBody(requestId, { amount: '40' }));
    expect(res.status).toBe(200);
    expect(dataOf(res)).toMatchObject({ amount: '40' });
  });
});

describe('an accepted offer (its escrow was funded)', () => {
  async function accepted() {
    const t = await startTestWorld();
    const m = await ingestMarketplace(t);
    await t.store.sellerOffers.updateOne({ id: m.offerId }, { $set: { status: 'accepted' } });
    return { t, ...m };
  }

  it('refuses a new price or release wallet even with no live payment (409 offer_in_use)', async () => {
    const { t, requestId, offerId } = await accepted();
    await expectRefused(t, putOffer(t, offerId, offerBody(requestId, { amount: '99' })), 409, 'offer_in_use');
    await expectRefused(t, putOffer(t, offerId, offerBody(requestId, { walletAddress: OTHER_WALLET })), 409, 'offer_in_use');
    await expectRefused(t, putOffer(t, offerId, offerBody(requestId, { status: 'rejected' })), 409, 'offer_in_use');
  });

  it('stays accepted when the marketplace repeats it as pending (200)', async () => {
    const { t, requestId, offerId } = await accepted();
    const res = await service(t).put(`/seller-offers/${offerId}`, offerBody(requestId));
    expect(res.status).toBe(200);
    expect(dataOf(res)).toMatchObject({ status: 'accepted', amount: '25.5' });
  });
});
