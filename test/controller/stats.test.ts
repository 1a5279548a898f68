import { describe, expect, it } from 'vitest';
import type { PaymentStatus } from '../../src/core/store/records.js';
import { payment } from '../helpers/fixtures.js';
import { expectError } from '../helpers/controllerKit.js';
import { startTestWorld } from '../helpers/testWorld.js';

async function withAmounts() {
  const t = await startTestWorld();
  const rows: [PaymentStatus, string, string, string][] = [
    ['completed', '0.1', 'USDT', 'buyer-1'],
    ['completed', '0.2', 'USDT', 'buyer-1'],
    ['completed', '123456789012345678.000000000000000001', 'USDT', 'buyer-1'],
    ['completed', '5', 'BUSD', 'buyer-1'],
    ['pending', '25.5', 'USDT', 'buyer-1'],
    ['failed', '1', 'USDT', 'buyer-2'],
  ];
  for (const [status, amount, currency, buyerId] of rows) {
    await t.store.payments.insertOne(payment({ status, buyerId, sellerId: buyerId === 'buyer-1' ? 'seller-1' : 'buyer-1', amount: { amount, currency } }));
  }
  await t.store.payments.insertOne(payment({ buyerId: 'x', sellerId: 'y', status: 'completed', amount: { amount: '1000', currency: 'USDT' } }));
  return t;
}

const BUYER_1 = {
  userId: 'buyer-1',
  count: 6,
  byStatus: [
    { status: 'completed', currency: 'BUSD', count: 1, total: '5' },
    { status: 'completed', currency: 'USDT', count: 3, total: '123456789012345678.300000000000000001' },
    { status: 'failed', currency: 'USDT', count: 1, total: '1' },
    { status: 'pending', currency: 'USDT', count: 1, total: '25.5' },
  ],
};

describe('GET /api/payment/stats and /stats/:userId', () => {
  it('counts and sums exactly per status and currency, over payments as buyer or seller', async () => {
    const t = await withAmounts();
    const res = await t.http().get('/api/payment/stats').set('Authorization', t.bearer('buyer-1'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: BUYER_1 });
  });

  it('gives the same answer for /stats/<self>', async () => {
    const t = await withAmounts();
    const res = await t.http().get('/api/payment/stats/buyer-1').set('Authorization', t.bearer('buyer-1'));
    expect(res.body).toEqual({ success: true, data: BUYER_1 });
  });

  it("lets an admin read any user's stats", async () => {
    const t = await withAmounts();
    const res = await t
      .http()
      .get('/api/payment/stats/buyer-1')
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(res.body.data).toEqual(BUYER_1);
    const seller = await t
      .http()
      .get('/api/payment/stats/seller-1')
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(seller.body.data).toMatchObject({ userId: 'seller-1', count: 5 });
  });

  it('answers zero counts for a user without payments', async () => {
    const t = await withAmounts();
    const res = await t.http().get('/api/payment/stats').set('Authorization', t.bearer('nobody'));
    expect(res.body.data).toEqual({ userId: 'nobody', count: 0, byStatus: [] });
  });

  it("refuses another user's stats with 403, counterparties included", async () => {
    const t = await withAmounts();
    expectError(await t.http().get('/api/payment/stats/buyer-1').set('Authorization', t.bearer('seller-1')), 403, 'forbidden_user');
    expectError(await t.http().get('/api/payment/stats/buyer-1').set('Authorization', t.bearer('stranger')), 403, 'forbidden_user');
  });

  it('refuses a malformed user id with 400', async () => {
    const t = await withAmounts();
    const res = await t
      .http()
      .get(`/api/payment/stats/${encodeURIComponent('a$b')}`)
      .set('Authorization', t.bearer('ops', { admin: true }));
    expectError(res, 400, 'validation_error');
  });

  it('follows status changes made through the API', async () => {
    const t = await startTestWorld();
    const p = payment({ amount: { amount: '10', currency: 'USDT' } });
    await t.store.payments.insertOne(p);
    await t.http().put(`/api/payment/${p.id}`).set('Authorization', t.bearer('buyer-1')).send({ status: 'cancelled' });
    const res = await t.http().get('/api/payment/stats').set('Authorization', t.bearer('seller-1'));
    expect(res.body.data.byStatus).toEqual([{ status: 'cancelled', currency: 'USDT', count: 1, total: '10' }]);
  });
});
