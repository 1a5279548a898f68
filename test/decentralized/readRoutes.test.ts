import { getAddress } from 'ethers';
import { describe, expect, it } from 'vitest';
import { payment as fixturePayment } from '../helpers/fixtures.js';
import { startTestWorld, ESCROW } from '../helpers/testWorld.js';

/**
 * The read-only Web3 routes: GET /decentralized/status/:paymentId and /decentralized/receiver (no
 * auth), and GET /decentralized/history/:userId — which, deliberately stricter than the spec's
 * "no auth", needs the user's own token or an admin's.
 */

const decentralized = (over: Parameters<typeof fixturePayment>[0] = {}) => {
  const p = fixturePayment({ provider: 'decentralized', ...over });
  return { ...p, externalId: `DEPAY_${p.id}` };
};

describe('GET /decentralized/status/:paymentId', () => {
  it('answers the status of a decentralized payment, with no token', async () => {
    const t = await startTestWorld();
    const p = await t.store.payments.insertOne(
      decentralized({ status: 'processing', transactionHash: `0x${'ab'.repeat(32)}`, providerData: { confirmations: 2, claimedWallet: '0x1' } }),
    );
    const r = await t.http().get(`/api/payment/decentralized/status/${p.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: {
        paymentId: p.id,
        status: 'processing',
        escrowState: 'unfunded',
        transactionHash: `0x${'ab'.repeat(32)}`,
        confirmations: 2,
        amount: { amount: '25.5', currency: 'USDT' },
        updatedAt: p.updatedAt.toISOString(),
      },
    });
  });

  it('404 for an unknown id or another provider’s payment; 400 for a malformed id', async () => {
    const t = await startTestWorld();
    const shk = await t.store.payments.insertOne(fixturePayment({ provider: 'shkeeper' }));
    for (const id of ['aaaaaaaaaaaaaaaaaaaaaaaa', shk.id]) {
      const r = await t.http().get(`/api/payment/decentralized/status/${id}`);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('payment_not_found');
    }
    expect((await t.http().get('/api/payment/decentralized/status/123')).status).toBe(400);
  });
});

describe('GET /decentralized/receiver', () => {
  it('answers the escrow receiver and the accepted token, with no token', async () => {
    const t = await startTestWorld({ env: { BSC_USDT_ADDRESS: '0x55d398326f99059ff775485246999027b3197955', BSC_CONFIRMATIONS: '15' } });
    const r = await t.http().get('/api/payment/decentralized/receiver');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: {
        address: getAddress(ESCROW),
        network: 'bsc',
        chainId: 56,
        confirmations: 15,
        tokens: [{ symbol: 'USDT', address: '0x55d398326f99059fF775485246999027B3197955', decimals: 18 }],
      },
    });
  });

  it('503 not_configured without ESCROW_RECEIVER_ADDRESS', async () => {
    const t = await startTestWorld({ env: { ESCROW_RECEIVER_ADDRESS: '' } });
    const r = await t.http().get('/api/payment/decentralized/receiver');
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
  });
});

describe('GET /decentralized/history/:userId', () => {
  async function seeded() {
    const t = await startTestWorld();
    const mine = await t.store.payments.insertOne(decentralized({ buyerId: 'alice', sellerId: 'bob', createdAt: new Date(Date.now() - 1000) }));
    const sold = await t.store.payments.insertOne(decentralized({ buyerId: 'carol', sellerId: 'alice' }));
    await t.store.payments.insertOne(decentralized({ buyerId: 'carol', sellerId: 'dave' }));
    await t.store.payments.insertOne(fixturePayment({ provider: 'shkeeper', buyerId: 'alice' }));
    return { t, mine, sold };
  }

  it('the user’s own decentralized payments, as buyer or seller, newest first', async () => {
    const { t, mine, sold } = await seeded();
    const r = await t.http().get('/api/payment/decentralized/history/alice').set('authorization', t.bearer('alice'));
    expect(r.status).toBe(200);
    expect(r.body.data.map((p: { id: string }) => p.id)).toEqual([sold.id, mine.id]);
    expect(r.body.data[0]).not.toHaveProperty('providerData');
    const admin = await t
      .http()
      .get('/api/payment/decentralized/history/alice')
      .set('authorization', t.bearer('ops', { admin: true }));
    expect(admin.status).toBe(200);
    expect(admin.body.data).toHaveLength(2);
  });

  it('401 without a token or with a bad one, 403 for another user', async () => {
    const { t } = await seeded();
    expect((await t.http().get('/api/payment/decentralized/history/alice')).status).toBe(401);
    expect((await t.http().get('/api/payment/decentralized/history/alice').set('authorization', 'Bearer x.y.z')).status).toBe(401);
    const other = await t.http().get('/api/payment/decentralized/history/alice').set('authorization', t.bearer('carol'));
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden_user');
  });
});

describe('without chain access', () => {
  it('verify answers 503 not_configured and moves nothing; verify-all-pending without CRON_SECRET needs no header and counts the error', async () => {
    const t = await startTestWorld();
    // A claimed hash is stored as `claim` (issue 10); `transactionHash` is only set by a verified credit.
    const claim = { txHash: `0x${'cd'.repeat(32)}`, from: null, nonce: null, source: 'decentralized_save', actor: 'anonymous', at: new Date() };
    const p = await t.store.payments.insertOne(decentralized({ claim }));
    const r = await t.http().post(`/api/payment/decentralized/verify/${p.id}`);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
    const all = await t.http().post('/api/payment/decentralized/verify-all-pending');
    expect(all.status).toBe(200);
    expect(all.body.data).toMatchObject({ checked: 1, confirmed: 0, errors: 1 });
    expect((await t.store.payments.findById(p.id))?.status).toBe('pending');
  });
});
