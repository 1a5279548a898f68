import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import type { PaymentStatus, SellerOfferRecord } from '../../src/core/store/records.js';
import { payment, purchaseRequest, seedMarketplace, sellerOffer, snapshot } from '../helpers/fixtures.js';
import { createBody, expectError, expectRefused, inState } from '../helpers/controllerKit.js';
import { startTestWorld } from '../helpers/testWorld.js';

async function market() {
  const t = await startTestWorld();
  const m = await seedMarketplace(t.store);
  const post = (body: unknown, bearer = t.bearer('buyer-1')) =>
    t
      .http()
      .post('/api/payment')
      .set('Authorization', bearer)
      .send(body as object);
  /** An open request of buyer-1 with one pending offer of seller-1, inserted as given. */
  const offering = async (over: Partial<SellerOfferRecord>) => {
    const request = purchaseRequest({ buyerId: 'buyer-1' });
    const offer = sellerOffer({ purchaseRequestId: request.id, sellerId: 'seller-1', ...over });
    await t.store.purchaseRequests.insertOne(request);
    await t.store.sellerOffers.insertOne(offer);
    return { request, offer };
  };
  return { ...t, ...m, post, offering };
}

describe('POST /api/payment', () => {
  it('lets the buyer create a pending, unfunded manual payment and answers 201 with the record', async () => {
    const t = await market();
    const res = await t.post(createBody(t.request, t.offer, { blockchain: { network: 'BSC', token: 'USDT' }, metadata: { note: 'hi' } }));
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    const p = res.body.data;
    expect(p).toMatchObject({
      provider: 'manual',
      direction: 'in',
      status: 'pending',
      escrowState: 'unfunded',
      purchaseRequestId: t.request.id,
      sellerOfferId: t.offer.id,
      buyerId: 'buyer-1',
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
      blockchain: { network: 'bsc', token: 'USDT' },
      transactionHash: null,
      metadata: { note: 'hi' },
    });
    expect(p.id).toMatch(/^[0-9a-f]{24}$/);
    expect(p).not.toHaveProperty('history');
    const stored = await t.store.payments.findById(p.id);
    expect(stored?.history).toMatchObject([{ fromStatus: null, toStatus: 'pending', source: 'api', actor: 'buyer-1' }]);
  });

  it('announces payment-created to the admins, the request room and both parties, in one emission', async () => {
    const t = await market();
    const res = await t.post(createBody(t.request, t.offer));
    const payload = { paymentId: res.body.data.id, purchaseRequestId: t.request.id, status: 'pending', provider: 'manual' };
    expect(t.events.calls).toEqual([
      {
        targets: [{ kind: 'admins' }, { kind: 'request', id: t.request.id }, { kind: 'user', id: 'buyer-1' }, { kind: 'seller', id: 'seller-1' }],
        event: 'payment-created',
        payload,
      },
    ]);
  });

  it('lets an admin create a payment on behalf of the buyer', async () => {
    const t = await market();
    const res = await t.post(createBody(t.request, t.offer), t.bearer('ops', { admin: true }));
    expect(res.status).toBe(201);
    expect(res.body.data.buyerId).toBe('buyer-1');
    expect((await t.store.payments.findById(res.body.data.id))?.history[0]?.actor).toBe('ops');
  });

  it.each([
    [25.5, '25.5'],
    ['25.50', '25.5'],
    ['0.000000000000000001', '0.000000000000000001'],
    [0.1, '0.1'],
    [123456789012.345, '123456789012.345'],
    ['999999999999.999999999999999999', '999999999999.999999999999999999'],
    ['1000.000', '1000'],
  ])('normalises the amount %j to %s (an offer of that amount)', async (amount, expected) => {
    const t = await market();
    const { request, offer } = await t.offering({ amount: expected });
    const res = await t.post(createBody(request, offer, { amount: { amount, currency: 'usdt' } }));
    expect(res.status).toBe(201);
    expect(res.body.data.amount).toEqual({ amount: expected, currency: 'USDT' });
    expect((await t.store.payments.findById(res.body.data.id))?.amount).toEqual({ amount: expected, currency: 'USDT' });
  });

  it.each([
    0,
    -1,
    '0',
    '0.0',
    '-5',
    '1e3',
    1e-7,
    1e21,
    1e12,
    '1000000000000',
    123456789012345,
    '123456789012345.5',
    1234567890123456,
    0.1234567890123456,
    '1.0000000000000000001',
    'abc',
    '',
    ' 5',
    '5 ',
    '01',
    '.5',
    '5.',
    null,
    true,
    {},
  ])('refuses the amount %j with 400 and stores nothing', async (amount) => {
    const t = await market();
    await expectRefused(t, () => t.post(createBody(t.request, t.offer, { amount: { amount, currency: 'USDT' } })), 400, 'validation_error');
  });

  it('refuses unknown keys at the top level, in amount and in blockchain', async () => {
    const t = await market();
    const bodies = [
      createBody(t.request, t.offer, { status: 'completed' }),
      createBody(t.request, t.offer, { amount: { amount: '25.5', currency: 'USDT', fee: '1' } }),
      createBody(t.request, t.offer, { blockchain: { network: 'bsc', token: 'USDT', chainId: 56 } }),
    ];
    for (const body of bodies) await expectRefused(t, () => t.post(body), 400, 'validation_error');
  });

  it('refuses missing or malformed fields with details naming the field', async () => {
    const t = await market();
    const { purchaseRequestId: _omit, ...noRequest } = createBody(t.request, t.offer);
    const res = await expectRefused(t, () => t.post(noRequest), 400, 'validation_error');
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'body', path: 'purchaseRequestId' })]));
    const bad = [
      createBody(t.request, t.offer, { sellerOfferId: 'abc' }),
      createBody(t.request, t.offer, { buyerId: 'has space' }),
      createBody(t.request, t.offer, { sellerId: '' }),
      createBody(t.request, t.offer, { amount: { amount: '1', currency: '$$' } }),
      createBody(t.request, t.offer, { amount: '25.5' }),
      createBody(t.request, t.offer, { metadata: { $where: 'x' } }),
      createBody(t.request, t.offer, { metadata: { 'a.b': 1 } }),
      createBody(t.request, t.offer, { metadata: 'text' }),
      createBody(t.request, t.offer, { blockchain: { network: 'b', token: 'USDT' } }),
      {},
    ];
    for (const body of bad) await expectRefused(t, () => t.post(body), 400, 'validation_error');
  });

  it('refuses a non-admin creating a payment where they are not the buyer (403 not_buyer)', async () => {
    const t = await market();
    await expectRefused(t, () => t.post(createBody(t.request, t.offer), t.bearer('seller-1')), 403, 'not_buyer');
    await expectRefused(t, () => t.post(createBody(t.request, t.offer), t.bearer('stranger')), 403, 'not_buyer');
    await expectRefused(t, () => t.post(createBody(t.request, t.offer, { buyerId: 'stranger' }), t.bearer('buyer-1')), 403, 'not_buyer');
  });

  it('answers 404 for an unknown purchase request or seller offer', async () => {
    const t = await market();
    await expectRefused(t, () => t.post(createBody(t.request, t.offer, { purchaseRequestId: newObjectId() })), 404, 'purchase_request_not_found');
    await expectRefused(t, () => t.post(createBody(t.request, t.offer, { sellerOfferId: newObjectId() })), 404, 'seller_offer_not_found');
  });

  it('answers 409 records_do_not_match when the records do not belong together', async () => {
    const t = await market();
    const otherRequest = purchaseRequest({ buyerId: 'buyer-1' });
    const strayOffer = sellerOffer({ purchaseRequestId: otherRequest.id, sellerId: 'seller-1' });
    await t.store.purchaseRequests.insertOne(otherRequest);
    await t.store.sellerOffers.insertOne(strayOffer);
    const admin = t.bearer('ops', { admin: true });
    const cases = [
      createBody(t.request, strayOffer),
      createBody(t.request, t.offer, { buyerId: 'buyer-2' }),
      createBody(t.request, t.offer, { sellerId: 'seller-2' }),
      createBody(t.request, t.offer, { amount: { amount: '25.5', currency: 'BUSD' } }),
    ];
    for (const body of cases) await expectRefused(t, () => t.post(body, admin), 409, 'records_do_not_match');
    // as the buyer too
    await expectRefused(t, () => t.post(createBody(t.request, t.offer, { sellerId: 'seller-2' })), 409, 'records_do_not_match');
  });

  it('answers 409 when the purchase request is no longer open', async () => {
    const t = await market();
    await t.store.purchaseRequests.updateOne({ id: t.request.id }, { $set: { status: 'payment_processing' } });
    await expectRefused(t, () => t.post(createBody(t.request, t.offer)), 409, 'purchase_request_not_open');
  });

  it('accepts the offer of the second seller when the body names that seller', async () => {
    const t = await market();
    const res = await t.post(createBody(t.request, t.otherOffer));
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ sellerId: 'seller-2', sellerOfferId: t.otherOffer.id, amount: { amount: '30' } });
  });
});

