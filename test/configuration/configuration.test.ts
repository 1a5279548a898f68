import { describe, expect, it } from 'vitest';
import { BSC_MAINNET_USDT } from '../../src/platform/config.js';
import { newObjectId } from '../../src/platform/ids.js';
import { PURCHASE_REQUEST_STATUSES } from '../../src/core/store/records.js';
import { purchaseRequest } from '../helpers/fixtures.js';
import { ESCROW, startTestWorld } from '../helpers/testWorld.js';
import { expectRefused } from '../helpers/controllerKit.js';
import { getAddress } from 'ethers';

const ENV = { PUBLIC_BASE_URL: 'https://pay.example.com/', PAYMENT_SUCCESS_URL: 'https://shop.example.com/ok?x=1' };

const BASE = {
  accept: [
    {
      blockchain: 'bsc',
      chainId: 56,
      token: BSC_MAINNET_USDT,
      symbol: 'USDT',
      decimals: 18,
      receiver: getAddress(ESCROW),
    },
  ],
  redirect: { success: 'https://shop.example.com/ok?x=1', cancel: 'https://pay.example.com/payment/cancel' },
  webhook: 'https://pay.example.com/api/payment/shkeeper/webhook',
};

describe('POST /api/payment/configuration', () => {
  it('returns the widget configuration without authentication', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().post('/api/payment/configuration').send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual(BASE);
  });

  it('accepts an empty request body', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().post('/api/payment/configuration');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(BASE);
  });

  it('scopes the configuration to an amount (normalised) and currency (USDT by default)', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().post('/api/payment/configuration').send({ amount: '12.50' });
    expect(res.body).toMatchObject({ amount: '12.5', currency: 'USDT', accept: [{ amount: '12.5' }] });
    const usdt = await t.http().post('/api/payment/configuration').send({ amount: 3, currency: 'usdt' });
    expect(usdt.body).toMatchObject({ amount: '3', currency: 'USDT' });
  });

  it('scopes the redirect URLs to a known purchase request', async () => {
    const t = await startTestWorld({ env: ENV });
    const request = purchaseRequest();
    await t.store.purchaseRequests.insertOne(request);
    const res = await t.http().post('/api/payment/configuration').send({ purchaseRequestId: request.id });
    expect(res.status).toBe(200);
    expect(res.body.redirect).toEqual({
      success: `https://shop.example.com/ok?x=1&purchaseRequestId=${request.id}`,
      cancel: `https://pay.example.com/payment/cancel?purchaseRequestId=${request.id}`,
    });
  });

  it('answers 404 for an unknown purchase request', async () => {
    const t = await startTestWorld({ env: ENV });
    await t.store.purchaseRequests.insertOne(purchaseRequest());
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send({ purchaseRequestId: newObjectId() }), 404, 'purchase_request_not_found');
  });

  it.each(PURCHASE_REQUEST_STATUSES.filter((s) => s !== 'open'))(
    'refuses to scope the configuration to a %s purchase request (409 purchase_request_not_open)',
    async (status) => {
      const t = await startTestWorld({ env: ENV });
      const request = purchaseRequest({ status });
      await t.store.purchaseRequests.insertOne(request);
      await expectRefused(t, () => t.http().post('/api/payment/configuration').send({ purchaseRequestId: request.id }), 409, 'purchase_request_not_open');
      await expectRefused(
        t,
        () => t.http().post('/api/payment/configuration').send({ purchaseRequestId: request.id, amount: '10' }),
        409,
        'purchase_request_not_open',
      );
    },
  );

  it('still scopes to an open request once another request is closed', async () => {
    const t = await startTestWorld({ env: ENV });
    const open = purchaseRequest();
    const closed = purchaseRequest({ status: 'closed' });
    await t.store.purchaseRequests.insertOne(open);
    await t.store.purchaseRequests.insertOne(closed);
    const res = await t.http().post('/api/payment/configuration').send({ purchaseRequestId: open.id });
    expect(res.status).toBe(200);
    expect(res.body.redirect.success).toContain(`purchaseRequestId=${open.id}`);
  });

  it.each([
    { purchaseRequestId: 'abc' },
    { amount: 0 },
    { amount: '-1' },
    { amount: '1e3' },
    { currency: '$' },
    { amount: '1', extra: true },
    { amount: { amount: '1' } },
  ])('refuses the body %j with 400', async (body) => {
    const t = await startTestWorld({ env: ENV });
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send(body), 400, 'validation_error');
  });

  it('refuses a JSON array as the body with 400', async () => {
    const t = await startTestWorld({ env: ENV });
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send([]), 400, 'validation_error');
  });

  it('refuses a currency the widget does not accept with 400', async () => {
    const t = await startTestWorld({ env: ENV });
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send({ amount: '10', currency: 'BTC' }), 400, 'unsupported_currency');
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send({ currency: 'busd' }), 400, 'unsupported_currency');
  });

  it('answers 400 malformed_json for a broken body', async () => {
    const t = await startTestWorld({ env: ENV });
    await expectRefused(t, () => t.http().post('/api/payment/configuration').set('Content-Type', 'application/json').send('{"amount":'), 400, 'malformed_json');
  });

  it('answers 503 not_configured when ESCROW_RECEIVER_ADDRESS is unset', async () => {
    const t = await startTestWorld({ env: { ...ENV, ESCROW_RECEIVER_ADDRESS: '' } });
    await expectRefused(t, () => t.http().post('/api/payment/configuration').send({}), 503, 'not_configured');
  });

  it('ignores a bearer token: it is public', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().post('/api/payment/configuration').set('Authorization', 'Bearer garbage').send({});
    expect(res.status).toBe(200);
  });

  it('reflects the configured chain settings', async () => {
    const token = '0x1111111111111111111111111111111111111111';
    const t = await startTestWorld({ env: { ...ENV, BSC_CHAIN_ID: '97', BSC_USDT_ADDRESS: token, BSC_USDT_DECIMALS: '6' } });
    const res = await t.http().post('/api/payment/configuration').send({});
    expect(res.body.accept).toEqual([{ ...BASE.accept[0], chainId: 97, token, decimals: 6 }]);
  });
});

describe('GET /api/payment/shkeeper/config', () => {
  it('returns the same configuration with CORS headers open to any origin', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().get('/api/payment/shkeeper/config').set('Origin', 'https://widget.example');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(BASE);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET, OPTIONS');
  });

  it('answers the CORS preflight with 204 and the same headers', async () => {
    const t = await startTestWorld({ env: ENV });
    const res = await t.http().options('/api/payment/shkeeper/config').set('Origin', 'https://widget.example');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-headers']).toBe('Content-Type');
  });

  it('answers 503 not_configured, still readable cross-origin, when the receiver is unset', async () => {
    const t = await startTestWorld({ env: { ...ENV, ESCROW_RECEIVER_ADDRESS: '' } });
    const res = await expectRefused(t, () => t.http().get('/api/payment/shkeeper/config'), 503, 'not_configured');
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('does not offer other methods', async () => {
    const t = await startTestWorld({ env: ENV });
    await expectRefused(t, () => t.http().post('/api/payment/shkeeper/config').send({}), 404, 'route_not_found');
  });
});
