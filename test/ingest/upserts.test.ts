import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { dataOf, startTestWorld } from '../helpers/testWorld.js';
import { BUYER, OTHER_WALLET, SELLER, WALLET, offerBody, requestBody, service } from './ingestKit.js';

describe('PUT /purchase-requests/:id — idempotent by id', () => {
  it('creates the request (201) and answers it as stored', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    const res = await service(t).put(`/purchase-requests/${id}`, requestBody({ buyerWalletAddress: OTHER_WALLET.toLowerCase() }));
    expect(res.status).toBe(201);
    const stored = await t.store.purchaseRequests.findById(id);
    expect(stored).toMatchObject({ id, buyerId: BUYER, title: 'Vintage lamp', buyerWalletAddress: OTHER_WALLET, status: 'open' });
    expect(dataOf(res)).toEqual(JSON.parse(JSON.stringify(stored)));
  });

  it('updates fields (200) and answers the new record', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    await service(t).put(`/purchase-requests/${id}`, requestBody());
    const res = await service(t).put(`/purchase-requests/${id}`, requestBody({ title: 'Brass lamp', buyerWalletAddress: WALLET }));
    expect(res.status).toBe(200);
    expect(dataOf(res)).toMatchObject({ id, title: 'Brass lamp', buyerWalletAddress: WALLET, status: 'open' });
    expect(await t.store.purchaseRequests.findById(id)).toMatchObject({ title: 'Brass lamp', buyerWalletAddress: WALLET });
  });

  it('answers an identical repeat with 200 and the record unchanged (no write)', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    await service(t).put(`/purchase-requests/${id}`, requestBody({ buyerWalletAddress: OTHER_WALLET }));
    const before = await t.store.purchaseRequests.findById(id);
    // The same wallet in another case is the same wallet: no change.
    const res = await service(t).put(`/purchase-requests/${id}`, requestBody({ buyerWalletAddress: OTHER_WALLET.toLowerCase() }));
    expect(res.status).toBe(200);
    expect(await t.store.purchaseRequests.findById(id)).toEqual(before);
    expect(dataOf(res)).toEqual(JSON.parse(JSON.stringify(before)));
  });

  it('treats a left-out title or wallet as null (PUT replaces the record)', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    await service(t).put(`/purchase-requests/${id}`, requestBody({ buyerWalletAddress: WALLET }));
    const res = await service(t).put(`/purchase-requests/${id}`, { buyerId: BUYER, status: 'open' });
    expect(res.status).toBe(200);
    expect(await t.store.purchaseRequests.findById(id)).toMatchObject({ title: null, buyerWalletAddress: null });
  });

  it('keeps the status the service has moved a request to when the marketplace says "open"', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    await service(t).put(`/purchase-requests/${id}`, requestBody());
    await t.store.purchaseRequests.updateOne({ id }, { $set: { status: 'payment_processing' } });
    const res = await service(t).put(`/purchase-requests/${id}`, requestBody({ title: 'Renamed' }));
    expect(res.status).toBe(200);
    expect(dataOf(res)).toMatchObject({ status: 'payment_processing', title: 'Renamed' });
  });

  it('creates once when two identical PUTs race: one 201, one 200, one record', async () => {
    const t = await startTestWorld();
    const id = newObjectId();
    const answers = await Promise.all([service(t).put(`/purchase-requests/${id}`, requestBody()), service(t).put(`/purchase-requests/${id}`, requestBody())]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(await t.store.purchaseRequests.count({ id })).toBe(1);
  });
});

describe('PUT /seller-offers/:id — idempotent by id', () => {
  async function withRequest() {
    const t = await startTestWorld();
    const requestId = newObjectId();
    await service(t).put(`/purchase-requests/${requestId}`, requestBody());
    return { t, requestId };
  }

  it('creates the offer (201) with the amount as a normalised decimal string and the wallet checksummed', async () => {
    const { t, requestId } = await withRequest();
    const id = newObjectId();
    const res = await service(t).put(
      `/seller-offers/${id}`,
      offerBody(requestId, { amount: '25.50', currency: 'usdt', walletAddress: OTHER_WALLET.toLowerCase() }),
    );
    expect(res.status).toBe(201);
    const stored = await t.store.sellerOffers.findById(id);
    expect(stored).toMatchObject({
      id,
      purchaseRequestId: requestId,
      sellerId: SELLER,
      amount: '25.5',
      currency: 'USDT',
      walletAddress: OTHER_WALLET,
      status: 'pending',
    });
    expect(typeof dataOf<{ amount: unknown }>(res).amount).toBe('string');
    expect(dataOf(res)).toEqual(JSON.parse(JSON.stringify(stored)));
  });

  it('updates an offer no payment holds (200): price, wallet, status rejected and back to pending', async () => {
    const { t, requestId } = await withRequest();
    const id = newObjectId();
    await service(t).put(`/seller-offers/${id}`, offerBody(requestId));
    const res = await service(t).put(`/seller-offers/${id}`, offerBody(requestId, { amount: '30', walletAddress: OTHER_WALLET }));
    expect(res.status).toBe(200);
    expect(dataOf(res)).toMatchObject({ amount: '30', walletAddress: OTHER_WALLET });
    const rejected = await service(t).put(`/seller-offers/${id}`, offerBody(requestId, { amount: '30', walletAddress: OTHER_WALLET, status: 'rejected' }));
    expect(dataOf(rejected)).toMatchObject({ status: 'rejected' });
    const again = await service(t).put(`/seller-offers/${id}`, offerBody(requestId, { amount: '30', walletAddress: OTHER_WALLET }));
    expect(dataOf(again)).toMatchObject({ status: 'pending' });
  });

  it('answers an identical repeat (the same amount spelled otherwise) with 200 and no write', async () => {
    const { t, requestId } = await withRequest();
    const id = newObjectId();
    await service(t).put(`/seller-offers/${id}`, offerBody(requestId));
    const before = await t.store.sellerOffers.findById(id);
    const res = await service(t).put(`/seller-offers/${id}`, offerBody(requestId, { amount: '25.500' }));
    expect(res.status).toBe(200);
    expect(await t.store.sellerOffers.findById(id)).toEqual(before);
  });

  it('announces a created offer to its seller and the request room', async () => {
    const { t, requestId } = await withRequest();
    const id = newObjectId();
    await service(t).put(`/seller-offers/${id}`, offerBody(requestId));
    expect(t.events.emitted.some((e) => e.event === 'seller-offer-update' && (e.payload as { sellerOfferId: string }).sellerOfferId === id)).toBe(true);
  });
});
