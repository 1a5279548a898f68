import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import {
  paymentOf,
  BUYER,
  expectNotCompleted,
  market,
  pay,
  payerProof,
  provenPayment,
  saveBody,
  units,
  type Market,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * Attacks on the Web3 (shared escrow receiver) paths by a buyer, a seller and an anonymous
 * outsider. Every test asserts the money invariant: it passes when the service holds it.
 */

const env = useWeb3Suite({ ledgerCheck: true });

const admin = () => env.h.bearer('admin-1', { admin: true });

/** A fresh funded attacker wallet (ETH from hardhat, tokens minted). */
async function attackerWallet(tokens = '1000'): Promise<Wallet> {
  const w = Wallet.createRandom().connect(env.chain.provider);
  const funder = env.chain.accounts[9]!;
  const tx = await funder.sendTransaction({ to: w.address, value: 10n ** 18n });
  await tx.wait();
  await env.usdt.mint(w.address, units(tokens));
  return new Wallet(w.privateKey, env.chain.provider);
}

async function proveOn(m: Market, paymentId: string, w: Wallet) {
  return env.h.anonymous.post('/decentralized/payer-proof', { paymentId, payerProof: await payerProof(env.h, m, w) });
}

describe('outsider: refund hijack by topping up', () => {
  it("an outsider cannot join the buyer's payment, so a top-up neither funds it nor makes them the refund recipient", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    // The buyer pays 25 of 25.5: processing, short by 0.5.
    const first = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25'), 3);
    const r1 = await env.save(saveBody(m, { transactionHash: first }));
    expect(r1.status, r1.text).toBe(200);
    expect((await paymentOf(env.h, id)).status).toBe('processing');

    // Mallory (anonymous) tries to prove her own wallet on the buyer's payment: one payer wallet per payment.
    const mallory = await attackerWallet();
    const proved = await proveOn(m, id, mallory);
    expect(proved.status, proved.text).toBe(409);
    expect(proved.body.error.code).toBe('payer_already_proven');
    const topUp = await pay(env.chain, env.usdt.address, mallory, env.receiver.address, units('0.5'), 3);
    const v = await env.verify(id, { transactionHash: topUp });
    expect(v.status, v.text).toBe(409);
    expect(v.body.error.details.reason).toBe('wrong_sender');
    expect((await paymentOf(env.h, id)).status).toBe('processing');

    // The buyer pays the rest itself; the refund goes to the buyer, for what the buyer put in.
    const rest = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('0.5'), 3);
    expect((await env.verify(id, { transactionHash: rest })).status).toBe(200);
    const refund = await env.h.as({ authorization: admin() }).post(`/shkeeper/${id}/refund`, {});
    expect(refund.status, refund.text).toBe(200);
    expect(refund.body.data.summary.amount).toBe('25.5');
    expect(refund.body.data.summary.recipient.toLowerCase(), 'the whole refund goes to').toBe(env.buyerWallet.address.toLowerCase());
  });

  it("an outsider who proves wallets on the buyer's open payment cannot lock the buyer out: the buyer's proof gets a payment of its own", async () => {
    const m = await market(env.h);
    // The outsider opens the buyer's payment anonymously and proves a throwaway wallet, then more.
    const opened = await env.save(saveBody(m));
    expect(opened.status, opened.text).toBe(200);
    const id = opened.body.data.id as string;
    expect((await proveOn(m, id, Wallet.createRandom() as unknown as Wallet)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await proveOn(m, id, Wallet.createRandom() as unknown as Wallet)).status).toBe(409);
    // The real buyer runs the normal front-end flow: save with its payer proof, pay, save the hash.
    const mine = await env.save(saveBody(m, { payerProof: await payerProof(env.h, m, env.buyerWallet) }));
    expect(mine.status, `the buyer must still be able to prove its wallet: ${mine.text}`).toBe(200);
    expect(mine.body.data.id).not.toBe(id);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const done = await env.save(saveBody(m, { transactionHash: hash }));
    expect(done.status, done.text).toBe(200);
    expect(done.body.data.id).toBe(mine.body.data.id);
    expect((await paymentOf(env.h, mine.body.data.id)).status).toBe('completed');
  });

  it("anonymous save does not hand an outsider the parties' data; the reference it shows grants nothing", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    await env.h.store.payments.updateOne({ id }, { $set: { 'metadata.note': 'private' } });
    const r = await env.save(saveBody(m));
    expect(r.status, r.text).toBe(200);
    for (const secret of ['private', env.buyerWallet.address, env.buyerWallet.address.toLowerCase()]) {
      expect(r.text.includes(secret), `${secret} leaked to an anonymous save`).toBe(false);
    }
    expect(r.body.data).not.toHaveProperty('metadata');
    expect(r.body.data).not.toHaveProperty('buyerId');
    // The old SDK's reference is shown, but a callback with it proves nothing about someone else's transfer.
    const mallory = await attackerWallet();
    const theirs = await pay(env.chain, env.usdt.address, mallory, env.receiver.address, units('25.5'), 3);
    const cb = await env.h.anonymous.post('/callback', { paymentId: r.body.data.id, transactionHash: theirs, data: { reference: r.body.data.externalId } });
    expect(cb.status).toBeLessThan(500);
    await expectNotCompleted(env.h, m);
  });
});

