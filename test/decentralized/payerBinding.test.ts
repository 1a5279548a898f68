import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { excessAmount, ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
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
  startWeb3Suite,
  stopWeb3Suite,
  units,
  type Market,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * Invariants 1 and 2 on the Web3 paths: a transfer to the shared escrow receiver belongs to a
 * payment only when its sender proved the wallet for that payment before the transfer was mined.
 * Whatever an outsider claims, and whatever the chain refutes, funds nothing and reserves nothing:
 * afterwards the real payer still settles its own payment with the same transfer.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let other: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let h: Web3Harness;

beforeAll(async () => void ({ chain, h, usdt, other, buyerWallet, receiver } = await startWeb3Suite()));
afterAll(() => stopWeb3Suite({ h, chain }));
afterEach(async () => {
  for (const p of await h.store.payments.find({})) expect(ledgerProblems(p), p.id).toEqual([]);
});

const save = (body: unknown) => h.anonymous.post('/decentralized/save', body);
const verify = (id: string, body?: unknown) => h.anonymous.post(`/decentralized/verify/${id}`, body);
const PRICE = units('25.5');

/** The real payer's own settlement with `hash`, after whatever came before. */
async function payerSettles(m: Market, id: string, hash: string) {
  const r = await save(saveBody(m, { transactionHash: hash }));
  expect(r.status, r.text).toBe(200);
  expect(r.body.data.id).toBe(id);
  await expectCompletedOnce(h, m, id, { txHash: hash });
  const p = await paymentOf(h, id);
  expect(p.escrow?.received).toBe('25.5');
  expect(p.escrow?.payer).toBe(buyerWallet.address);
  expect(p.escrow?.credits.map((c) => c.txHash)).toEqual([hash.toLowerCase()]);
}

describe('a transfer is bound to the wallet that proved it', () => {
  it("an outsider's anonymous save of V's hash for another request funds nothing; V still settles", async () => {
    const mine = await market(h);
    const theirs = await market(h, 'mallory');
    const id = await provenPayment(h, mine, buyerWallet);
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3);

    const attack = await save({ ...saveBody(theirs, { transactionHash: hash }), buyerId: 'mallory' });
    expect(attack.status, attack.text).toBe(409);
    expect(attack.body.error.code).toBe('wallet_not_proven');
    await expectNotCompleted(h, theirs);
    // The attacker proving a wallet of its own does not help: the transfer is not from it.
    const mallory = Wallet.createRandom();
    const again = await save({ ...saveBody(theirs, { transactionHash: hash, payerProof: await payerProof(h, theirs, mallory) }), buyerId: 'mallory' });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'wrong_sender' } });
    expect(await h.store.payments.findOne({ transactionHash: hash.toLowerCase() })).toBeNull();

    await payerSettles(mine, id, hash);
  });

  it('a transfer mined before the proof funds nothing (a later proof cannot adopt an earlier transfer)', async () => {
    const m = await market(h);
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3);
    const r = await save(saveBody(m, { transactionHash: hash, payerProof: await payerProof(h, m, buyerWallet) }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'mined_before_proof' } });
    await expectNotCompleted(h, m);
    // A new transfer after the proof settles it.
    const id = r.body.error ? (await h.store.payments.findOne({ purchaseRequestId: m.requestId }))!.id : '';
    const fresh = await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3);
    await payerSettles(m, id, fresh);
  });

  it('another token, another receiver or a reverted transfer funds nothing and keeps no claim', async () => {
    const m = await market(h);
    const id = await provenPayment(h, m, buyerWallet);
    const cases = [
      { hash: await pay(chain, other.address, buyerWallet, receiver.address, PRICE, 3), reason: 'wrong_token' },
      { hash: await pay(chain, usdt.address, buyerWallet, newAddress(), PRICE, 3), reason: 'wrong_address' },
      { hash: await chain.transfer(usdt.address, buyerWallet, receiver.address, units('99999999999'), { gasLimit: 100_000n }), reason: 'reverted' },
    ];
    await chain.mine(3);
    for (const c of cases) {
      const r = await verify(id, { transactionHash: c.hash });
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('transfer_mismatch');
      expect(r.body.error.details.reason).toBe(c.reason);
      const p = await paymentOf(h, id);
      expect(p.claim).toBeNull();
      expect(p.status).toBe('pending');
      expect(p.creditKeys).toEqual([]);
    }
    await payerSettles(m, id, await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3));
  });

  it('an unknown hash is kept as a claim that reserves nothing; another payment may claim it too', async () => {
    const a = await market(h);
    const b = await market(h);
    const idA = await provenPayment(h, a, buyerWallet);
    const ghost = bogusHash();
    expect((await save(saveBody(a, { transactionHash: ghost }))).body.verification.outcome).toBe('not_found');
    const rb = await save(saveBody(b, { transactionHash: ghost }));
    expect(rb.status, rb.text).toBe(200);
    expect((await paymentOf(h, idA)).claim?.txHash).toBe(ghost);
    expect((await paymentOf(h, rb.body.data.id)).claim?.txHash).toBe(ghost);
  });

  it('a transfer credited to one payment cannot fund a second payment of the same wallet', async () => {
    const a = await market(h);
    const b = await market(h);
    const idA = await provenPayment(h, a, buyerWallet);
    const idB = await provenPayment(h, b, buyerWallet);
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3);
    await payerSettles(a, idA, hash);
    const r = await verify(idB, { transactionHash: hash });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('transaction_hash_in_use');
    await expectNotCompleted(h, b, idB);
  });

  it('an underpayment is credited for what arrived and leaves the payment processing with the shortfall', async () => {
    const m = await market(h);
    const id = await provenPayment(h, m, buyerWallet);
    const short = await pay(chain, usdt.address, buyerWallet, receiver.address, units('20'), 3);
    const r = await save(saveBody(m, { transactionHash: short }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', reason: 'underpaid' });
    let p = await paymentOf(h, id);
    expect(p).toMatchObject({ status: 'processing', escrowState: 'unfunded' });
    expect(p.escrow).toMatchObject({ received: '20', shortfall: '5.5' });
    // The rest arrives: funded for everything that arrived.
    const rest = await pay(chain, usdt.address, buyerWallet, receiver.address, units('6'), 3);
    const done = await verify(id, { transactionHash: rest });
    expect(done.status, done.text).toBe(200);
    p = await paymentOf(h, id);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(p.escrow).toMatchObject({ received: '26', shortfall: null });
    expect(excessAmount(p)).toBe('0.5');
  });
});