describe("POST /api/payment — the amount must be the offer's", () => {
  it.each([
    ['25.5', '25.50'],
    ['25.50', '25.5'],
    ['25.50', 25.5],
    ['1000', '1000.000'],
    ['0.10', 0.1],
  ])('accepts an offer of %s paid with the decimal-equal %j', async (offered, sent) => {
    const t = await market();
    const { request, offer } = await t.offering({ amount: offered });
    const res = await t.post(createBody(request, offer, { amount: { amount: sent, currency: 'USDT' } }));
    expect(res.status).toBe(201);
  });

  it.each(['25.51', '25.49', '25', '26', '255', '2.55', '25.500000000000000001', '0.000000000000000001', 25.4])(
    'refuses %j against an offer of 25.5 (409 records_do_not_match), for the buyer and an admin',
    async (amount) => {
      const t = await market();
      const body = createBody(t.request, t.offer, { amount: { amount, currency: 'USDT' } });
      const res = await expectRefused(t, () => t.post(body), 409, 'records_do_not_match');
      expect(res.body.error.message).toContain('25.5');
      await expectRefused(t, () => t.post(body, t.bearer('ops', { admin: true })), 409, 'records_do_not_match');
    },
  );

  it("refuses the other seller's amount on this seller's offer", async () => {
    const t = await market();
    await expectRefused(
      t,
      () => t.post(createBody(t.request, t.offer, { amount: { amount: t.otherOffer.amount, currency: 'USDT' } })),
      409,
      'records_do_not_match',
    );
  });
});