describe("claiming someone else's transfer", () => {
  it("the buyer's transfer cannot be claimed by another request's payment through any hash route", async () => {
    const mine = await market(env.h);
    const theirs = await market(env.h, 'mallory');
    const id = await provenPayment(env.h, mine, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    // Mallory's payment for her own request, with her own wallet proven.
    const mallory = await attackerWallet();
    const hers = await env.save({ ...saveBody(theirs, { payerProof: await payerProof(env.h, theirs, mallory) }), buyerId: 'mallory' });
    expect(hers.status, hers.text).toBe(200);
    const herId = hers.body.data.id as string;

    const tries = await Promise.all([
      env.save({ ...saveBody(theirs, { transactionHash: hash }), buyerId: 'mallory' }),
      env.verify(herId, { transactionHash: hash }),
      env.h.anonymous.put('/decentralized/update', { paymentId: herId, status: 'completed' }),
      env.h.as('mallory').post('/verify', { paymentId: herId, transactionHash: hash }),
      env.h.as('mallory').put(`/${herId}`, { transactionHash: hash }),
      env.h.anonymous.post('/callback', { paymentId: herId, transactionHash: hash, status: 'success', data: { reference: hers.body.data.externalId } }),
    ]);
    for (const t of tries) expect(t.status, t.text).not.toBe(500);
    await expectNotCompleted(env.h, theirs, herId);
    expect((await paymentOf(env.h, herId)).escrow?.credits ?? []).toEqual([]);

    // The buyer still settles with the same transfer.
    const r = await env.save(saveBody(mine, { transactionHash: hash }));
    expect(r.status, r.text).toBe(200);
    const p = await paymentOf(env.h, id);
    expect(p.status).toBe('completed');
    expect(p.escrow?.received).toBe('25.5');
  });

  it('one transfer proven for two payments of the same buyer funds at most one (concurrent paths)', async () => {
    const a = await market(env.h);
    const b = await market(env.h);
    const idA = await provenPayment(env.h, a, env.buyerWallet);
    const idB = await provenPayment(env.h, b, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const buyer = env.h.bearer(BUYER);
    await Promise.all([
      env.save(saveBody(a, { transactionHash: hash })),
      env.save(saveBody(b, { transactionHash: hash })),
      env.verify(idA, { transactionHash: hash }),
      env.verify(idB, { transactionHash: hash }),
      env.h.as({ authorization: buyer }).post('/verify', { paymentId: idA, transactionHash: hash }),
      env.h.as({ authorization: buyer }).post('/verify', { paymentId: idB, transactionHash: hash }),
      env.h.as({ authorization: buyer }).put(`/${idB}`, { transactionHash: hash }),
      env.h.anonymous.post('/decentralized/verify-all-pending'),
    ]);
    await env.h.anonymous.post('/decentralized/verify-all-pending');
    const credited = (await env.h.store.payments.find({})).filter((p) => (p.escrow?.credits ?? []).some((c) => c.txHash === hash.toLowerCase()));
    expect(credited).toHaveLength(1);
    const pa = await paymentOf(env.h, idA);
    const pb = await paymentOf(env.h, idB);
    expect([pa.status, pb.status].filter((s) => s === 'completed')).toHaveLength(1);
  });

  it('another token, or a contract emitting a fake Transfer event, funds nothing', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const wrong = await pay(env.chain, env.other.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const fake = await env.chain.deployContract('FakeTransferEmitter');
    const tx = await fake.contract.connect(env.buyerWallet).getFunction('transfer')(env.receiver.address, units('25.5'));
    await env.chain.mine(3);
    for (const hash of [wrong, tx.hash as string]) {
      const r = await env.save(saveBody(m, { transactionHash: hash }));
      expect(r.status, r.text).toBe(409);
      const v = await env.verify(id, { transactionHash: hash });
      expect(v.status, v.text).toBe(409);
    }
    await expectNotCompleted(env.h, m, id);
  });

  it('a payment never completes with less than the price, even in several parts from unproven senders', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const mallory = await attackerWallet();
    const short = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.499999999999999999'), 3);
    const fromMallory = await pay(env.chain, env.usdt.address, mallory, env.receiver.address, units('1'), 3);
    await env.save(saveBody(m, { transactionHash: short }));
    await env.verify(id, { transactionHash: fromMallory });
    const p = await paymentOf(env.h, id);
    expect(p.status).not.toBe('completed');
    expect(p.escrowState).toBe('unfunded');
  });
});

describe('payer proof replay and tampering', () => {
  it("a proof signed for one request's offer does not prove the wallet for another request", async () => {
    const a = await market(env.h);
    const b = await market(env.h);
    const proofA = await payerProof(env.h, a, env.buyerWallet);
    const opened = await env.save(saveBody(b));
    const r = await env.h.anonymous.post('/decentralized/payer-proof', { paymentId: opened.body.data.id, payerProof: proofA });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.details.reason).toBe('wrong_payment');
  });

  it("a proof for another seller's offer of the same request does not prove the wallet", async () => {
    const m = await market(env.h);
    const proofOther = await payerProof(env.h, { requestId: m.requestId, offerId: m.otherOfferId }, env.buyerWallet);
    const opened = await env.save(saveBody(m));
    const r = await env.h.anonymous.post('/decentralized/payer-proof', { paymentId: opened.body.data.id, payerProof: proofOther });
    expect(r.status, r.text).toBe(409);
  });

  it('altered fields (wallet, issuedAtBlock, expiresAt, amount) or another signer are refused', async () => {
    const m = await market(env.h);
    const opened = await env.save(saveBody(m));
    const id = opened.body.data.id as string;
    const mallory = Wallet.createRandom();
    const good = await payerProof(env.h, m, env.buyerWallet);
    const variants = [
      // Mallory re-signs the buyer's challenge: the message names the buyer's wallet.
      {
        message: good.message,
        signature: await mallory.signTypedData((await challengeOf(m, env.buyerWallet)).domain, (await challengeOf(m, env.buyerWallet)).types, good.message),
      },
      { message: { ...good.message, wallet: mallory.address }, signature: good.signature },
      { message: { ...good.message, issuedAtBlock: 0 }, signature: good.signature },
      { message: { ...good.message, expiresAt: good.message.expiresAt + 100000 }, signature: good.signature },
      { message: { ...good.message, amount: '0.01' }, signature: good.signature },
    ];
    // Re-signing an altered message with the right key is still refused (the nonce authenticates the fields).
    const c = await challengeOf(m, env.buyerWallet);
    const altered = { ...c.message, issuedAtBlock: 0 };
    variants.push({ message: altered, signature: await env.buyerWallet.signTypedData(c.domain, c.types, altered) });
    for (const payerProofBody of variants) {
      const r = await env.h.anonymous.post('/decentralized/payer-proof', { paymentId: id, payerProof: payerProofBody });
      expect(r.status, r.text).toBe(409);
    }
    expect((await paymentOf(env.h, id)).escrow?.payers ?? []).toEqual([]);
  });

  it('a transfer mined before the proof cannot be adopted by proving the wallet afterwards', async () => {
    const m = await market(env.h);
    const opened = await env.save(saveBody(m));
    const id = opened.body.data.id as string;
    const early = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const r = await env.save(saveBody(m, { transactionHash: early, payerProof: await payerProof(env.h, m, env.buyerWallet) }));
    expect(r.status, r.text).toBe(409);
    await expectNotCompleted(env.h, m, id);
  });
});

