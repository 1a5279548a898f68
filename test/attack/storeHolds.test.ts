import { describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { payment, seedMarketplace, snapshot } from '../helpers/fixtures.js';

/**
 * CONFIRMING tests (they pass today, on both stores): hostile but well-formed input on the
 * writing routes of the payment records is refused with a 4xx and a machine-readable code and
 * changes nothing; query strings cannot inject operators; user ids that are names of
 * Object.prototype members behave as plain ids. Run on the in-process store and, with
 * TEST_STORE=driver, on MongoStore over the driver stand-in.
 */

async function setup() {
  const t = await startTestWorld();
  const m = await seedMarketplace(t.store);
  const body = {
    purchaseRequestId: m.request.id,
    sellerOfferId: m.offer.id,
    buyerId: 'buyer-1',
    sellerId: 'seller-1',
    amount: { amount: '25.5', currency: 'USDT' },
  };
  return { t, m, body, buyer: t.bearer('buyer-1'), admin: t.bearer('admin-1', { admin: true }) };
}

async function expectRefusedUnchanged(t: TestWorld, send: () => Promise<{ status: number; body: any; text: string }>, status = 400, code = 'validation_error') {
  const before = await snapshot(t.store);
  const r = await send();
  expect(r.status, r.text).toBe(status);
  expect(r.body.success).toBe(false);
  expect(r.body.error.code).toBe(code);
  expect(await snapshot(t.store)).toEqual(before);
}

const deep = (n: number): Record<string, unknown> => (n === 0 ? { leaf: 1 } : { d: deep(n - 1) });

const HOSTILE_METADATA: [string, unknown][] = [
  ['a $-prefixed key', { $set: { status: 'completed' } }],
  ['a $-prefixed nested key', { a: { $where: '1' } }],
  ['a dotted key (would write a sibling path)', { 'x.y': 1 }],
  ['a key that names another field through a dot', { '..status': 'completed' }],
  ['an own __proto__ key', JSON.parse('{"__proto__":{"status":"completed"}}')],
  ['a nested __proto__ key', JSON.parse('{"a":{"__proto__":{"polluted":1}}}')],
  ['a constructor key', { constructor: { prototype: { polluted: 1 } } }],
  ['an empty key', { '': 1 }],
  ['a key over 64 characters', { ['k'.repeat(65)]: 1 }],
  ['nesting deeper than 6 levels', deep(7)],
  ['more than 16 KiB', { big: 'x'.repeat(17 * 1024) }],
  ['null instead of an object', null],
  ['an array instead of an object', [1, 2]],
  ['a string instead of an object', 'meta'],
];

describe('CONFIRMING: POST /api/payment refuses hostile metadata and ill-typed fields (both stores)', () => {
  for (const [what, metadata] of HOSTILE_METADATA) {
    it(`metadata with ${what} → 400 validation_error, nothing written`, async () => {
      const { t, body, buyer } = await setup();
      await expectRefusedUnchanged(t, () =>
        t
          .http()
          .post('/api/payment')
          .set('authorization', buyer)
          .send({ ...body, metadata }),
      );
    });
  }

  const ILL_TYPED: [string, Record<string, unknown>][] = [
    ['a number for buyerId', { buyerId: 123 }],
    ['an array for purchaseRequestId', { purchaseRequestId: ['65a0c0ffee00000000000001'] }],
    ['an operator object for sellerOfferId', { sellerOfferId: { $ne: null } }],
    ['a non-ObjectId purchaseRequestId', { purchaseRequestId: 'not-an-id' }],
    ['an empty sellerId', { sellerId: '' }],
    ['null amount', { amount: null }],
    ['an amount float cannot hold', { amount: { amount: 0.1 + 0.2, currency: 'USDT' } }],
    ['an exponent amount', { amount: { amount: '1e3', currency: 'USDT' } }],
    ['an unknown top-level key (status)', { status: 'completed' }],
    ['an unknown top-level key (escrow)', { escrow: { state: 'funded' } }],
    ['a 100 000-character buyerId', { buyerId: 'b'.repeat(100_000) }],
    ['a unicode buyerId', { buyerId: 'bûyer-1' }],
  ];
  for (const [what, over] of ILL_TYPED) {
    it(`${what} → 400 validation_error, nothing written`, async () => {
      const { t, body, admin } = await setup();
      await expectRefusedUnchanged(t, () =>
        t
          .http()
          .post('/api/payment')
          .set('authorization', admin)
          .send({ ...body, ...over }),
      );
    });
  }

  it('a body nested deeper than 32 levels → 400 json_too_deep', async () => {
    const { t, body, buyer } = await setup();
    await expectRefusedUnchanged(
      t,
      () =>
        t
          .http()
          .post('/api/payment')
          .set('authorization', buyer)
          .send({ ...body, metadata: deep(40) }),
      400,
      'json_too_deep',
    );
  });
});

describe('CONFIRMING: PUT /api/payment/:id refuses hostile metadata; a metadata key never escapes metadata (both stores)', () => {
  for (const [what, metadata] of HOSTILE_METADATA) {
    it(`metadata with ${what} → 400, payment unchanged`, async () => {
      const { t, body, buyer } = await setup();
      const created = await t.http().post('/api/payment').set('authorization', buyer).send(body);
      expect(created.status, created.text).toBe(201);
      await expectRefusedUnchanged(t, () => t.http().put(`/api/payment/${created.body.data.id}`).set('authorization', buyer).send({ metadata }));
    });
  }

  it('keys named like record fields land inside metadata only, identically on both stores', async () => {
    const { t, body, buyer } = await setup();
    const created = await t.http().post('/api/payment').set('authorization', buyer).send(body);
    const id = created.body.data.id;
    const before = await t.store.payments.findById(id);
    const metadata = { status: 'completed', escrow: { state: 'funded' }, amount: { amount: '0.01' }, _id: 'x', id: 'y', revision: 99, buyerId: 'mallory' };
    const r = await t.http().put(`/api/payment/${id}`).set('authorization', buyer).send({ metadata });
    expect(r.status, r.text).toBe(200);
    const after = (await t.store.payments.findById(id))!;
    expect(after.metadata).toEqual(metadata);
    expect(after.status).toBe('pending');
    expect(after.escrowState).toBe('unfunded');
    expect(after.escrow).toEqual(before!.escrow);
    expect(after.amount).toEqual({ amount: '25.5', currency: 'USDT' });
    expect(after.buyerId).toBe('buyer-1');
    expect(after.revision).toBe((before!.revision ?? 0) + 1);
  });

  it('ids that are not ObjectIds → 404 route_not_found', async () => {
    const { t, buyer } = await setup();
    for (const id of ['not-an-id', '%24ne', '65a0c0ffee0000000000000', '65a0c0ffee00000000000001x']) {
      await expectRefusedUnchanged(
        t,
        () =>
          t
            .http()
            .put(`/api/payment/${id}`)
            .set('authorization', buyer)
            .send({ metadata: { a: 1 } }),
        404,
        'route_not_found',
      );
    }
  });

  it('status values outside the enum, and released/refunded, → 400', async () => {
    const { t, body, buyer, admin } = await setup();
    const created = await t.http().post('/api/payment').set('authorization', buyer).send(body);
    for (const status of ['released', 'refunded', 'COMPLETED', '', null, ['cancelled'], { $ne: 'x' }]) {
      await expectRefusedUnchanged(t, () => t.http().put(`/api/payment/${created.body.data.id}`).set('authorization', admin).send({ status }));
    }
  });
});

describe('CONFIRMING: query strings cannot inject operators or duplicate scalars (both stores)', () => {
  async function listing() {
    const { t } = await setup();
    await t.store.payments.insertOne(payment({ buyerId: 'buyer-1', status: 'completed' }));
    await t.store.payments.insertOne(payment({ buyerId: 'buyer-1', status: 'pending' }));
    await t.store.payments.insertOne(payment({ buyerId: 'victim', status: 'completed' }));
    return t;
  }

  it('duplicate status / limit params → 400', async () => {
    const t = await listing();
    for (const q of ['status=pending&status=completed', 'limit=1&limit=2', 'offset=0&offset=1']) {
      const r = await t.http().get(`/api/payment?${q}`).set('authorization', t.bearer('buyer-1'));
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
    }
  });

  it('bracketed operator params are not operators: the answer is that of no filter at all', async () => {
    const t = await listing();
    const plain = await t.http().get('/api/payment').set('authorization', t.bearer('buyer-1'));
    for (const q of ['status[$ne]=x', 'status[]=pending', 'buyerId[$ne]=x', '$where=1', 'limit[$gt]=0']) {
      const r = await t.http().get(`/api/payment?${q}`).set('authorization', t.bearer('buyer-1'));
      expect(r.status, q).toBe(200);
      expect(r.body.data, q).toEqual(plain.body.data);
      expect(r.body.data.payments.every((p: { buyerId: string }) => p.buyerId === 'buyer-1')).toBe(true);
    }
  });

  it('offset past the end answers an empty page; beyond 10^9 or negative → 400', async () => {
    const t = await listing();
    const end = await t.http().get('/api/payment?offset=999999999').set('authorization', t.bearer('buyer-1'));
    expect(end.status).toBe(200);
    expect(end.body.data.payments).toEqual([]);
    for (const q of ['offset=1000000001', 'offset=-1', 'offset=1e3', 'limit=0', 'limit=201']) {
      expect((await t.http().get(`/api/payment?${q}`).set('authorization', t.bearer('buyer-1'))).status, q).toBe(400);
    }
  });
});

describe('CONFIRMING: user ids named like Object.prototype members are plain ids (both stores)', () => {
  for (const user of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']) {
    it(`lists, stats and exports of "${user}" hold only that user's payments`, async () => {
      const t = await startTestWorld();
      await t.store.payments.insertOne(payment({ buyerId: user, status: 'completed' }));
      await t.store.payments.insertOne(payment({ buyerId: 'someone-else', status: 'completed' }));
      const me = t.bearer(user);
      const list = await t.http().get('/api/payment?status=pending,completed').set('authorization', me);
      expect(list.status).toBe(200);
      expect(list.body.data.total).toBe(1);
      expect(list.body.data.payments.map((p: { buyerId: string }) => p.buyerId)).toEqual([user]);
      const stats = await t
        .http()
        .get(`/api/payment/stats/${user}`)
        .set('authorization', t.bearer('admin-1', { admin: true }));
      expect(stats.status).toBe(200);
      expect(stats.body.data.count).toBe(1);
      const other = await t.http().get(`/api/payment/user/someone-else`).set('authorization', me);
      expect(other.status).toBe(403);
    });
  }
});
