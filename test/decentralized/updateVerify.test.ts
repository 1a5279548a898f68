import { describe, expect, it } from 'vitest';
import { payment as fixturePayment, snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  attachClaim,
  bogusHash,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  seedClaim,
  seedProven,
  units,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * POST /decentralized/verify/:paymentId and PUT /decentralized/update against real transfers on a
 * local chain (BSC_CONFIRMATIONS=3): only the chain's answer moves a payment. The payer proves its
 * wallet first (`seedProven`), then pays, then the hash is claimed and verified (issue 10).
 */

const env = useWeb3Suite();

const update = (body: unknown, auth?: string) => env.h.as({ authorization: auth }).put('/decentralized/update', body);

describe('POST /decentralized/verify/:paymentId — the chain decides', () => {
  it('confirmed: a transfer of the amount to the receiver with 3 confirmations completes the payment once', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    await attachClaim(env.h, p.id, hash);
    const r = await env.verify(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({
      paymentId: p.id,
      status: 'completed',
      escrowState: 'funded',
      outcome: 'confirmed',
      confirmations: 3,
      transactionHash: hash.toLowerCase(),
    });
    await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
    expect((await paymentOf(env.h, p.id)).history.at(-1)).toMatchObject({ source: 'decentralized_verify', actor: 'chain' });

    // Verifying again changes nothing and announces nothing.
    const again = await env.verify(p.id);
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ status: 'completed', outcome: 'confirmed' });
    await expectCompletedOnce(env.h, m, p.id);
  });

  it('too few confirmations: processing with the chain’s count; completes once the blocks arrive', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'));
    await attachClaim(env.h, p.id, hash);
    const r = await env.verify(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'processing', outcome: 'pending', confirmations: 1, required: 3 });
    await expectNotCompleted(env.h, m, p.id);

    await env.chain.mine(1);
    expect((await env.verify(p.id)).body.data).toMatchObject({ status: 'processing', outcome: 'pending', confirmations: 2 });
    expect((await paymentOf(env.h, p.id)).providerData.confirmations).toBe(2);
    await expectNotCompleted(env.h, m, p.id);

    await env.chain.mine(1);
    expect((await env.verify(p.id)).body.data).toMatchObject({ status: 'completed', outcome: 'confirmed', confirmations: 3 });
    await expectCompletedOnce(env.h, m, p.id);
  });

  // Issue 10: a refuted claim is dropped and the payment stays as it was (no longer failed); the route answers 409.
  const mismatches: [string, () => Promise<string>, string][] = [
    ['reverted', () => env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('99999999'), { gasLimit: 100_000n }), 'reverted'],
    ['wrong token', () => env.chain.transfer(env.other.address, env.buyerWallet, env.receiver.address, units('25.5')), 'wrong_token'],
    ['wrong receiver', () => env.chain.transfer(env.usdt.address, env.buyerWallet, newAddress(), units('25.5')), 'wrong_address'],
  ];
  for (const [name, send, reason] of mismatches) {
    it(`${name}: 409 transfer_mismatch (${reason}), the claim is dropped, the payment and its offer stay as they were`, async () => {
      const m = await market(env.h);
      const p = await seedProven(env.h, m, env.buyerWallet);
      const hash = await send();
      await env.chain.mine(3);
      if (name === 'reverted') expect((await env.chain.provider.getTransactionReceipt(hash))?.status).toBe(0);
      await attachClaim(env.h, p.id, hash);
      const r = await env.verify(p.id);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason } });
      const after = await paymentOf(env.h, p.id);
      // Was: failed, offer released. Now the refuted claim is dropped and nothing else changes.
      expect(after).toMatchObject({ status: 'pending', escrowState: 'unfunded', claim: null, transactionHash: null, creditKeys: [] });
      expect(after.liveOfferKey).toBe(m.offerId);
      expect(after.history).toHaveLength(1);
      await expectNotCompleted(env.h, m, p.id);
      // Nothing is left to verify.
      expect((await env.verify(p.id)).body.data).toMatchObject({ status: 'pending', outcome: 'no_hash' });
    });
  }

  it('underpaid: credited for what arrived, processing with the shortfall, nothing of completion happens', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.499999'), 3);
    await attachClaim(env.h, p.id, hash);
    const r = await env.verify(p.id);
    // Was: failed (amount_too_low). An underpayment now funds nothing but is recorded, and the payment waits for the rest.
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'processing', escrowState: 'unfunded', outcome: 'pending', reason: 'underpaid' });
    const after = await paymentOf(env.h, p.id);
    expect(after.escrow).toMatchObject({ received: '25.499999', shortfall: '0.000001' });
    expect(after.liveOfferKey).toBe(m.offerId);
    await expectNotCompleted(env.h, m, p.id);
  });

  it('an unknown hash leaves the payment as it is', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, bogusHash());
    const before = await snapshot(env.h.store);
    const r = await env.verify(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'pending', outcome: 'not_found' });
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('a payment with no claimed hash: no_hash, unchanged', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const before = await snapshot(env.h.store);
    const r = await env.verify(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'pending', outcome: 'no_hash' });
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  const unminedMisses: [string, () => Promise<string>][] = [
    ['pays someone else', () => env.chain.transfer(env.usdt.address, env.buyerWallet, newAddress(), units('25.5'), { gasLimit: 100_000n })],
    ['pays too little', () => env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25'), { gasLimit: 100_000n })],
    ['moves another token', () => env.chain.transfer(env.other.address, env.buyerWallet, env.receiver.address, units('25.5'), { gasLimit: 100_000n })],
  ];
  for (const [name, send] of unminedMisses) {
    it(`a transaction not yet mined that ${name} does not move the payment`, async () => {
      const m = await market(env.h);
      const p = await seedProven(env.h, m, env.buyerWallet);
      await env.chain.setAutomine(false);
      try {
        const hash = await send();
        await attachClaim(env.h, p.id, hash);
        const r = await env.verify(p.id);
        expect(r.status, r.text).toBe(200);
        // Was: not_found with the store untouched. An unmined transaction is now `pending` / `not_mined` (its sender and nonce are kept on the claim).
        expect(r.body.data).toMatchObject({ status: 'pending', outcome: 'pending', reason: 'not_mined', confirmations: 0 });
        expect(await paymentOf(env.h, p.id)).toMatchObject({ status: 'pending', escrowState: 'unfunded', transactionHash: null, creditKeys: [] });
        await expectNotCompleted(env.h, m, p.id);
      } finally {
        await env.chain.setAutomine(true);
        await env.chain.mine(1);
      }
    });
  }

  it('a transaction not yet mined that pays the receiver: still pending (not_mined), completed once mined deep enough', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const id = p.id;
    await env.chain.setAutomine(false);
    let hash: string;
    try {
      hash = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), { gasLimit: 100_000n });
      await attachClaim(env.h, id, hash);
      const r = await env.verify(id);
      // Was: processing at 0 confirmations. An unmined transaction moves nothing now.
      expect(r.body.data).toMatchObject({ status: 'pending', outcome: 'pending', reason: 'not_mined', confirmations: 0 });
      await expectNotCompleted(env.h, m, id);
    } finally {
      await env.chain.setAutomine(true);
      await env.chain.mine(3);
    }
    expect((await env.verify(id)).body.data).toMatchObject({ status: 'completed', confirmations: 3 });
    await expectCompletedOnce(env.h, m, id, { txHash: hash });
  });

  it('404 for an unknown payment and for a payment of another provider; 400 for a malformed id', async () => {
    const shk = await env.h.store.payments.insertOne(fixturePayment({ provider: 'shkeeper', transactionHash: bogusHash() }));
    for (const id of ['aaaaaaaaaaaaaaaaaaaaaaaa', shk.id]) {
      const r = await env.verify(id);
      expect(r.status, r.text).toBe(404);
      expect(r.body.error.code).toBe('payment_not_found');
    }
    expect((await paymentOf(env.h, shk.id)).status).toBe('pending');
    expect((await env.verify('xyz')).status).toBe(400);
  });
});

