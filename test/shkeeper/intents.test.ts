import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { snapshot } from '../helpers/fixtures.js';
import { BUYER, createIntent, intentBody, seed, useSeededWorld } from './payinTestKit.js';

/** POST /api/payment/shkeeper/intents end to end: real server, fake SHKeeper over HTTP. */

const { h, s } = useSeededWorld();

const INTENTS = '/shkeeper/intents';
const paymentRequests = () => h.fake.requests.filter((r) => r.endpoint === 'payment_request');

describe('POST /shkeeper/intents: the happy path', () => {
  it('answers exactly the intent, writes the Payment, asks SHKeeper once and announces it', async () => {
    const before = Date.now();
    const r = await createIntent(h, s);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['data', 'success']);
    expect(r.body.success).toBe(true);
    const data = r.body.data;
    expect(Object.keys(data).sort()).toEqual(['amountCrypto', 'crypto', 'expiresAt', 'externalId', 'payAddress', 'paymentId', 'paymentUrl'].sort());
    expect(data.paymentId).toMatch(/^[0-9a-f]{24}$/);
    expect(data.externalId).toBe(`AMN_${data.paymentId}`);
    expect(data.crypto).toBe('BNB-USDT');
    // 25.5 USD at 1 USD per BNB-USDT plus SHKeeper's 2 % fee.
    expect(data.amountCrypto).toBe('26.01');
    const invoice = h.fake.invoice({ externalId: data.externalId });
    expect(data.payAddress).toBe(invoice.addr);
    expect(data.paymentUrl).toBe(`${h.config.shkeeper.invoiceUrl}/${data.externalId}`);
    const expires = Date.parse(data.expiresAt);
    expect(new Date(expires).toISOString()).toBe(data.expiresAt);
    const ttl = h.config.shkeeper.intentTtlMinutes * 60_000;
    expect(expires).toBeGreaterThanOrEqual(before + ttl - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + ttl + 1_000);

    const p = await h.store.payments.findById(data.paymentId);
    expect(p).toMatchObject({
      provider: 'shkeeper',
      direction: 'in',
      status: 'pending',
      escrowState: 'unfunded',
      purchaseRequestId: s.request.id,
      sellerOfferId: s.offer.id,
      buyerId: BUYER,
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
      blockchain: { network: 'bsc', token: 'USDT' },
      externalId: data.externalId,
      payAddress: invoice.addr,
      paymentUrl: data.paymentUrl,
      transactionHash: null,
    });
    expect(await h.store.payments.count({})).toBe(1);

    const reqs = paymentRequests();
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.method).toBe('POST');
    expect(reqs[0]!.path).toBe('/api/v1/BNB-USDT/payment_request');
    expect(reqs[0]!.headers['x-shkeeper-api-key']).toBe(h.fake.apiKey);
    const sent = JSON.parse(reqs[0]!.body) as Record<string, unknown>;
    expect(sent).toEqual({
      external_id: data.externalId,
      fiat: 'USD',
      amount: '25.5',
      callback_url: `${h.config.publicBaseUrl}/api/payment/shkeeper/webhook`,
    });
    expect(typeof sent.amount).toBe('string');
    expect(sent.callback_url).toBe(`${h.url}/api/payment/shkeeper/webhook`);

    const created = h.events.named('payment-created');
    expect(created.map((e) => e.target)).toEqual([
      { kind: 'admins' },
      { kind: 'request', id: s.request.id },
      { kind: 'user', id: BUYER },
      { kind: 'seller', id: 'seller-1' },
    ]);
    // One emission to all four rooms: a client in several of them receives it once.
    expect(h.events.calls.filter((c) => c.event === 'payment-created')).toHaveLength(1);
    for (const e of created) {
      expect(e.payload).toEqual({ paymentId: data.paymentId, purchaseRequestId: s.request.id, status: 'pending', provider: 'shkeeper' });
    }
  });

  it('accepts only USDT on bsc (BNB-USDT at SHKeeper): what the chain checks can verify', async () => {
    const before = await snapshot(h.store);
    const r = await createIntent(h, s, { token: 'usdt', network: 'TRON' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('unsupported_token');
    expect(paymentRequests()).toHaveLength(0);
    expect(await snapshot(h.store)).toEqual(before);
    const ok = await createIntent(h, s, { token: 'usdt', network: 'BSC' });
    expect(ok.status).toBe(200);
    expect(paymentRequests()[0]!.path).toBe('/api/v1/BNB-USDT/payment_request');
  });

  it('takes the amount as a JSON number too, and still sends SHKeeper a string', async () => {
    const r = await createIntent(h, s, { amount: 25.5 });
    expect(r.status).toBe(200);
    const sent = JSON.parse(paymentRequests()[0]!.body) as Record<string, unknown>;
    expect(sent.amount).toBe('25.5');
  });
});