describe('poisoning a claim', () => {
  it("neither an outsider's dust nor a displaced claim keeps the cron from completing the buyer's payment", async () => {
    const m = await market(env.h);
    // A wallet proven on this payment only (the cron does not guess between a wallet's purchases).
    const buyer = await attackerWallet('100');
    const id = await provenPayment(env.h, m, buyer);
    const mallory = await attackerWallet();
    expect((await proveOn(m, id, mallory)).status).toBe(409);
    // Mallory's dust, shallow, named for the buyer's payment: refuted, it holds nothing.
    const dust = await env.chain.transfer(env.usdt.address, mallory, env.receiver.address, units('0.000001'));
    expect((await env.verify(id, { transactionHash: dust })).status).toBe(409);
    // The buyer pays in full and saves its hash while it is still shallow, as the front end does.
    const real = await env.chain.transfer(env.usdt.address, buyer, env.receiver.address, units('25.5'));
    expect((await env.save(saveBody(m, { transactionHash: real }))).status).toBe(200);
    await env.chain.mine(3);
    // The cron re-verifies the payment's claim; the buyer does nothing more.
    const cron = await env.h.anonymous.post('/decentralized/verify-all-pending');
    expect(cron.status, cron.text).toBe(200);
    const p = await paymentOf(env.h, id);
    expect(p.status, `received ${p.escrow?.received}, credits ${p.escrow?.credits.map((c) => c.txHash)}, claim ${p.claim?.txHash ?? null}`).toBe('completed');
    expect(p.escrow?.payer?.toLowerCase()).toBe(buyer.address.toLowerCase());
  });
});

