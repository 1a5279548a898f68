import { describe, expect, it } from 'vitest';
import { payment } from '../helpers/fixtures.js';
import { appWithPayment, expectRefused, inState, OPEN_STATUSES, PUT_STATUSES, TX_A, TX_B } from '../helpers/controllerKit.js';
import { PAYMENT_STATUSES, type PaymentRecord, type PaymentStatus } from '../../src/core/store/records.js';

const CLOSED_STATUSES = PAYMENT_STATUSES.filter((s) => !(OPEN_STATUSES as readonly PaymentStatus[]).includes(s));

async function withPayment(over: Partial<PaymentRecord> = {}) {
  const t = await appWithPayment(over);
  const put = (body: object, bearer = t.bearer('buyer-1')) => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', bearer).send(body);
  return { ...t, put, admin: t.bearer('ops', { admin: true }) };
}

describe('PUT /api/payment/:id — transaction hash, metadata, blockchain', () => {
  it.each(['buyer-1', 'seller-1'])('lets the party %s attach a transaction hash, status unchanged, nothing announced', async (who) => {
    const t = await withPayment();
    const res = await t.put({ transactionHash: TX_A.toUpperCase().replace('0X', '0x') }, t.bearer(who));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'pending', transactionHash: TX_A });
    // A party's hash is recorded as a claim (issue 10); the view shows it, `transactionHash` stays for a verified credit.
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ status: 'pending', transactionHash: null, claim: { txHash: TX_A }, history: [] });
    expect(t.events.emitted).toEqual([]);
  });

  it('accepts the same hash again as a no-op', async () => {
    const t = await withPayment({ transactionHash: TX_A });
    const before = await t.store.payments.findById(t.payment.id);
    const res = await t.put({ transactionHash: TX_A });
    expect(res.status).toBe(200);
    expect(await t.store.payments.findById(t.payment.id)).toEqual(before);
  });

  it('refuses a different hash once one is set (409), for parties and admins', async () => {
    const t = await withPayment({ transactionHash: TX_A });
    await expectRefused(t, () => t.put({ transactionHash: TX_B }), 409, 'transaction_hash_already_set');
    await expectRefused(t, () => t.put({ transactionHash: TX_B }, t.admin), 409, 'transaction_hash_already_set');
    await expectRefused(t, () => t.put({ status: 'processing', transactionHash: TX_B }, t.admin), 409, 'transaction_hash_already_set');
  });

  it('refuses a hash already used by another payment (409 transaction_hash_in_use), with or without a status change', async () => {
    const t = await withPayment();
    await t.store.payments.insertOne(payment({ buyerId: 'buyer-7', sellerId: 'seller-7', transactionHash: TX_B }));
    await expectRefused(t, () => t.put({ transactionHash: TX_B }), 409, 'transaction_hash_in_use');
    await expectRefused(t, () => t.put({ transactionHash: TX_B, metadata: { a: 1 } }, t.admin), 409, 'transaction_hash_in_use');
    await expectRefused(t, () => t.put({ status: 'processing', transactionHash: TX_B }, t.admin), 409, 'transaction_hash_in_use');
    await expectRefused(t, () => t.put({ status: 'cancelled', transactionHash: TX_B }), 409, 'transaction_hash_in_use');
  });

  it('does not refuse a hash another payment only claims: a claim reserves nothing', async () => {
    const t = await withPayment();
    const claim = { txHash: TX_B, from: null, nonce: null, source: 'api', actor: 'buyer-7', at: new Date() };
    const other = await t.store.payments.insertOne(payment({ buyerId: 'buyer-7', sellerId: 'seller-7', claim }));
    const res = await t.put({ transactionHash: TX_B });
    expect(res.status).toBe(200);
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ transactionHash: null, claim: { txHash: TX_B } });
    expect(await t.store.payments.findById(other.id)).toMatchObject({ transactionHash: null, claim: { txHash: TX_B } });
  });

  it('lets an admin set a hash together with a status change in one write', async () => {
    const t = await withPayment();
    const res = await t.put({ status: 'processing', transactionHash: TX_A }, t.admin);
    expect(res.body.data).toMatchObject({ status: 'processing', transactionHash: TX_A });
    // Recorded as a claim (issue 10).
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ status: 'processing', transactionHash: null, claim: { txHash: TX_A } });
  });

  it.each(['0x1234', TX_A.slice(2), `${TX_A}00`, `0x${'g'.repeat(64)}`, 42])('refuses the malformed hash %j (400)', async (hash) => {
    const t = await withPayment();
    await expectRefused(t, () => t.put({ transactionHash: hash }), 400, 'validation_error');
  });

  it('merges metadata key by key and keeps the rest', async () => {
    const t = await withPayment({ metadata: { keep: 'me', replace: 'old' } });
    const res = await t.put({ metadata: { replace: 'new', added: { nested: [1, 2] } } }, t.bearer('seller-1'));
    expect(res.status).toBe(200);
    expect(res.body.data.metadata).toEqual({ keep: 'me', replace: 'new', added: { nested: [1, 2] } });
    expect((await t.store.payments.findById(t.payment.id))?.metadata).toEqual(res.body.data.metadata);
    expect(t.events.emitted).toEqual([]);
  });

  it.each(PAYMENT_STATUSES)(
    'lets the parties (while open) and an admin attach metadata to a %s payment, status untouched, nothing announced',
    async (status) => {
      const t = await withPayment({ ...inState(status), metadata: { keep: 1 } });
      const open = (OPEN_STATUSES as readonly PaymentStatus[]).includes(status);
      // A party edits its payment only while it is open (lead's rule with issue 10): afterwards 409 payment_not_open, nothing written.
      if (!open) {
        for (const who of ['buyer-1', 'seller-1'])
          await expectRefused(t, () => t.put({ metadata: { receipt: 'r-1' } }, t.bearer(who)), 409, 'payment_not_open');
      }
      const steps: [string, Record<string, unknown>][] = [
        ...(open
          ? ([
              [t.bearer('buyer-1'), { receipt: 'r-1' }],
              [t.bearer('seller-1'), { shipped: true }],
            ] as [string, Record<string, unknown>][])
          : []),
        [t.admin, { audited: 'ops' }],
      ];
      let expected: Record<string, unknown> = { keep: 1 };
      for (const [bearer, metadata] of steps) {
        const res = await t.put({ metadata }, bearer);
        expected = { ...expected, ...metadata };
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ status, escrowState: t.payment.escrowState, metadata: expected });
      }
      const stored = await t.store.payments.findById(t.payment.id);
      expect(stored).toMatchObject({ status, escrowState: t.payment.escrowState, metadata: expected, transactionHash: null });
      expect(stored?.history).toEqual(t.payment.history);
      expect(t.events.emitted).toEqual([]);
    },
  );

  it.each(OPEN_STATUSES)('lets a party attach a transaction hash to a %s payment', async (status) => {
    const t = await withPayment(inState(status));
    const res = await t.put({ transactionHash: TX_A }, t.bearer('seller-1'));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status, transactionHash: TX_A });
    // Recorded as a claim (issue 10).
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ status, transactionHash: null, claim: { txHash: TX_A }, history: t.payment.history });
    expect(t.events.emitted).toEqual([]);
  });

  it.each(CLOSED_STATUSES)('refuses a transaction hash on a %s payment (409 payment_not_open), for parties and admins, writing nothing', async (status) => {
    const t = await withPayment(inState(status));
    for (const bearer of [t.bearer('buyer-1'), t.bearer('seller-1'), t.admin]) {
      await expectRefused(t, () => t.put({ transactionHash: TX_A }, bearer), 409, 'payment_not_open');
      // the metadata sent with it is not written either
      await expectRefused(t, () => t.put({ transactionHash: TX_A, metadata: { a: 1 } }, bearer), 409, 'payment_not_open');
    }
    // nor by an admin who re-sends the current status with it (settled statuses cannot be sent at all)
    if ((PUT_STATUSES as readonly PaymentStatus[]).includes(status)) {
      await expectRefused(t, () => t.put({ status, transactionHash: TX_A }, t.admin), 409, 'payment_not_open');
    }
  });

  it.each<Record<string, unknown>>([
    { $set: { status: 'completed' } },
    { 'status.x': 1 },
    { nested: { $gt: '' } },
    { __proto__x: 1, constructor: 1 },
    { deep: { a: { b: { c: { d: { e: { f: 1 } } } } } } },
    { big: 'x'.repeat(17 * 1024) },
  ])('refuses unsafe or oversized metadata %# (400)', async (metadata) => {
    const t = await withPayment();
    await expectRefused(t, () => t.put({ metadata }), 400, 'validation_error');
  });

  it('refuses a __proto__ key sent as raw JSON, at any depth (400)', async () => {
    const t = await withPayment();
    for (const raw of ['{"metadata":{"__proto__":{"polluted":true}}}', '{"metadata":{"a":{"__proto__":{"polluted":true}}}}']) {
      await expectRefused(
        t,
        () => t.http().put(`/api/payment/${t.payment.id}`).set('Authorization', t.bearer('buyer-1')).set('Content-Type', 'application/json').send(raw),
        400,
        'validation_error',
      );
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('changes network and token while pending, lower-casing the network', async () => {
    const t = await withPayment();
    const res = await t.put({ blockchain: { network: 'ETH', token: '0x55d398326f99059fF775485246999027B3197955' } });
    expect(res.status).toBe(200);
    expect(res.body.data.blockchain).toEqual({ network: 'eth', token: '0x55d398326f99059fF775485246999027B3197955' });
  });

  it('refuses a blockchain change once the payment is not pending (409), even for an admin', async () => {
    const t = await withPayment({ status: 'processing' });
    await expectRefused(t, () => t.put({ blockchain: { network: 'eth', token: 'USDT' } }), 409, 'payment_not_pending');
    await expectRefused(t, () => t.put({ blockchain: { network: 'eth', token: 'USDT' } }, t.admin), 409, 'payment_not_pending');
    await expectRefused(t, () => t.put({ status: 'failed', blockchain: { network: 'eth', token: 'USDT' } }, t.admin), 409, 'payment_not_pending');
    // A completion without a hash is refused first for want of evidence (issue 10).
    await expectRefused(t, () => t.put({ status: 'completed', blockchain: { network: 'eth', token: 'USDT' } }, t.admin), 409, 'evidence_required');
  });

  it('refuses every field to a user who is not a party (404) and checks access before validity of the change', async () => {
    const t = await withPayment({ transactionHash: TX_A });
    const stranger = t.bearer('stranger');
    for (const body of [{ transactionHash: TX_B }, { metadata: { a: 1 } }, { blockchain: { network: 'eth', token: 'USDT' } }]) {
      await expectRefused(t, () => t.put(body, stranger), 404, 'payment_not_found');
    }
  });

  it('refuses a party combining a forbidden status with an allowed field, writing neither', async () => {
    const t = await withPayment();
    await expectRefused(t, () => t.put({ status: 'processing', transactionHash: TX_A, metadata: { a: 1 } }), 403, 'status_change_forbidden');
    await expectRefused(t, () => t.put({ status: 'completed', transactionHash: TX_A }), 403, 'self_completion_forbidden');
  });

  it('lets a party cancel and attach metadata in one request', async () => {
    const t = await withPayment();
    const res = await t.put({ status: 'cancelled', metadata: { reason: 'changed my mind' } });
    expect(res.status).toBe(200);
    expect(await t.store.payments.findById(t.payment.id)).toMatchObject({ status: 'cancelled', metadata: { reason: 'changed my mind' } });
  });
});
