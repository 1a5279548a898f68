import { describe, expect, it } from 'vitest';
import type { PaymentStatus, EscrowState } from '../../src/core/store/records.js';
import { newObjectId } from '../../src/platform/ids.js';
import { expectRefused } from '../helpers/controllerKit.js';
import { paymentOf, startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { BUYER, MARKETPLACE, SELLER, ingestMarketplace, paymentOfRequest, requestBody, service } from './ingestKit.js';

const cancel = (t: TestWorld, requestId: string) => service(t).put(`/purchase-requests/${requestId}`, requestBody({ status: 'cancelled' }));

describe('a purchase request the marketplace cancels', () => {
  it('becomes cancelled, and its pending payments are cancelled through the coordinator', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    const pending = await paymentOfRequest(t, requestId, offerId, { liveOfferKey: offerId });
    const res = await cancel(t, requestId);
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('cancelled');
    const p = await paymentOf(t, pending.id);
    expect(p.status).toBe('cancelled');
    expect(p.liveOfferKey).toBeNull();
    expect(p.history.at(-1)).toMatchObject({
      fromStatus: 'pending',
      toStatus: 'cancelled',
      source: 'marketplace',
      actor: MARKETPLACE,
      reason: 'purchase request cancelled',
    });
    expect(t.events.named('payment-updated').some((e) => (e.payload as { paymentId: string }).paymentId === p.id)).toBe(true);
    expect(t.events.named('purchase-request-update').some((e) => (e.payload as { type: string }).type === 'request_cancelled')).toBe(true);
  });

  it.each([
    ['processing', 'unfunded', 'request_cancelled_while_processing'],
    ['completed', 'funded', 'request_cancelled_with_funded_escrow'],
  ] as const)('never changes a %s payment (escrow %s): it is flagged for an admin (%s)', async (status, escrowState, reason) => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    const held = await paymentOfRequest(t, requestId, offerId, { status, escrowState, liveOfferKey: offerId });
    await cancel(t, requestId);
    const p = await paymentOf(t, held.id);
    expect({ status: p.status, escrowState: p.escrowState, liveOfferKey: p.liveOfferKey, escrow: p.escrow }).toEqual({
      status,
      escrowState,
      liveOfferKey: offerId,
      escrow: held.escrow,
    });
    expect(p.attention).toEqual([expect.objectContaining({ reason, source: 'marketplace', actor: MARKETPLACE })]);
  });

  it.each([
    ['released', 'released'],
    ['refunded', 'refunded'],
    ['failed', 'unfunded'],
    ['cancelled', 'unfunded'],
  ] as [PaymentStatus, EscrowState][])('leaves a %s payment alone', async (status, escrowState) => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    const done = await paymentOfRequest(t, requestId, offerId, { status, escrowState });
    const before = await paymentOf(t, done.id);
    expect((await cancel(t, requestId)).status).toBe(200);
    expect(await paymentOf(t, done.id)).toEqual(before);
  });

  it('changes nothing more when the cancel is repeated', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await paymentOfRequest(t, requestId, offerId);
    await paymentOfRequest(t, requestId, offerId, { status: 'processing' });
    await paymentOfRequest(t, requestId, offerId, { status: 'completed', escrowState: 'funded' });
    expect((await cancel(t, requestId)).status).toBe(200);
    const after = { payments: await t.store.payments.find({}, { sort: { id: 1 } }), request: await t.store.purchaseRequests.findById(requestId) };
    const emitted = t.events.emitted.length;
    const again = await cancel(t, requestId);
    expect(again.status).toBe(200);
    expect({ payments: await t.store.payments.find({}, { sort: { id: 1 } }), request: await t.store.purchaseRequests.findById(requestId) }).toEqual(after);
    expect(t.events.emitted.length).toBe(emitted);
  });

  it('a repeated cancel cancels a pending payment that appeared after the first one (a creation that raced it)', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    await cancel(t, requestId);
    const late = await paymentOfRequest(t, requestId, offerId);
    await cancel(t, requestId);
    expect((await paymentOf(t, late.id)).status).toBe('cancelled');
  });

  it('two racing PUTs (a cancel and an "open" rename) never re-open it: the request ends cancelled, its pending payment too', async () => {
    const t = await startTestWorld();
    const { requestId, offerId } = await ingestMarketplace(t);
    const pending = await paymentOfRequest(t, requestId, offerId);
    const [cancelled, renamed] = await Promise.all([
      cancel(t, requestId),
      service(t).put(`/purchase-requests/${requestId}`, requestBody({ title: 'Renamed' })),
    ]);
    expect(cancelled.status).toBe(200);
    expect([200, 409]).toContain(renamed.status);
    if (renamed.status === 409) expect(renamed.body.error.code).toBe('purchase_request_cancelled');
    expect((await t.store.purchaseRequests.findById(requestId))?.status).toBe('cancelled');
    expect((await paymentOf(t, pending.id)).status).toBe('cancelled');
  });

  it('a request created already cancelled is stored cancelled (201), and stays final', async () => {
    const t = await startTestWorld();
    const requestId = newObjectId();
    const res = await cancel(t, requestId);
    expect(res.status).toBe(201);
    expect((await t.store.purchaseRequests.findById(requestId))?.status).toBe('cancelled');
    expect((await service(t).put(`/purchase-requests/${requestId}`, requestBody())).status).toBe(409);
  });
});

describe('no payment starts on a cancelled purchase request', () => {
  async function cancelledMarketplace() {
    const t = await startTestWorld();
    const m = await ingestMarketplace(t);
    expect((await cancel(t, m.requestId)).status).toBe(200);
    return { t, ...m };
  }

  it('POST / (the controller) answers 409 purchase_request_not_open', async () => {
    const { t, requestId, offerId } = await cancelledMarketplace();
    const body = { purchaseRequestId: requestId, sellerOfferId: offerId, buyerId: BUYER, sellerId: SELLER, amount: { amount: '25.5', currency: 'USDT' } };
    await expectRefused(t, () => t.as(BUYER).post('/', body), 409, 'purchase_request_not_open');
  });

  it('POST /configuration scoped to it answers 409 purchase_request_not_open', async () => {
    const { t, requestId } = await cancelledMarketplace();
    await expectRefused(t, () => t.anonymous.post('/configuration', { purchaseRequestId: requestId }), 409, 'purchase_request_not_open');
  });

  it('POST /shkeeper/intents answers 409 offer_not_open', async () => {
    const { t, requestId, offerId } = await cancelledMarketplace();
    const body = { purchaseRequestId: requestId, sellerOfferId: offerId, amount: '25.5', sellerId: SELLER };
    await expectRefused(t, () => t.as(BUYER).post('/shkeeper/intents', body), 409, 'offer_not_open');
  });

  it('POST /decentralized/save answers 409 purchase_request_not_open instead of creating a payment', async () => {
    const { t, requestId } = await cancelledMarketplace();
    const body = { purchaseRequestId: requestId, buyerId: BUYER, sellerId: SELLER, amount: '25.5' };
    await expectRefused(t, () => t.anonymous.post('/decentralized/save', body), 409, 'purchase_request_not_open');
    // The same save on an open request creates a payment: the refusal above is about the cancel.
    const open = await startTestWorld();
    const m = await ingestMarketplace(open);
    const saved = await open.anonymous.post('/decentralized/save', { ...body, purchaseRequestId: m.requestId });
    expect(saved.status).toBe(200);
  });
});