describe('seller and buyer editing what is not theirs', () => {
  it("the seller cannot cancel the buyer's payment after the buyer paid it and before the save: the buyer's money must still fund it", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    // The buyer's transfer is mined; its save has not reached the server yet.
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const c = await env.h.as('seller-1').put(`/${id}`, { status: 'cancelled' });
    const s = await env.save(saveBody(m, { transactionHash: hash }));
    const v = await env.verify(id, { transactionHash: hash });
    const credited = (await env.h.store.payments.find({ purchaseRequestId: m.requestId })).filter((p) => p.status === 'completed');
    expect(credited.length, `seller cancel: ${c.status}; buyer save: ${s.status} ${s.text}; verify: ${v.status} ${v.text}`).toBe(1);
  });

  it('a transfer from the proven wallet to a cancelled Web3 payment is recorded as excess (late money is never forgotten)', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const c = await env.h.as(BUYER).put(`/${id}`, { status: 'cancelled' });
    expect(c.status, c.text).toBe(200);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    await env.verify(id, { transactionHash: hash });
    await env.h.as(BUYER).post('/verify', { paymentId: id, transactionHash: hash });
    const p = await paymentOf(env.h, id);
    expect(
      p.escrow?.credits.map((x) => x.txHash),
      'the late transfer is on the ledger for an admin',
    ).toContain(hash.toLowerCase());
  });

  it("the seller cannot cancel the buyer's Web3 payment that the buyer already proved a wallet for", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const seller = env.h.bearer('seller-1');
    const a = await env.h.as({ authorization: seller }).put(`/${id}`, { status: 'cancelled' });
    const b = await env.h.as({ authorization: seller }).put('/decentralized/update', { paymentId: id, status: 'cancelled' });
    expect([a.status, b.status], `${a.text} / ${b.text}`).not.toContain(200);
    expect((await paymentOf(env.h, id)).status).toBe('pending');
  });

  it("the seller cannot re-label the network of the buyer's payment so its transfer is refuted", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const seller = env.h.bearer('seller-1');
    const r = await env.h.as({ authorization: seller }).put(`/${id}`, { blockchain: { network: 'ethereum', token: 'USDC' } });
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const s = await env.save(saveBody(m, { transactionHash: hash }));
    expect(s.status, `seller PUT ${r.status} ${r.text}; buyer's save afterwards: ${s.text}`).toBe(200);
    expect((await paymentOf(env.h, id)).status).toBe('completed');
  });

  it("an outsider cannot PUT, cancel, or verify-complete the buyer's payment", async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const mallory = env.h.bearer('mallory');
    const r = await Promise.all([
      env.h.as({ authorization: mallory }).put(`/${id}`, { status: 'cancelled' }),
      env.h.as({ authorization: mallory }).put(`/${id}`, { metadata: { x: 1 } }),
      env.h.as({ authorization: mallory }).put('/decentralized/update', { paymentId: id, status: 'cancelled' }),
      env.h.anonymous.put('/decentralized/update', { paymentId: id, status: 'cancelled' }),
      env.h.as({ authorization: mallory }).post('/verify', { paymentId: id }),
    ]);
    for (const x of r) expect([401, 403, 404], x.text).toContain(x.status);
    expect((await paymentOf(env.h, id)).status).toBe('pending');
    expect((await paymentOf(env.h, id)).metadata).toEqual({});
  });

  it('a buyer cannot mark its own payment completed, released or refunded via PUT', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const buyer = env.h.bearer(BUYER);
    for (const status of ['completed', 'processing', 'released', 'refunded']) {
      const r = await env.h.as({ authorization: buyer }).put(`/${id}`, { status });
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    }
    const u = await env.h.anonymous.put('/decentralized/update', { paymentId: id, status: 'completed', confirmations: 999 });
    expect(u.status, u.text).toBe(409);
    await expectNotCompleted(env.h, m, id);
  });
});

async function challengeOf(m: Market, w: { address: string }) {
  const res = await env.h.anonymous.post('/decentralized/payer-proof/challenge', {
    purchaseRequestId: m.requestId,
    sellerOfferId: m.offerId,
    walletAddress: w.address,
  });
  return res.body.data;
}
