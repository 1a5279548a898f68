import { describe, expect, it } from 'vitest';
import type { PaymentStatus } from '../../src/core/store/records.js';
import { payment } from '../helpers/fixtures.js';
import { expectError } from '../helpers/controllerKit.js';
import { startTestWorld } from '../helpers/testWorld.js';

/** buyer-1 buys from seller-1 in several statuses; one payment between strangers. */
async function listing() {
  const t = await startTestWorld();
  const base = Date.UTC(2025, 0, 1);
  const statuses: PaymentStatus[] = ['completed', 'pending', 'completed', 'failed', 'completed', 'released'];
  const ids: Record<string, string> = {};
  for (const [i, status] of statuses.entries()) {
    const at = new Date(base + i * 60_000);
    const p = payment({ status, createdAt: at, updatedAt: at });
    await t.store.payments.insertOne(p);
    ids[`${status}${i}`] = p.id;
  }
  const asSeller = payment({ buyerId: 'buyer-2', sellerId: 'buyer-1', status: 'completed', createdAt: new Date(base + 10 * 60_000) });
  await t.store.payments.insertOne(asSeller);
  await t.store.payments.insertOne(payment({ buyerId: 'x', sellerId: 'y', status: 'completed' }));
  return { ...t, ids, asSeller };
}

const idsOf = (res: { body: { data: { payments: { id: string }[] } } }) => res.body.data.payments.map((p) => p.id);

describe('GET /api/payment (own payments)', () => {
  it('lists completed payments where the caller is buyer or seller, newest first, by default', async () => {
    const t = await listing();
    const res = await t.http().get('/api/payment').set('Authorization', t.bearer('buyer-1'));
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ total: 4, limit: 50, offset: 0 });
    expect(idsOf(res)).toEqual([t.asSeller.id, t.ids.completed4, t.ids.completed2, t.ids.completed0]);
    expect(res.body.data.payments[0]).not.toHaveProperty('history');
  });

  it('filters by a comma-separated status list, ignoring blanks and repeats; success matches nothing', async () => {
    const t = await listing();
    const get = (status: string) =>
      t
        .http()
        .get(`/api/payment?status=${encodeURIComponent(status)}`)
        .set('Authorization', t.bearer('buyer-1'));
    expect(idsOf(await get('pending,failed'))).toEqual([t.ids.failed3, t.ids.pending1]);
    expect(idsOf(await get(' released , ,released'))).toEqual([t.ids.released5]);
    expect((await get('success')).body.data.total).toBe(0);
  });

  it('pages with limit and offset and reports the total', async () => {
    const t = await listing();
    const res = await t.http().get('/api/payment?limit=2&offset=1').set('Authorization', t.bearer('buyer-1'));
    expect(res.body.data).toMatchObject({ total: 4, limit: 2, offset: 1 });
    expect(idsOf(res)).toEqual([t.ids.completed4, t.ids.completed2]);
    const past = await t.http().get('/api/payment?offset=100&limit=200').set('Authorization', t.bearer('buyer-1'));
    expect(past.body.data).toMatchObject({ payments: [], total: 4, limit: 200, offset: 100 });
  });

  it('gives a user without payments an empty page', async () => {
    const t = await listing();
    const res = await t.http().get('/api/payment').set('Authorization', t.bearer('nobody'));
    expect(res.body.data).toEqual({ payments: [], total: 0, limit: 50, offset: 0 });
  });

  it("lists an admin's own payments only", async () => {
    const t = await listing();
    const res = await t
      .http()
      .get('/api/payment')
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(res.body.data.total).toBe(0);
  });

  it.each([
    'limit=0',
    'limit=201',
    'limit=-1',
    'limit=1e3',
    'limit=abc',
    'limit=',
    'limit=2.5',
    'limit=1&limit=2',
    'offset=-1',
    'offset=x',
    'status=done',
    'status=',
    'status=,',
  ])('refuses the query %s with 400', async (query) => {
    const t = await listing();
    const res = await t.http().get(`/api/payment?${query}`).set('Authorization', t.bearer('buyer-1'));
    expectError(res, 400, 'validation_error');
    expect(res.body.error.details[0]).toMatchObject({ in: 'query' });
  });
});

describe('GET /api/payment/user/:userId', () => {
  it('lists the caller’s own payments like GET /', async () => {
    const t = await listing();
    const own = await t.http().get('/api/payment').set('Authorization', t.bearer('buyer-1'));
    const byUser = await t.http().get('/api/payment/user/buyer-1').set('Authorization', t.bearer('buyer-1'));
    expect(byUser.status).toBe(200);
    expect(byUser.body).toEqual(own.body);
  });

  it("lets an admin list any user's payments with filters", async () => {
    const t = await listing();
    const res = await t
      .http()
      .get('/api/payment/user/buyer-1?status=pending&limit=1')
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ total: 1, limit: 1, offset: 0 });
    expect(idsOf(res)).toEqual([t.ids.pending1]);
    const seller = await t
      .http()
      .get('/api/payment/user/seller-1?status=completed,released')
      .set('Authorization', t.bearer('ops', { admin: true }));
    expect(seller.body.data.total).toBe(4);
  });

  it("refuses another user's list with 403, even to a counterparty", async () => {
    const t = await listing();
    expectError(await t.http().get('/api/payment/user/buyer-1').set('Authorization', t.bearer('seller-1')), 403, 'forbidden_user');
    expectError(await t.http().get('/api/payment/user/nobody').set('Authorization', t.bearer('buyer-1')), 403, 'forbidden_user');
  });

  it('refuses a malformed user id or bad paging with 400', async () => {
    const t = await listing();
    const admin = t.bearer('ops', { admin: true });
    expectError(
      await t
        .http()
        .get(`/api/payment/user/${encodeURIComponent('a b')}`)
        .set('Authorization', admin),
      400,
      'validation_error',
    );
    expectError(
      await t
        .http()
        .get(`/api/payment/user/${'u'.repeat(129)}`)
        .set('Authorization', admin),
      400,
      'validation_error',
    );
    for (const q of ['limit=0', 'limit=201', 'limit=-1', 'limit=1e3', 'limit=abc']) {
      expectError(await t.http().get(`/api/payment/user/buyer-1?${q}`).set('Authorization', admin), 400, 'validation_error');
    }
  });

  it('does not let a user id act as a query operator', async () => {
    const t = await listing();
    const res = await t.http().get('/api/payment/user/buyer-1?buyerId[$ne]=x').set('Authorization', t.bearer('buyer-1'));
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(4);
  });
});