describe('POST /shkeeper/intents: refusals change nothing', () => {
  it.each(['purchaseRequestId', 'sellerOfferId', 'amount', 'sellerId'])('400 when %s is missing, naming it', async (field) => {
    const before = await snapshot(h.store);
    const body: Record<string, unknown> = intentBody(s);
    delete body[field];
    const r = await h.as(BUYER).post(INTENTS, body);
    expect(r.status).toBe(400);
    expect(r.body.success).toBe(false);
    expect(r.body.error.code).toBe('validation_error');
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toEqual([field]);
    expect(await snapshot(h.store)).toEqual(before);
    expect(h.fake.calls('payment_request')).toBe(0);
  });

  it('401 without a token or with a bad one', async () => {
    const anon = await h.anonymous.post(INTENTS, intentBody(s));
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('missing_token');
    const bad = await h.as({ authorization: 'Bearer not.a.jwt' }).post(INTENTS, intentBody(s));
    expect(bad.status).toBe(401);
    expect(await h.store.payments.count({})).toBe(0);
    expect(h.fake.calls()).toBe(0);
  });

  it.each(['someone-else', 'seller-1'])('403 not_buyer for %s, who is not the request’s buyer', async (user) => {
    const r = await h.as(user).post(INTENTS, intentBody(s));
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('not_buyer');
    expect(await h.store.payments.count({})).toBe(0);
    expect(h.fake.calls()).toBe(0);
  });

  it('404 for an unknown purchase request or offer, or an offer of another request', async () => {
    const other = await seed(h);
    const cases: [Record<string, unknown>, string][] = [
      [{ purchaseRequestId: newObjectId() }, 'purchase_request_not_found'],
      [{ sellerOfferId: newObjectId() }, 'seller_offer_not_found'],
      [{ sellerOfferId: other.offer.id }, 'seller_offer_not_found'],
    ];
    for (const [over, code] of cases) {
      const r = await createIntent(h, s, over);
      expect(r.status, JSON.stringify(over)).toBe(404);
      expect(r.body.error.code).toBe(code);
    }
    expect(await h.store.payments.count({})).toBe(0);
    expect(h.fake.calls()).toBe(0);
  });

  it('409 when the amount or the seller does not match the offer', async () => {
    for (const over of [{ amount: '25.49' }, { amount: '30' }, { sellerId: 'seller-2' }]) {
      const r = await createIntent(h, s, over);
      expect(r.status, JSON.stringify(over)).toBe(409);
      expect(r.body.error.code).toBe('records_do_not_match');
    }
    // Equal amounts written differently are the same amount.
    expect((await createIntent(h, s, { amount: '25.50' })).status).toBe(200);
  });

  it('400 unsupported_token for a token SHKeeper has no id for on that network', async () => {
    for (const over of [{ token: 'FOO' }, { token: 'USDT', network: 'arbitrum' }]) {
      const r = await createIntent(h, s, over);
      expect(r.status, JSON.stringify(over)).toBe(400);
      expect(r.body.error.code).toBe('unsupported_token');
    }
    expect(await h.store.payments.count({})).toBe(0);
    expect(h.fake.calls()).toBe(0);
  });

  it('409 when the offer is no longer open', async () => {
    await h.store.sellerOffers.updateOne({ id: s.offer.id }, { $set: { status: 'rejected' } });
    const r = await createIntent(h, s);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('offer_not_open');
    expect(h.fake.calls()).toBe(0);
  });
});

describe('POST /shkeeper/intents: SHKeeper failures', () => {
  async function expectFailedThenRetry(expectedCode: string, heal: () => Promise<void> | void) {
    const r = await createIntent(h, s);
    expect(r.status).toBe(502);
    expect(r.body.success).toBe(false);
    expect(r.body.error.code).toBe(expectedCode);
    expect(r.body.error.message).toMatch(/payment provider/);

    const rows = await h.store.payments.find({});
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'shkeeper', status: 'failed', liveOfferKey: null, sellerOfferId: s.offer.id });
    expect(rows[0]!.history.map((x) => x.toStatus)).toEqual(['pending', 'failed']);
    expect(await h.store.payments.count({ status: 'pending' })).toBe(0);
    expect(h.events.named('payment-created')).toHaveLength(0);
    // The offer and request are untouched.
    expect((await h.store.sellerOffers.findById(s.offer.id))?.status).toBe('pending');
    expect((await h.store.purchaseRequests.findById(s.request.id))?.status).toBe('open');

    await heal();
    const again = await createIntent(h, s);
    expect(again.status).toBe(200);
    expect(again.body.data.paymentId).not.toBe(rows[0]!.id);
    expect(await h.store.payments.count({ status: 'pending' })).toBe(1);
    // Only the successful intent is announced.
    expect(h.events.callsNamed('payment-created')).toHaveLength(1);
    return r;
  }

  it('502 shkeeper_error when SHKeeper answers 500; the row is failed and the offer can be retried', async () => {
    h.fake.fail('http500');
    await expectFailedThenRetry('shkeeper_error', () => h.fake.heal());
  });

  it('502 shkeeper_unreachable when SHKeeper refuses connections', async () => {
    await h.fake.refuseConnections();
    await expectFailedThenRetry('shkeeper_unreachable', () => h.fake.heal());
  });

  it('502 shkeeper_unreachable when a proxy answers 503', async () => {
    h.fake.fail('http503');
    await expectFailedThenRetry('shkeeper_unreachable', () => h.fake.heal());
  });

  it('502 shkeeper_timeout when SHKeeper does not answer in time', async () => {
    h.fake.fail('hang', { times: 1 });
    await expectFailedThenRetry('shkeeper_timeout', () => undefined);
  });

  it('an answer lost after SHKeeper made the invoice is retried: the upsert gives back the same invoice', async () => {
    h.fake.fail('reset_after_processing', { times: 1, endpoint: 'payment_request' });
    const r = await createIntent(h, s);
    expect(r.status).toBe(200);
    expect(h.fake.calls('payment_request')).toBe(2);
    expect(h.fake.invoices).toHaveLength(1);
    expect(r.body.data.payAddress).toBe(h.fake.invoices[0]!.addr);
    expect(await h.store.payments.count({ status: 'pending' })).toBe(1);
  });

  it('502 shkeeper_error when SHKeeper answers an error body (crypto disabled), with its text in details', async () => {
    h.fake.setCrypto('BNB-USDT', { enabled: false });
    const first = await expectFailedThenRetry('shkeeper_error', () => h.fake.setCrypto('BNB-USDT', { enabled: true }));
    expect(first.body.error.details).toMatchObject({ operation: 'createPaymentRequest', providerMessage: 'BNB-USDT payment gateway is unavailable' });
  });
});
