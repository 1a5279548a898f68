import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { excessAmount } from '../../src/core/payments/escrowLedger.js';
import {
  paymentOf,
  bogusHash,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  payerProof,
  provenPayment,
  saveBody,
  units,
  type Market,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * Invariants 1 and 2 on the Web3 paths: a transfer to the shared escrow receiver belongs to a
 * payment only when its sender proved the wallet for that payment before the transfer was mined.
 * Whatever an outsider claims, and whatever the chain refutes, funds nothing and reserves nothing:
 * afterwards the real payer still settles its own payment with the same transfer.
 */

const env = useWeb3Suite({ ledgerCheck: true });

const PRICE = units('25.5');

/** The real payer's own settlement with `hash`, after whatever came before. */
async function payerSettles(m: Market, id: string, hash: string) {
  const r = await env.save(saveBody(m, { transactionHash: hash }));
  expect(r.status, r.text).toBe(200);
  expect(r.body.data.id).toBe(id);
  await expectCompletedOnce(env.h, m, id, { txHash: hash });
  const p = await paymentOf(env.h, id);
  expect(p.escrow?.received).toBe('25.5');
  expect(p.escrow?.payer).toBe(env.buyerWallet.address);
  expect(p.escrow?.credits.map((c) => c.txHash)).toEqual([hash.toLowerCase()]);
}

describe('a transfer is bound to the wallet that proved it', () => {
  it("an outsider's anonymous save of V's hash for another request funds nothing; V still settles", async () => {
    const mine = await market(env.h);
    const theirs = await market(env.h, 'mallory');
    const id = await provenPayment(env.h, mine, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3);

    const attack = await env.save({ ...saveBody(theirs, { transactionHash: hash }), buyerId: 'mallory' });
    expect(attack.status, attack.text).toBe(409);
    expect(attack.body.error.code).toBe('wallet_not_proven');
    await expectNotCompleted(env.h, theirs);
    // The attacker proving a wallet of its own does not help: the transfer is not from it.
    const mallory = Wallet.createRandom();
    const again = await env.save({ ...saveBody(theirs, { transactionHash: hash, payerProof: await payerProof(env.h, theirs, mallory) }), buyerId: 'mallory' });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'wrong_sender' } });
    expect(await env.h.store.payments.findOne({ transactionHash: hash.toLowerCase() })).toBeNull();

    await payerSettles(mine, id, hash);
  });

  it('a transfer mined before the proof funds nothing (a later proof cannot adopt an earlier transfer)', async () => {
    const m = await market(env.h);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3);
    const r = await env.save(saveBody(m, { transactionHash: hash, payerProof: await payerProof(env.h, m, env.buyerWallet) }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'mined_before_proof' } });
    await expectNotCompleted(env.h, m);
    // A new transfer after the proof settles it.
    const id = r.body.error ? (await env.h.store.payments.findOne({ purchaseRequestId: m.requestId }))!.id : '';
    const fresh = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3);
    await payerSettles(m, id, fresh);
  });

  it('another token, another receiver or a reverted transfer funds nothing and keeps no claim', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const cases = [
      { hash: await pay(env.chain, env.other.address, env.buyerWallet, env.receiver.address, PRICE, 3), reason: 'wrong_token' },
      { hash: await pay(env.chain, env.usdt.address, env.buyerWallet, newAddress(), PRICE, 3), reason: 'wrong_address' },
      {
        hash: await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('99999999999'), { gasLimit: 100_000n }),
        reason: 'reverted',
      },
    ];
    await env.chain.mine(3);
    for (const c of cases) {
      const r = await env.verify(id, { transactionHash: c.hash });
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('transfer_mismatch');
      expect(r.body.error.details.reason).toBe(c.reason);
      const p = await paymentOf(env.h, id);
      expect(p.claim).toBeNull();
      expect(p.status).toBe('pending');
      expect(p.creditKeys).toEqual([]);
    }
    await payerSettles(m, id, await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3));
  });

  it('an unknown hash is kept as a claim that reserves nothing; another payment may claim it too', async () => {
    const a = await market(env.h);
    const b = await market(env.h);
    const idA = await provenPayment(env.h, a, env.buyerWallet);
    const ghost = bogusHash();
    expect((await env.save(saveBody(a, { transactionHash: ghost }))).body.verification.outcome).toBe('not_found');
    const rb = await env.save(saveBody(b, { transactionHash: ghost }));
    expect(rb.status, rb.text).toBe(200);
    expect((await paymentOf(env.h, idA)).claim?.txHash).toBe(ghost);
    expect((await paymentOf(env.h, rb.body.data.id)).claim?.txHash).toBe(ghost);
  });

  it('a transfer credited to one payment cannot fund a second payment of the same wallet', async () => {
    const a = await market(env.h);
    const b = await market(env.h);
    const idA = await provenPayment(env.h, a, env.buyerWallet);
    const idB = await provenPayment(env.h, b, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3);
    await payerSettles(a, idA, hash);
    const r = await env.verify(idB, { transactionHash: hash });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('transaction_hash_in_use');
    await expectNotCompleted(env.h, b, idB);
  });

  it('an underpayment is credited for what arrived and leaves the payment processing with the shortfall', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const short = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('20'), 3);
    const r = await env.save(saveBody(m, { transactionHash: short }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', reason: 'underpaid' });
    let p = await paymentOf(env.h, id);
    expect(p).toMatchObject({ status: 'processing', escrowState: 'unfunded' });
    expect(p.escrow).toMatchObject({ received: '20', shortfall: '5.5' });
    // The rest arrives: funded for everything that arrived.
    const rest = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('6'), 3);
    const done = await env.verify(id, { transactionHash: rest });
    expect(done.status, done.text).toBe(200);
    p = await paymentOf(env.h, id);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(p.escrow).toMatchObject({ received: '26', shortfall: null });
    expect(excessAmount(p)).toBe('0.5');
  });
});

