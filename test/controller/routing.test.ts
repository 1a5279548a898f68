import { describe, expect, it } from 'vitest';
import { payment } from '../helpers/fixtures.js';
import { appWithPayment, expectError, expectRefused } from '../helpers/controllerKit.js';

describe('routing of payment paths', () => {
  it('never reads stats, export, user or health as a payment id', async () => {
    const t = await appWithPayment({ status: 'completed' });
    const buyer = t.bearer('buyer-1');

    const stats = await t.http().get('/api/payment/stats').set('Authorization', buyer);
    expect(stats.status).toBe(200);
    expect(stats.body.data).toMatchObject({ userId: 'buyer-1', count: 1 });

    const exp = await t.http().get('/api/payment/export').set('Authorization', buyer);
    expect(exp.status).toBe(200);
    expect(exp.headers['content-disposition']).toMatch(/^attachment;/);

    const user = await t.http().get('/api/payment/user/buyer-1').set('Authorization', buyer);
    expect(user.status).toBe(200);
    expect(user.body.data.payments).toHaveLength(1);

    const health = await t.http().get('/api/payment/health');
    expect(health.status).toBe(200);
    expect(health.body.store.kind).toBe(t.store.kind);
  });

  it('answers route_not_found for a malformed id on every /:id route, before authentication', async () => {
    const t = await appWithPayment();
    const bad = ['123', 'not-an-id', `${t.payment.id}0`, t.payment.id.slice(1), 'gggggggggggggggggggggggg', `${t.payment.id.slice(0, 23)}%20`];
    for (const id of bad) {
      expectError(
        await t
          .http()
          .get(`/api/payment/${id}`)
          .set('Authorization', t.bearer('admin', { admin: true })),
        404,
        'route_not_found',
      );
      expectError(await t.http().get(`/api/payment/${id}`), 404, 'route_not_found');
      expectError(
        await t
          .http()
          .get(`/api/payment/${id}/debug`)
          .set('Authorization', t.bearer('admin', { admin: true })),
        404,
        'route_not_found',
      );
      await expectRefused(
        t,
        () =>
          t
            .http()
            .put(`/api/payment/${id}`)
            .set('Authorization', t.bearer('admin', { admin: true }))
            .send({ status: 'processing' }),
        404,
        'route_not_found',
      );
    }
  });

  it('does not treat fixed words as ids for writes either', async () => {
    const t = await appWithPayment();
    for (const word of ['stats', 'export', 'user', 'health', 'configuration']) {
      await expectRefused(
        t,
        () =>
          t
            .http()
            .put(`/api/payment/${word}`)
            .set('Authorization', t.bearer('admin', { admin: true }))
            .send({ status: 'processing' }),
        404,
        'route_not_found',
      );
    }
  });

  it('answers 404 for an upper-case spelling of an id: ids are lower-case hex', async () => {
    const t = await appWithPayment();
    const res = await t.http().get(`/api/payment/${t.payment.id.toUpperCase()}`).set('Authorization', t.bearer('buyer-1'));
    expect(res.status).toBe(404);
    expect(res.body.success).toBe(false);
  });

  it('answers 400 bad_request for a path with broken percent-encoding', async () => {
    const t = await appWithPayment();
    expectError(await t.http().get('/api/payment/user/%E0%A4%A').set('Authorization', t.bearer('buyer-1')), 400, 'bad_request');
    await expectRefused(t, () => t.http().put('/api/payment/%zz').set('Authorization', t.bearer('buyer-1')).send({ status: 'cancelled' }), 400, 'bad_request');
  });

  it('answers route_not_found for unknown routes and methods', async () => {
    const t = await appWithPayment();
    const admin = t.bearer('admin', { admin: true });
    expectError(await t.http().get('/api/payment/nope/deeper/still').set('Authorization', admin), 404, 'route_not_found');
    expectError(await t.http().get('/api/other'), 404, 'route_not_found');
    await expectRefused(t, () => t.http().delete(`/api/payment/${t.payment.id}`).set('Authorization', admin), 404, 'route_not_found');
    await expectRefused(t, () => t.http().patch(`/api/payment/${t.payment.id}`).set('Authorization', admin).send({ status: 'failed' }), 404, 'route_not_found');
    expectError(await t.http().get('/api/payment/user').set('Authorization', admin), 404, 'route_not_found');
    expectError(await t.http().get(`/api/payment/${t.payment.id}/debug/more`).set('Authorization', admin), 404, 'route_not_found');
    expect(await t.store.payments.findById(t.payment.id)).toEqual(t.payment);
  });

  it('answers 400 malformed_json for a broken JSON body and changes nothing', async () => {
    const t = await appWithPayment();
    const admin = t.bearer('admin', { admin: true });
    await expectRefused(
      t,
      () => t.http().post('/api/payment').set('Authorization', admin).set('Content-Type', 'application/json').send('{"purchaseRequestId":'),
      400,
      'malformed_json',
    );
    await expectRefused(
      t,
      () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', admin).set('Content-Type', 'application/json').send("{'status':'failed'}"),
      400,
      'malformed_json',
    );
    // strict JSON: a bare scalar is not a body
    await expectRefused(
      t,
      () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', admin).set('Content-Type', 'application/json').send('"failed"'),
      400,
      'malformed_json',
    );
  });

  it('answers 400 validation_error for a JSON array or a non-JSON body', async () => {
    const t = await appWithPayment();
    const admin = t.bearer('admin', { admin: true });
    await expectRefused(
      t,
      () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', admin).set('Content-Type', 'application/json').send('[]'),
      400,
      'validation_error',
    );
    await expectRefused(
      t,
      () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', admin).set('Content-Type', 'text/plain').send('status=failed'),
      400,
      'validation_error',
    );
  });

  it('answers 413 for a body over the limit and changes nothing', async () => {
    const t = await appWithPayment();
    await expectRefused(
      t,
      () =>
        t
          .http()
          .put(`/api/payment/${t.payment.id}`)
          .set('Authorization', t.bearer('buyer-1'))
          .send({ metadata: { blob: 'x'.repeat(200 * 1024) } }),
      413,
      'payload_too_large',
    );
    await expectRefused(
      t,
      () =>
        t
          .http()
          .post('/api/payment')
          .set('Authorization', t.bearer('buyer-1'))
          .send({ metadata: { blob: 'x'.repeat(200 * 1024) } }),
      413,
      'payload_too_large',
    );
  });

  it('echoes a well-formed X-Request-Id and mints one otherwise', async () => {
    const t = await appWithPayment();
    const echoed = await t.http().get('/api/payment/health').set('X-Request-Id', 'req-123');
    expect(echoed.headers['x-request-id']).toBe('req-123');
    const minted = await t.http().get('/api/payment/health').set('X-Request-Id', 'bad id with spaces');
    expect(minted.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a payment of another user invisible even when it sits next to a visible one', async () => {
    const t = await appWithPayment();
    const hidden = payment({ buyerId: 'buyer-9', sellerId: 'seller-9' });
    await t.store.payments.insertOne(hidden);
    expectError(await t.http().get(`/api/payment/${hidden.id}`).set('Authorization', t.bearer('buyer-1')), 404, 'payment_not_found');
    expect((await t.http().get(`/api/payment/${t.payment.id}`).set('Authorization', t.bearer('buyer-1'))).status).toBe(200);
  });
});
