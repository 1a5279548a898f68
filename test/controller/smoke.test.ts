import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/testApp.js';
import { seedMarketplace } from '../helpers/fixtures.js';

describe('controller smoke', () => {
  it('creates and reads back a payment', async () => {
    const t = buildTestApp();
    const { request, offer } = await seedMarketplace(t.store);
    const res = await t
      .http()
      .post('/api/payment')
      .set('Authorization', t.bearer('buyer-1'))
      .send({ purchaseRequestId: request.id, sellerOfferId: offer.id, buyerId: 'buyer-1', sellerId: 'seller-1', amount: { amount: 25.5, currency: 'usdt' } });
    expect(res.status).toBe(201);
    expect(res.body.data.amount).toEqual({ amount: '25.5', currency: 'USDT' });
    const got = await t.http().get(`/api/payment/${res.body.data.id}`).set('Authorization', t.bearer('seller-1'));
    expect(got.status).toBe(200);
    const other = await t.http().get(`/api/payment/${res.body.data.id}`).set('Authorization', t.bearer('someone'));
    expect(other.status).toBe(404);
    const csv = await t.http().get(`/api/payment/export?format=csv`).set('Authorization', t.bearer('buyer-1'));
    expect(csv.status).toBe(200);
    expect(csv.text.split('\n')[0]).toContain('id,createdAt');
    const stats = await t.http().get(`/api/payment/stats`).set('Authorization', t.bearer('buyer-1'));
    expect(stats.body.data.byStatus).toEqual([{ status: 'pending', currency: 'USDT', count: 1, total: '25.5' }]);
  });
});
