import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMarketplace, snapshot } from '../helpers/fixtures.js';
import type { ListeningWorld } from '../helpers/testWorld.js';
import { createPayout, outbound, payoutBody, seed, startPayoutHarness } from '../payouts/payoutKit.js';
import type { ApiResponse } from '../helpers/testWorld.js';

/**
 * Found by the attack on the store (fixed): metadata that JSON carries but BSON cannot — a key
 * containing NUL, an object with a `_bsontype` key, a string with a lone UTF-16 surrogate — passed
 * the metadata schema. The in-process store kept it as sent; the MongoDB adapter
 * (TEST_STORE=driver) could not serialise the first two (503 store_unavailable, or 500 on PUT)
 * and silently rewrote the third (U+FFFD). Now each is a 400 (`invalid_text` from the body check,
 * `validation_error` from the metadata schema) that changes nothing, on both stores.
 */

let h: ListeningWorld;
beforeAll(async () => void (h = await startPayoutHarness()));
afterAll(() => h.stop());

const BSON_HOSTILE: [string, Record<string, unknown>][] = [
  ['a key containing NUL', { 'a\u0000b': 1 }],
  ['a nested key containing NUL', { a: { 'x\u0000': 1 } }],
  ['a _bsontype key', { _bsontype: 'Code', code: 'x' }],
  ['a nested _bsontype object', { d: { _bsontype: 'ObjectId', id: 'aaaaaaaaaaaa' } }],
];

async function expectRefusedUnchanged(send: () => PromiseLike<ApiResponse>) {
  const before = await snapshot(h.store);
  const r = await send();
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(['validation_error', 'invalid_text'], 'a 400 naming the refusal').toContain(r.body.error.code);
  expect(await snapshot(h.store)).toEqual(before);
}

async function manualBody() {
  const m = await seedMarketplace(h.store, { buyerId: 'buyer-1' });
  return {
    m,
    body: {
      purchaseRequestId: m.request.id,
      sellerOfferId: m.offer.id,
      buyerId: 'buyer-1',
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
    },
  };
}

describe('metadata BSON cannot store is refused with 400 on every route that takes it', () => {
  for (const [what, metadata] of BSON_HOSTILE) {
    it(`POST /api/payment with metadata holding ${what} → 400, nothing written`, async () => {
      const { body } = await manualBody();
      await expectRefusedUnchanged(() => h.as('buyer-1').post('/', { ...body, metadata }));
    });

    it(`PUT /api/payment/:id with metadata holding ${what} → 400, payment unchanged`, async () => {
      const { body } = await manualBody();
      const created = await h.as('buyer-1').post('/', body);
      expect(created.status).toBe(201);
      await expectRefusedUnchanged(() => h.as('buyer-1').put(`/${created.body.data.id}`, { metadata }));
    });

    it(`POST /shkeeper/intents with metadata holding ${what} → 400, nothing written`, async () => {
      const { m } = await manualBody();
      await expectRefusedUnchanged(() =>
        h
          .as('buyer-1')
          .post('/shkeeper/intents', { purchaseRequestId: m.request.id, sellerOfferId: m.offer.id, amount: '25.5', sellerId: 'seller-1', metadata }),
      );
    });

    it(`POST /decentralized/save with metadata holding ${what} → 400, nothing written`, async () => {
      const { m } = await manualBody();
      await expectRefusedUnchanged(() =>
        h.anonymous.post('/decentralized/save', { purchaseRequestId: m.request.id, buyerId: 'buyer-1', sellerId: 'seller-1', amount: '25.5', metadata }),
      );
    });

    it(`POST /shkeeper/payout with metadata holding ${what} → 400, nothing written or sent`, async () => {
      const m = await seed(h);
      const sent = h.fake.requests.length;
      await expectRefusedUnchanged(() => createPayout(h, payoutBody(m, { metadata })));
      expect(h.fake.requests.length).toBe(sent);
      expect(await outbound(h, m.offer.id)).toEqual([]);
    });
  }
});

describe('a lone surrogate in metadata is refused, so the stores cannot disagree on it (the driver would store U+FFFD)', () => {
  const LONE = [
    ['a value with a lone high surrogate', { a: '\ud800x' }],
    ['a key that is a lone low surrogate', { ['\udc00']: 1 }],
  ] as const;
  for (const [what, metadata] of LONE) {
    it(`POST /api/payment with ${what}: refused with 400, or read back exactly as sent`, async () => {
      const { body } = await manualBody();
      const r = await h.as('buyer-1').post('/', { ...body, metadata });
      if (r.status === 400) {
        expect(r.body.error.code).toBe('invalid_text');
        return;
      }
      expect(r.status).toBe(201);
      const read = await h.as('buyer-1').get(`/${r.body.data.id}`);
      expect(read.body.data.metadata).toEqual(metadata);
      expect((await h.store.payments.findById(r.body.data.id))!.metadata).toEqual(metadata);
    });
  }

  it('PUT /api/payment/:id with a lone surrogate in a value: refused with 400, or read back exactly as sent', async () => {
    const { body } = await manualBody();
    const created = await h.as('buyer-1').post('/', body);
    const r = await h.as('buyer-1').put(`/${created.body.data.id}`, { metadata: { s: '\ud83d' } });
    if (r.status === 400) return void expect(r.body.error.code).toBe('invalid_text');
    expect(r.status).toBe(200);
    expect((await h.store.payments.findById(created.body.data.id))!.metadata).toEqual({ s: '\ud83d' });
  });
});
