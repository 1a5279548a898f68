import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../helpers/fakeShkeeper/receiver.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { ADMIN, deliveriesOf, expectSoundLedgers, paymentOf, webhookStats } from './payinTestKit.js';

/** The SHKeeper dev tools (`ENABLE_DEV_ROUTES`), end to end against the fake. */

let h: ListeningWorld;
let receiver: Receiver | undefined;
afterEach(async () => {
  await h?.stop();
  await receiver?.close();
  receiver = undefined;
});

const DEV = '/shkeeper';

/** POST create-test-payment: the test invoice gets an address and crypto of its own, so its callbacks are bound to it. */
async function createTestPayment(harness: ListeningWorld, body: Record<string, unknown>) {
  return harness.anonymous.post(`${DEV}/create-test-payment`, body);
}
const DEV_ROUTES: [string, string][] = [
  ['POST', `${DEV}/test`],
  ['GET', `${DEV}/callback-test`],
  ['POST', `${DEV}/callback-test`],
  ['POST', `${DEV}/create-test-payment`],
  ['POST', `${DEV}/trigger-webhook`],
];

describe('mounting', () => {
  it('is on by default outside production (the test env)', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    expect(h.config.enableDevRoutes).toBe(true);
    for (const [method, path] of DEV_ROUTES) {
      const r = await h.as({ admin: ADMIN })[method === 'POST' ? 'post' : 'get'](path, method === 'POST' ? {} : undefined);
      expect(r.status, `${method} ${path}`).not.toBe(404);
    }
  });

  it.each([
    ['ENABLE_DEV_ROUTES=false', { ENABLE_DEV_ROUTES: 'false' }],
    ['production by default', { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/unused', METRICS_TOKEN: 'metrics-token-0123456789' }],
  ])('answers 404 route_not_found when off (%s); the other SHKeeper routes stay', async (_label, env) => {
    h = await startTestWorld({ listen: true, shkeeper: true, env });
    expect(h.config.enableDevRoutes).toBe(false);
    for (const [method, path] of DEV_ROUTES) {
      const r = await h.as({ admin: ADMIN })[method === 'POST' ? 'post' : 'get'](path, method === 'POST' ? {} : undefined);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.code).toBe('route_not_found');
    }
    expect(await h.store.payments.count({})).toBe(0);
    expect((await h.as({ admin: ADMIN }).get(`${DEV}/webhook-stats`)).status).toBe(200);
  });
});

describe('POST /shkeeper/test', () => {
  it('reports what worked against SHKeeper', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const r = await h.anonymous.post(`${DEV}/test`);
    expect(r.status).toBe(200);
    expect(r.body.data.cryptoList.ok).toBe(true);
    expect(r.body.data.cryptoList.result).toEqual(expect.arrayContaining(['BNB-USDT', 'USDT', 'BTC']));
    expect(r.body.data.authenticatedCall).toEqual({ ok: true, result: 0 });
    expect(h.fake.calls('crypto')).toBe(1);
    expect(h.fake.calls('invoices')).toBe(1);
    expect(h.fake.requests.find((q) => q.endpoint === 'invoices')?.headers['x-shkeeper-api-key']).toBe(h.fake.apiKey);
  });

  it('reports each failure by its code', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    h.fake.fail('http500', { endpoint: 'invoices' });
    const half = await h.anonymous.post(`${DEV}/test`);
    expect(half.status).toBe(200);
    expect(half.body.data.cryptoList.ok).toBe(true);
    expect(half.body.data.authenticatedCall).toEqual({ ok: false, error: 'shkeeper_error' });

    await h.fake.heal();
    await h.fake.refuseConnections();
    const down = await h.anonymous.post(`${DEV}/test`);
    expect(down.status).toBe(200);
    expect(down.body.data).toEqual({
      cryptoList: { ok: false, error: 'shkeeper_unreachable' },
      authenticatedCall: { ok: false, error: 'shkeeper_unreachable' },
    });
  });
});

describe('/shkeeper/callback-test', () => {
  const secretHeaders = {
    authorization: 'Bearer secret-token',
    cookie: 'session=secret',
    'x-shkeeper-api-key': 'secret-key',
    'x-shkeeper-signature': 'a'.repeat(64),
  };

  it('POST echoes method, query, body and headers, without the auth headers', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const r = await h.anonymous.post(`${DEV}/callback-test?probe=1`, { hello: 'world' }).set({ ...secretHeaders, 'x-probe': 'yes' });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ method: 'POST', query: { probe: '1' }, body: { hello: 'world' } });
    expect(r.body.data.headers['x-probe']).toBe('yes');
    for (const name of Object.keys(secretHeaders)) expect(r.body.data.headers).not.toHaveProperty(name);
    expect(r.text).not.toMatch(/secret/);
    expect(Number.isNaN(Date.parse(r.body.data.receivedAt))).toBe(false);
  });

  it('GET echoes too, with a null body', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const r = await h.anonymous.get(`${DEV}/callback-test?a=b`).set(secretHeaders);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ method: 'GET', query: { a: 'b' }, body: null });
    expect(r.text).not.toMatch(/secret/);
  });
});

