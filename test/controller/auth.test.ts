import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET } from '../helpers/testWorld.js';
import { appWithPayment, createBody, expectError, expectRefused } from '../helpers/controllerKit.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('bearer authentication on payment records', () => {
  it('every payment-record endpoint answers 401 missing_token without a token', async () => {
    const t = await appWithPayment();
    const id = t.payment.id;
    const reads = [
      '/api/payment',
      `/api/payment/${id}`,
      `/api/payment/${id}/debug`,
      '/api/payment/user/buyer-1',
      '/api/payment/stats',
      '/api/payment/stats/buyer-1',
      '/api/payment/export',
      '/api/payment/export/buyer-1?format=csv',
    ];
    for (const path of reads) {
      const res = await t.http().get(path);
      expect(res.status, path).toBe(401);
      expectError(res, 401, 'missing_token');
    }
    await expectRefused(t, () => t.http().post('/api/payment').send(createBody(t.request, t.offer)), 401, 'missing_token');
    await expectRefused(t, () => t.http().put(`/api/payment/${id}`).send({ status: 'cancelled' }), 401, 'missing_token');
  });

  it('a non-Bearer scheme or an empty bearer is treated as no token', async () => {
    const t = await appWithPayment();
    for (const header of ['Basic YnV5ZXItMTpwdw==', 'Bearer', 'Bearer ', t.bearer('buyer-1').slice('Bearer '.length)]) {
      expectError(await t.http().get('/api/payment').set('Authorization', header), 401, 'missing_token');
    }
  });

  it('accepts the Bearer scheme case-insensitively', async () => {
    const t = await appWithPayment();
    const token = t.tokens.sign({ sub: 'buyer-1' });
    const res = await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', `bearer ${token}`);
    expect(res.status).toBe(200);
  });

  it('refuses a token signed with another secret, a garbled token and an expired one', async () => {
    const t = await appWithPayment();
    const foreign = jwt.sign({ sub: 'buyer-1' }, 'another-secret-that-is-long-enough-000', { algorithm: 'HS256' });
    expectError(await t.http().get('/api/payment').set('Authorization', `Bearer ${foreign}`), 401, 'invalid_token');
    expectError(await t.http().get('/api/payment').set('Authorization', 'Bearer not.a.jwt'), 401, 'invalid_token');
    const expired = jwt.sign({ sub: 'buyer-1', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    expectError(await t.http().get('/api/payment').set('Authorization', `Bearer ${expired}`), 401, 'token_expired');
  });

  it('refuses tokens with another algorithm (HS512) or with alg none, even on writes', async () => {
    const t = await appWithPayment();
    const hs512 = jwt.sign({ sub: 'buyer-1', role: 'admin' }, TEST_JWT_SECRET, { algorithm: 'HS512' });
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'admin-1', role: 'admin' })}.`;
    for (const token of [hs512, none]) {
      expectError(await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', `Bearer ${token}`), 401, 'invalid_token');
      await expectRefused(
        t,
        () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', `Bearer ${token}`).send({ status: 'processing' }),
        401,
        'invalid_token',
      );
    }
  });

  it('refuses a token that names no user', async () => {
    const t = await appWithPayment();
    for (const claims of [{ role: 'admin' }, { sub: '' }, { sub: 'x'.repeat(129) }, { id: 42 }]) {
      const token = jwt.sign(claims, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 });
      expectError(await t.http().get('/api/payment').set('Authorization', `Bearer ${token}`), 401, 'invalid_token');
    }
  });

  it('reads the user from sub, else from id, else from userId', async () => {
    const t = await appWithPayment({ status: 'completed' });
    const as = (claims: Record<string, unknown>) => `Bearer ${jwt.sign(claims, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
    for (const claims of [{ sub: 'buyer-1' }, { id: 'buyer-1' }, { userId: 'buyer-1' }, { sub: 'buyer-1', id: 'other', userId: 'other' }]) {
      const res = await t.http().get('/api/payment').set('Authorization', as(claims));
      expect(res.status).toBe(200);
      expect(res.body.data.payments.map((p: { id: string }) => p.id)).toEqual([t.payment.id]);
    }
    const viaId = await t
      .http()
      .get('/api/payment')
      .set('Authorization', as({ id: 'other', userId: 'buyer-1' }));
    expect(viaId.body.data.total).toBe(0);
  });

  it('treats role "admin" or a roles array containing admin as admin, and nothing else', async () => {
    const t = await appWithPayment();
    const as = (claims: Record<string, unknown>) => `Bearer ${jwt.sign(claims, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
    const path = `/api/payment/${t.payment.id}/debug`;
    expect(
      (
        await t
          .http()
          .get(path)
          .set('Authorization', as({ sub: 'ops', role: 'admin' }))
      ).status,
    ).toBe(200);
    expect(
      (
        await t
          .http()
          .get(path)
          .set('Authorization', as({ sub: 'ops', roles: ['user', 'admin'] }))
      ).status,
    ).toBe(200);
    for (const claims of [{ role: 'Admin' }, { roles: 'admin' }, { roles: ['user'] }, { role: ['admin'] }, { isAdmin: true }]) {
      expectError(
        await t
          .http()
          .get(path)
          .set('Authorization', as({ sub: 'ops', ...claims })),
        403,
        'admin_required',
      );
    }
  });
});