describe('POST /api/payment — the offer must be pending', () => {
  it.each(['accepted', 'rejected'] as const)('refuses an %s offer (409 offer_not_pending), for the buyer and an admin', async (status) => {
    const t = await market();
    const { request, offer } = await t.offering({ status });
    await expectRefused(t, () => t.post(createBody(request, offer)), 409, 'offer_not_pending');
    await expectRefused(t, () => t.post(createBody(request, offer), t.bearer('ops', { admin: true })), 409, 'offer_not_pending');
  });
});

describe('POST /api/payment — one live payment per offer', () => {
  it('refuses a second payment for the same offer (409 payment_exists naming the first), for the buyer and an admin', async () => {
    const t = await market();
    const first = await t.post(createBody(t.request, t.offer));
    expect(first.status).toBe(201);
    for (const bearer of [t.bearer('buyer-1'), t.bearer('ops', { admin: true })]) {
      const res = await expectRefused(t, () => t.post(createBody(t.request, t.offer), bearer), 409, 'payment_exists');
      expect(res.body.error.details).toMatchObject({ paymentId: first.body.data.id, status: 'pending' });
    }
    expect(await t.store.payments.count({})).toBe(1);
  });

  it.each(['pending', 'processing', 'completed'] as const)('counts a %s payment as live', async (status) => {
    const t = await market();
    const live = payment({ purchaseRequestId: t.request.id, sellerOfferId: t.offer.id, ...inState(status) });
    await t.store.payments.insertOne(live);
    const res = await expectRefused(t, () => t.post(createBody(t.request, t.offer)), 409, 'payment_exists');
    expect(res.body.error.details).toMatchObject({ paymentId: live.id, status });
  });

  it.each([
    ['cancelled by the buyer', 'cancelled', 'buyer-1', false],
    ['failed by an admin', 'failed', 'ops', true],
  ] as const)('allows a new payment once the first is %s', async (_label, status, who, admin) => {
    const t = await market();
    const first = await t.post(createBody(t.request, t.offer));
    const put = await t.http().put(`/api/payment/${first.body.data.id}`).set('Authorization', t.bearer(who, { admin })).send({ status });
    expect(put.status).toBe(200);
    expect(put.body.data.status).toBe(status);
    const second = await t.post(createBody(t.request, t.offer));
    expect(second.status).toBe(201);
    expect(second.body.data).toMatchObject({ status: 'pending', sellerOfferId: t.offer.id });
    expect(second.body.data.id).not.toBe(first.body.data.id);
    const stored = await t.store.payments.find({ sellerOfferId: t.offer.id }, { sort: { id: 1 } });
    expect(stored.map((p) => p.status).sort()).toEqual(['pending', status].sort());
    // and the new one is live in turn
    const third = await expectRefused(t, () => t.post(createBody(t.request, t.offer)), 409, 'payment_exists');
    expect(third.body.error.details).toMatchObject({ paymentId: second.body.data.id });
  });

  it.each(['failed', 'cancelled'] as const satisfies readonly PaymentStatus[])('does not count a %s payment (inserted as such) as live', async (status) => {
    const t = await market();
    await t.store.payments.insertOne(payment({ purchaseRequestId: t.request.id, sellerOfferId: t.offer.id, ...inState(status) }));
    expect((await t.post(createBody(t.request, t.offer))).status).toBe(201);
  });

  it('lets exactly one of 10 concurrent creates for one offer succeed', async () => {
    const t = await market();
    // Widen the window between the "is there a live payment?" read and the insert, so that
    // without serialisation every request would pass the check.
    const payments = t.store.payments;
    const findOne = payments.findOne.bind(payments);
    payments.findOne = async (filter) => {
      const found = await findOne(filter);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return found;
    };
    const before = await snapshot(t.store);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => t.post(createBody(t.request, t.offer, { metadata: { attempt: i } }))));
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(9);
    const winner = created[0]!.body.data.id as string;
    for (const r of refused) {
      expectError(r, 409, 'payment_exists');
      expect(r.body.error.details).toMatchObject({ paymentId: winner });
    }
    const after = await snapshot(t.store);
    expect(after.payments.map((p) => p.id)).toEqual([winner]);
    expect(after.purchaseRequests).toEqual(before.purchaseRequests);
    expect(after.sellerOffers).toEqual(before.sellerOffers);
    const announced = t.events.named('payment-created');
    expect(announced.map((e) => e.target)).toEqual([
      { kind: 'admins' },
      { kind: 'request', id: t.request.id },
      { kind: 'user', id: 'buyer-1' },
      { kind: 'seller', id: 'seller-1' },
    ]);
    expect(announced.map((e) => (e.payload as { paymentId: string }).paymentId)).toEqual([winner, winner, winner, winner]);
    expect(t.events.calls).toHaveLength(1);
  });
});