describe('an admin completes a payment only with evidence', () => {
  it('PUT completed without a hash is refused; with a proven transfer it settles through the same path', async () => {
    const m = await market(h);
    const id = (await save(saveBody(m))).body.data.id as string;
    const admin = h.bearer('admin-1', { admin: true });
    const bare = await h.as({ authorization: admin }).put(`/${id}`, { status: 'completed' });
    expect(bare.status, bare.text).toBe(409);
    expect(bare.body.error.code).toBe('evidence_required');
    const wrong = await h
      .as({ authorization: admin })
      .put(`/${id}`, { status: 'completed', transactionHash: await pay(chain, other.address, buyerWallet, receiver.address, PRICE, 3) });
    expect(wrong.status, wrong.text).toBe(409);
    expect(wrong.body.error.code).toBe('transfer_mismatch');
    await expectNotCompleted(h, m, id);

    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, PRICE, 3);
    const ok = await h.as({ authorization: admin }).put(`/${id}`, { status: 'completed', transactionHash: hash });
    expect(ok.status, ok.text).toBe(200);
    const p = await paymentOf(h, id);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: hash.toLowerCase() });
    // The side effects of completion ran: the offer is accepted and its sibling rejected.
    expect((await h.store.sellerOffers.findById(m.offerId))?.status).toBe('accepted');
    expect((await h.store.sellerOffers.findById(m.otherOfferId))?.status).toBe('rejected');
    expect(p.history.find((e) => e.toStatus === 'completed')).toMatchObject({ source: 'admin_completion', actor: 'admin-1' });

    const released = await h.as({ authorization: admin }).put(`/${id}`, { status: 'released' });
    expect(released.status).toBe(400); // not a status PUT accepts at all
  });
});