describe('an admin completes a payment only with evidence', () => {
  it('PUT completed without a hash is refused; with a proven transfer it settles through the same path', async () => {
    const m = await market(env.h);
    const id = (await env.save(saveBody(m))).body.data.id as string;
    const admin = env.h.bearer('admin-1', { admin: true });
    const bare = await env.h.as({ authorization: admin }).put(`/${id}`, { status: 'completed' });
    expect(bare.status, bare.text).toBe(409);
    expect(bare.body.error.code).toBe('evidence_required');
    const wrong = await env.h
      .as({ authorization: admin })
      .put(`/${id}`, { status: 'completed', transactionHash: await pay(env.chain, env.other.address, env.buyerWallet, env.receiver.address, PRICE, 3) });
    expect(wrong.status, wrong.text).toBe(409);
    expect(wrong.body.error.code).toBe('transfer_mismatch');
    await expectNotCompleted(env.h, m, id);

    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, PRICE, 3);
    const ok = await env.h.as({ authorization: admin }).put(`/${id}`, { status: 'completed', transactionHash: hash });
    expect(ok.status, ok.text).toBe(200);
    const p = await paymentOf(env.h, id);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: hash.toLowerCase() });
    // The side effects of completion ran: the offer is accepted and its sibling rejected.
    expect((await env.h.store.sellerOffers.findById(m.offerId))?.status).toBe('accepted');
    expect((await env.h.store.sellerOffers.findById(m.otherOfferId))?.status).toBe('rejected');
    expect(p.history.find((e) => e.toStatus === 'completed')).toMatchObject({ source: 'admin_completion', actor: 'admin-1' });

    const released = await env.h.as({ authorization: admin }).put(`/${id}`, { status: 'released' });
    expect(released.status).toBe(400); // not a status PUT accepts at all
  });
});