describe('PUT /decentralized/update — a status is applied only when the chain agrees', () => {
  it('completed without a confirmed transfer: 409 chain_disagrees with the chain’s view; the client’s confirmations are ignored', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'));
    await attachClaim(env.h, p.id, hash);
    const r = await update({ paymentId: p.id, status: 'completed', confirmations: 500 });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'chain_disagrees', details: { chain: 'pending', status: 'processing', confirmations: 1, required: 3 } });
    expect((await paymentOf(env.h, p.id)).providerData.confirmations).toBe(1);
    await expectNotCompleted(env.h, m, p.id);

    // processing is what the chain says: applied, still with the chain’s count.
    const ok = await update({ paymentId: p.id, status: 'processing', confirmations: 99 });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.data).toMatchObject({ paymentId: p.id, status: 'processing', confirmations: 1 });

    await env.chain.mine(2);
    const done = await update({ paymentId: p.id, status: 'completed' });
    expect(done.status, done.text).toBe(200);
    expect(done.body.data).toMatchObject({ status: 'completed', escrowState: 'funded', confirmations: 3 });
    await expectCompletedOnce(env.h, m, p.id);
    expect((await paymentOf(env.h, p.id)).history.at(-1)).toMatchObject({ source: 'decentralized_update', actor: 'chain' });
  });

  it('pending is accepted only while the chain has nothing; failed only when the payment failed', async () => {
    const m = await market(env.h);
    const unknown = await seedClaim(env.h, m, bogusHash());
    expect((await update({ paymentId: unknown.id, status: 'pending' })).status).toBe(200);
    for (const status of ['failed', 'processing', 'completed']) {
      const r = await update({ paymentId: unknown.id, status });
      expect(r.status, r.text).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'chain_disagrees', details: { chain: 'not_found', status: 'pending' } });
    }
    expect((await paymentOf(env.h, unknown.id)).history).toHaveLength(1);

    const m2 = await market(env.h);
    const bad = await seedProven(env.h, m2, env.buyerWallet);
    const wrong = await pay(env.chain, env.usdt.address, env.buyerWallet, newAddress(), units('25.5'), 3);
    await attachClaim(env.h, bad.id, wrong);
    const r = await update({ paymentId: bad.id, status: 'failed' });
    // Was: 200 and failed. The chain's mismatch now only drops the refuted claim; the payment stays
    // pending, so "failed" is not what the chain supports.
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'chain_disagrees', details: { chain: 'mismatch', status: 'pending' } });
    expect((await paymentOf(env.h, bad.id)).claim).toBeNull();
    await expectNotCompleted(env.h, m2, bad.id);
  });

  it('asking for pending on a confirmed payment: the chain completes it, the answer is 409 with the chain’s view', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    await attachClaim(env.h, p.id, hash);
    const r = await update({ paymentId: p.id, status: 'pending' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'chain_disagrees', details: { chain: 'confirmed', status: 'completed' } });
    await expectCompletedOnce(env.h, m, p.id);
  });

  it('cancelled needs a party or an admin token', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const before = await snapshot(env.h.store);
    const anon = await update({ paymentId: p.id, status: 'cancelled' });
    expect(anon.status, anon.text).toBe(401);
    const badToken = await update({ paymentId: p.id, status: 'cancelled' }, 'Bearer not-a-jwt');
    expect(badToken.status).toBe(401);
    const stranger = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('stranger'));
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe('payment_not_found');
    expect(await snapshot(env.h.store)).toEqual(before);

    const r = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('buyer-1'));
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.status).toBe('cancelled');
    const after = await paymentOf(env.h, p.id);
    expect(after.liveOfferKey).toBeNull();
    expect(after.history.at(-1)).toMatchObject({ toStatus: 'cancelled', actor: 'buyer-1', source: 'decentralized_update' });
  });

  it('a party may cancel only a pending payment; an admin may cancel a processing one; the seller may not cancel', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'));
    await attachClaim(env.h, p.id, hash);
    expect((await env.verify(p.id)).body.data.status).toBe('processing');
    const party = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('buyer-1'));
    expect(party.status, party.text).toBe(409);
    expect(party.body.error.code).toBe('payment_not_pending');
    // The seller is a party (it sees the payment) but only the buyer cancels now (lead's rule with issue 10; was 409 payment_not_pending).
    const seller = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('seller-1'));
    expect(seller.status, seller.text).toBe(403);
    expect(seller.body.error.code).toBe('not_buyer');
    const admin = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('ops', { admin: true }));
    expect(admin.status, admin.text).toBe(200);
    expect(admin.body.data.status).toBe('cancelled');

    // Cancelled is final: the chain confirming later changes nothing.
    await env.chain.mine(3);
    expect((await env.verify(p.id)).body.data).toMatchObject({ status: 'cancelled', outcome: 'closed' });
    await expectNotCompleted(env.h, m, p.id);
  });

  it('an admin cannot cancel a completed payment', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    await attachClaim(env.h, p.id, hash);
    await env.verify(p.id);
    const r = await update({ paymentId: p.id, status: 'cancelled' }, env.h.bearer('ops', { admin: true }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('invalid_transition');
    await expectCompletedOnce(env.h, m, p.id);
  });

  it('400 for an unknown status, a malformed id, extra fields; 404 for an unknown payment', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    for (const body of [
      { paymentId: p.id, status: 'released' },
      { paymentId: p.id, status: 'refunded' },
      { paymentId: 'nope', status: 'pending' },
      { paymentId: p.id },
      { paymentId: p.id, status: 'pending', confirmations: -1 },
      { paymentId: p.id, status: 'pending', transactionHash: bogusHash() },
    ]) {
      const r = await update(body);
      expect(r.status, `${JSON.stringify(body)} → ${r.text}`).toBe(400);
    }
    const r = await update({ paymentId: 'aaaaaaaaaaaaaaaaaaaaaaaa', status: 'completed' });
    expect(r.status).toBe(404);
    expect((await paymentOf(env.h, p.id)).history).toHaveLength(1);
  });
});
