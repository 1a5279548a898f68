import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { expectRefused } from '../helpers/controllerKit.js';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { WALLET, ingestMarketplace, offerBody, paymentOfRequest, requestBody, service } from './ingestKit.js';

/** Each refusal answers its code and leaves the store and the events as they were (expectRefused). */
const putRequest = (t: TestWorld, id: string, body: unknown) => () => service(t).put(`/purchase-requests/${id}`, body);
const putOffer = (t: TestWorld, id: string, body: unknown) => () => service(t).put(`/seller-offers/${id}`, body);

describe('ingest validation: purchase requests', () => {
  it.each([
    ['a malformed id', 'not-an-id', requestBody()],
    ['an upper-case id', 'ABCDEFABCDEFABCDEFABCDEF', requestBody()],
  ])('refuses %s with 400 validation_error', async (_name, id, body) => {
    const t = await startTestWorld();
    await expectRefused(t, putRequest(t, id, body), 400, 'validation_error');
  });

  it.each([
    ['an unknown key', requestBody({ price: '10' })],
    ['a $-key', requestBody({ $set: { status: 'open' } })],
    ['no buyerId', { title: 'x', status: 'open' }],
    ['a bad buyerId', requestBody({ buyerId: 'a b' })],
    ['an empty title', requestBody({ title: '' })],
    ['a wallet that is not an EVM address', requestBody({ buyerWalletAddress: '0x123' })],
    ['an unknown status', requestBody({ status: 'deleted' })],
    ['no status', { buyerId: 'buyer-1' }],
  ])('refuses %s with 400 validation_error', async (_name, body) => {
    const t = await startTestWorld();
    await expectRefused(t, putRequest(t, newObjectId(), body), 400, 'validation_error');
  });

  it.each(['payment_processing', 'seller_paid', 'refunded', 'closed'])('refuses the service-owned status %s with 400 status_not_settable', async (status) => {
    const t = await startTestWorld();
    const { requestId } = await ingestMarketplace(t);
    await expectRefused(t, putRequest(t, requestId, requestBody({ status })), 400, 'status_not_settable');
    await expectRefused(t, putRequest(t, newObjectId(), requestBody({ status })), 400, 'status_not_settable');
  });

  it('refuses to re-open a cancelled request (409 purchase_request_cancelled)', async () => {
    const t = await startTestWorld();
    const { requestId } = await ingestMarketplace(t);
    expect((await service(t).put(`/purchase-requests/${requestId}`, requestBody({ status: 'cancelled' }))).status).toBe(200);
    await expectRefused(t, putRequest(t, requestId, requestBody({ status: 'open' })), 409, 'purchase_request_cancelled');
  });

  it.each(['seller_paid', 'refunded', 'closed'] as const)('refuses to cancel a %s request (409 purchase_request_finished)', async (status) => {
    const t = await startTestWorld();
    const { requestId } = await ingestMarketplace(t);
    await t.store.purchaseRequests.updateOne({ id: requestId }, { $set: { status } });
    await expectRefused(t, putRequest(t, requestId, requestBody({ status: 'cancelled' })), 409, 'purchase_request_finished');
  });

  it('refuses to change the buyer once a payment of the request exists (409 purchase_request_in_use)', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await paymentOfRequest(t, requestId, offerId, { status: 'failed', escrowState: 'unfunded' });
    await expectRefused(t, putRequest(t, requestId, requestBody({ buyerId: 'buyer-2' })), 409, 'purchase_request_in_use');
  });

  it('refuses to change a buyer wallet already set once a payment exists, but lets a missing one be set', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await paymentOfRequest(t, requestId, offerId);
    const set = await service(t).put(`/purchase-requests/${requestId}`, requestBody({ buyerWalletAddress: WALLET }));
    expect(set.status).toBe(200);
    await expectRefused(t, putRequest(t, requestId, requestBody({ buyerWalletAddress: null })), 409, 'purchase_request_in_use');
  });

  it('lets the buyer change while no payment exists', async () => {
    const t = await startTestWorld();
    const { requestId } = await ingestMarketplace(t);
    const res = await service(t).put(`/purchase-requests/${requestId}`, requestBody({ buyerId: 'buyer-2' }));
    expect(res.status).toBe(200);
    expect((await t.store.purchaseRequests.findById(requestId))?.buyerId).toBe('buyer-2');
  });
});

describe('ingest validation: seller offers', () => {
  it.each([
    ['an unknown key', { note: 'x' }],
    ['a float amount', { amount: 0.1 + 0.2 }],
    ['a negative amount', { amount: '-1' }],
    ['a zero amount', { amount: '0' }],
    ['an exponent amount', { amount: '1e3' }],
    ['more than 18 decimals', { amount: `0.${'1'.repeat(19)}` }],
    ['a wallet that is not an EVM address', { walletAddress: 'nope' }],
    ['a bad currency', { currency: '$' }],
    ['a bad purchaseRequestId', { purchaseRequestId: 'x' }],
    ['an unknown status', { status: 'won' }],
  ])('refuses %s with 400 validation_error', async (_name, over) => {
    const t = await startTestWorld();
    const { requestId } = await ingestMarketplace(t);
    await expectRefused(t, putOffer(t, newObjectId(), offerBody(requestId, over)), 400, 'validation_error');
  });

  it('refuses the service-owned status accepted with 400 status_not_settable', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await expectRefused(t, putOffer(t, offerId, offerBody(requestId, { status: 'accepted' })), 400, 'status_not_settable');
    await expectRefused(t, putOffer(t, newObjectId(), offerBody(requestId, { status: 'accepted' })), 400, 'status_not_settable');
  });

  it('refuses an offer on an unknown purchase request (404 purchase_request_not_found)', async () => {
    const t = await startTestWorld();
    await ingestMarketplace(t);
    await expectRefused(t, putOffer(t, newObjectId(), offerBody(newObjectId())), 404, 'purchase_request_not_found');
  });
});