describe('create-test-payment, then trigger-webhook', () => {
  it('completes that payment through the real, signed webhook', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const created = await createTestPayment(h, { amount: '12.5' });
    expect(created.status).toBe(201);
    const { paymentId, externalId, purchaseRequestId, sellerOfferId } = created.body.data;
    expect(externalId).toMatch(/^AMN_TEST_[0-9a-f]{24}$/);
    expect(await paymentOf(h, paymentId)).toMatchObject({
      provider: 'shkeeper',
      direction: 'in',
      status: 'pending',
      externalId,
      purchaseRequestId,
      sellerOfferId,
      amount: { amount: '12.5', currency: 'USDT' },
    });

    const fired = await h.as({ admin: ADMIN }).post(`${DEV}/trigger-webhook`, { paymentId });
    await h.settle();
    expect(fired.status).toBe(200);
    expect(fired.body.data).toMatchObject({ webhookStatus: 202, webhookResponse: { success: true } });
    expect(fired.body.data.payload).toMatchObject({ external_id: externalId, status: 'PAID', paid: true, balance_crypto: '12.5' });

    const txid = fired.body.data.payload.transactions[0].txid;
    expect(await paymentOf(h, paymentId)).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: txid });
    expect((await paymentOf(h, paymentId)).escrow).toMatchObject({ received: '12.5', shortfall: null });
    expect((await h.store.sellerOffers.findById(sellerOfferId))?.status).toBe('accepted');
    expect((await h.store.purchaseRequests.findById(purchaseRequestId))?.status).toBe('payment_processing');
    expect(h.events.named('purchase-request-update')).toHaveLength(1);
    expect((await deliveriesOf(h)).map((d) => [d.verification, d.outcome])).toEqual([['hmac_timestamp', 'applied']]);
    expect(await webhookStats(h)).toMatchObject({ total: 1, success: 1 });

    // Firing it again is a second transaction for a settled payment: acknowledged, no status moves;
    // the money is recorded on the escrow as excess (it used to be dropped: issue 10).
    const again = await h.as({ admin: ADMIN }).post(`${DEV}/trigger-webhook`, { paymentId });
    await h.settle();
    expect(again.body.data.webhookStatus).toBe(202);
    const after = await paymentOf(h, paymentId);
    expect(after.history.map((x) => x.toStatus)).toEqual(['pending', 'completed']);
    expect(after.escrow!.credits.map((c) => c.kind)).toEqual(['funding', 'excess']);
    expect(h.events.named('purchase-request-update')).toHaveLength(1);
    await expectSoundLedgers(h);
  });

  it('posts to this server, never to a Host header the caller chose', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    receiver = await startReceiver();
    const { paymentId } = (await createTestPayment(h, {})).body.data;
    const body = JSON.stringify({ paymentId });
    // fetch() will not send a foreign Host header; a plain request will.
    const answer = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      const req = http.request(
        `${h.url}/api/payment${DEV}/trigger-webhook`,
        {
          method: 'POST',
          headers: {
            host: new URL(receiver!.url).host,
            authorization: h.bearer(ADMIN, { admin: true }),
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(answer.json.data.webhookStatus).toBe(202);
    expect(receiver.received).toHaveLength(0);
    await h.settle();
    expect((await paymentOf(h, paymentId)).status).toBe('completed');
  });

  it('PARTIAL is credited for what its transaction carries: the whole amount, so the payment completes', async () => {
    // trigger-webhook's PARTIAL names a transaction of the full amount. It used to move the payment
    // to processing on the status word alone; what arrived decides now (issue 10).
    h = await startTestWorld({ listen: true, shkeeper: true });
    const { paymentId } = (await createTestPayment(h, {})).body.data;
    const fired = await h.as({ admin: ADMIN }).post(`${DEV}/trigger-webhook`, { paymentId, status: 'PARTIAL' });
    await h.settle();
    expect(fired.body.data.webhookStatus).toBe(202);
    expect(fired.body.data.payload).toMatchObject({ status: 'PARTIAL', transactions: [{ amount_crypto: '10' }] });
    const p = await paymentOf(h, paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(p.escrow).toMatchObject({ received: '10', shortfall: null });
  });

  it('trigger-webhook needs an admin token (even the buyer gets 403); bad bodies are 400', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const { paymentId } = (await createTestPayment(h, {})).body.data;
    expect((await h.anonymous.post(`${DEV}/trigger-webhook`, { paymentId })).status).toBe(401);
    const stranger = await h.as('someone-else').post(`${DEV}/trigger-webhook`, { paymentId });
    await h.settle();
    expect(stranger.status).toBe(403);
    expect(stranger.body.error.code).toBe('admin_required');
    const buyer = await h.as('test-buyer').post(`${DEV}/trigger-webhook`, { paymentId });
    await h.settle();
    expect(buyer.status).toBe(403);
    const bad = await h.as({ admin: ADMIN }).post(`${DEV}/trigger-webhook`, { paymentId, status: 'UNPAID' });
    expect(bad.status).toBe(400);
    expect((await paymentOf(h, paymentId)).status).toBe('pending');
    expect(await h.store.webhookDeliveries.count({})).toBe(0);
  });

  it('create-test-payment refuses a malformed amount', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const r = await h.anonymous.post(`${DEV}/create-test-payment`, { amount: '-1' });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toEqual(['amount']);
    expect(await h.store.payments.count({})).toBe(0);
  });
});
