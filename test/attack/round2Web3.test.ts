import { Wallet } from 'ethers';
import { afterEach, describe, expect, it } from 'vitest';
import { ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { newObjectId } from '../../src/platform/ids.js';
import { payment as fixturePayment } from '../helpers/fixtures.js';
import { paymentOf, BUYER, market, pay, payerProof, provenPayment, saveBody, units, type Market, useWeb3Suite } from '../helpers/web3Harness.js';
import { expectLedgersSound } from '../escrow/ledgerKit.js';

/**
 * Round 2 of attacks on the Web3 (shared escrow receiver) paths: the cron crediting the wrong
 * purchase of one wallet, expired / replayed / racing payer proofs, fetch-tx adopting someone
 * else's transfer, and a purchase request paid twice (two offers). Each test asserts the money
 * invariant: it passes when the service holds it.
 */

const env = useWeb3Suite({ captureLogs: true });
afterEach(async () => {
  await expectLedgersSound(env.h.store);
});

const admin = () => env.h.bearer('admin-1', { admin: true });
const cron = () => env.h.anonymous.post('/decentralized/verify-all-pending');

/** A fresh funded wallet (ETH + tokens), so no other test's open payment shares it. */
async function freshWallet(tokens = '1000'): Promise<Wallet> {
  const w = Wallet.createRandom();
  const tx = await env.chain.accounts[9]!.sendTransaction({ to: w.address, value: 10n ** 18n });
  await tx.wait();
  await env.usdt.mint(w.address, units(tokens));
  return new Wallet(w.privateKey, env.chain.provider);
}

const paymentsOf = (m: Market) => env.h.store.payments.find({ purchaseRequestId: m.requestId, direction: 'in' });
const creditedWith = async (hash: string) =>
  (await env.h.store.payments.find({})).filter((p) => (p.escrow?.credits ?? []).some((c) => c.txHash === hash.toLowerCase()));

describe('cron: crediting a transfer to the wrong purchase of the same wallet', () => {
  it("a transfer made for purchase B (proof signed, hash not yet saved) is not taken by the wallet's other open purchase A", async () => {
    const w = await freshWallet();
    const a = await market(env.h);
    const b = await market(env.h);
    // The buyer has an open payment for A with w proven (e.g. abandoned checkout).
    const idA = await provenPayment(env.h, a, w);
    // Checkout of B: the front end gets the challenge, the wallet signs it, pays, then saves proof + hash.
    const proofB = await payerProof(env.h, b, w);
    const hash = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    // The cron runs in between (every minute in production).
    expect((await cron()).status).toBe(200);
    const r = await env.save(saveBody(b, { payerProof: proofB, transactionHash: hash }));
    const pa = await paymentOf(env.h, idA);
    expect(
      { saveB: r.status, aStatus: pa.status, aCredits: ledgerOf(pa).credits.map((c) => c.txHash) },
      `B's own transfer must fund B, not the wallet's other open purchase A: ${r.text}`,
    ).toEqual({ saveB: 200, aStatus: 'pending', aCredits: [] });
    expect((await paymentOf(env.h, r.body.data.id)).status).toBe('completed');
  });

  it('when the wallet has two open purchases of the same price, the cron takes neither transfer on a guess', async () => {
    const w = await freshWallet();
    const a = await market(env.h);
    const b = await market(env.h);
    const idA = await provenPayment(env.h, a, w);
    const idB = await provenPayment(env.h, b, w);
    await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    await cron();
    const pa = await paymentOf(env.h, idA);
    const pb = await paymentOf(env.h, idB);
    expect([pa.status, pb.status]).toEqual(['pending', 'pending']);
  });

  it('a processing (short) purchase of the wallet does not swallow a full transfer meant for another purchase', async () => {
    const w = await freshWallet();
    const a = await market(env.h);
    const b = await market(env.h);
    const idA = await provenPayment(env.h, a, w);
    const short = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25'), 3);
    expect((await env.save(saveBody(a, { transactionHash: short }))).status).toBe(200);
    expect((await paymentOf(env.h, idA)).status).toBe('processing');
    const idB = await provenPayment(env.h, b, w);
    const forB = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    // The cron attributes no unnamed transfer (it cannot know which purchase it was for).
    await cron();
    expect(ledgerOf(await paymentOf(env.h, idA)).credits.map((c) => c.txHash)).not.toContain(forB.toLowerCase());
    // Named for B, it funds B.
    expect((await env.save(saveBody(b, { transactionHash: forB }))).status).toBe(200);
    expect((await paymentOf(env.h, idB)).status).toBe('completed');
    expect(ledgerOf(await paymentOf(env.h, idA)).credits.map((c) => c.txHash)).not.toContain(forB.toLowerCase());
  });
});

describe('payer proofs: expired, replayed, racing', () => {
  it('an expired proof is refused (save and payer-proof), and proves nothing', async () => {
    const m = await market(env.h);
    const w = await freshWallet();
    const proof = await payerProof(env.h, m, w);
    const clock = env.h.server.ctx.clock as { now: () => Date };
    const realNow = clock.now;
    clock.now = () => new Date(Date.now() + 2 * 3600_000);
    try {
      const r = await env.save(saveBody(m, { payerProof: proof }));
      expect(r.status, r.text).toBe(409);
      const opened = await env.save(saveBody(m));
      const p = await env.h.anonymous.post('/decentralized/payer-proof', { paymentId: opened.body.data.id, payerProof: proof });
      expect(p.status, p.text).toBe(409);
    } finally {
      clock.now = realNow;
    }
    for (const p of await paymentsOf(m)) expect(ledgerOf(p).payers).toEqual([]);
  });

  it("a replayed proof (seen on the wire) gives an outsider nothing: the buyer's transfer funds the buyer's own payment once", async () => {
    const m = await market(env.h);
    const w = await freshWallet();
    const proof = await payerProof(env.h, m, w);
    const first = await env.save(saveBody(m, { payerProof: proof }));
    expect(first.status, first.text).toBe(200);
    // Mallory replays the very same proof many times, concurrently.
    const replays = await Promise.all(Array.from({ length: 6 }, () => env.save(saveBody(m, { payerProof: proof }))));
    for (const r of replays) expect(r.status, r.text).toBeLessThan(500);
    const hash = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    const done = await env.save(saveBody(m, { transactionHash: hash }));
    expect(done.status, done.text).toBe(200);
    await cron();
    expect(await creditedWith(hash)).toHaveLength(1);
    const funded = (await paymentsOf(m)).filter((p) => p.escrowState === 'funded');
    expect(funded).toHaveLength(1);
    expect(ledgerOf(funded[0]!).payers.map((x) => x.wallet.toLowerCase())).toEqual([w.address.toLowerCase()]);
  });

  it('proofs of two wallets racing saves and payer-proof on one payment: every payment ends with exactly one payer', async () => {
    const m = await market(env.h);
    const w1 = await freshWallet();
    const w2 = await freshWallet();
    const opened = await env.save(saveBody(m));
    const id = opened.body.data.id as string;
    const p1 = await payerProof(env.h, m, w1);
    const p2 = await payerProof(env.h, m, w2);
    const rs = await Promise.all([
      env.h.anonymous.post('/decentralized/payer-proof', { paymentId: id, payerProof: p1 }),
      env.h.anonymous.post('/decentralized/payer-proof', { paymentId: id, payerProof: p2 }),
      env.save(saveBody(m, { payerProof: p1 })),
      env.save(saveBody(m, { payerProof: p2 })),
      env.save(saveBody(m, { payerProof: p1 })),
      env.save(saveBody(m, { payerProof: p2 })),
      env.h.anonymous.post(`/decentralized/verify/${id}`, { payerProof: p2 }),
    ]);
    for (const r of rs) expect(r.status, r.text).toBeLessThan(500);
    for (const p of await paymentsOf(m)) expect(ledgerOf(p).payers.length, p.id).toBeLessThanOrEqual(1);
    // Both wallets pay; exactly one escrow is funded, the other payment's money is excess or its own (never lost).
    const h1 = await pay(env.chain, env.usdt.address, w1, env.receiver.address, units('25.5'), 3);
    const h2 = await pay(env.chain, env.usdt.address, w2, env.receiver.address, units('25.5'), 3);
    await Promise.all([env.save(saveBody(m, { transactionHash: h1 })), env.save(saveBody(m, { transactionHash: h2 })), cron()]);
    await cron();
    const all = await paymentsOf(m);
    expect(all.filter((p) => p.escrowState === 'funded')).toHaveLength(1);
    expect(await creditedWith(h1)).toHaveLength(1);
    expect(await creditedWith(h2)).toHaveLength(1);
  });
});

describe('fetch-tx / auto-fetch-missing', () => {
  it("fetch-tx on a completed payment without evidence never adopts someone else's transfer", async () => {
    const m = await market(env.h);
    const w = await freshWallet();
    // A legacy Web3 payment completed before the ledger (no hash, no credit, no proven wallet).
    const legacyId = newObjectId();
    await env.h.store.payments.insertOne(
      fixturePayment({
        id: legacyId,
        provider: 'decentralized',
        purchaseRequestId: m.requestId,
        sellerOfferId: m.offerId,
        buyerId: BUYER,
        sellerId: 'seller-1',
        amount: { amount: m.amount, currency: 'USDT' },
        status: 'completed',
        escrowState: 'funded',
        transactionHash: null,
        externalId: `DEPAY_${legacyId}`,
      }),
    );
    // Another buyer's payment, proven and paid from w, hash not saved yet.
    const other = await market(env.h, 'buyer-9');
    const otherId = (await env.save({ ...saveBody(other, { payerProof: await payerProof(env.h, other, w) }), buyerId: 'buyer-9' })).body.data.id as string;
    const hash = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    const rs = await Promise.all([
      env.h.as(BUYER).post(`/payments/${legacyId}/fetch-tx`),
      env.h.as({ authorization: admin() }).post(`/payments/${legacyId}/fetch-tx`),
      env.h.as({ authorization: admin() }).post('/payments/auto-fetch-missing', { limit: 50 }),
    ]);
    const legacy = await paymentOf(env.h, legacyId);
    // The legacy record is not ledger-sound by construction: keep it out of the after-each check.
    await env.h.store.payments.deleteMany({ id: legacyId });
    for (const r of rs) expect(r.status, r.text).toBeLessThan(500);
    expect(legacy.transactionHash).not.toBe(hash.toLowerCase());
    expect(ledgerOf(legacy).credits.map((c) => c.txHash)).not.toContain(hash.toLowerCase());
    // The real owner still settles with it.
    const s = await env.save({ ...saveBody(other, { transactionHash: hash }), buyerId: 'buyer-9' });
    expect(s.status, s.text).toBe(200);
    expect((await paymentOf(env.h, otherId)).status).toBe('completed');
  });

  it('fetch-tx is refused to an outsider and to the seller of another payment (404), changing nothing', async () => {
    const m = await market(env.h);
    const w = await freshWallet();
    const id = await provenPayment(env.h, m, w);
    const hash = await pay(env.chain, env.usdt.address, w, env.receiver.address, units('25.5'), 3);
    expect((await env.save(saveBody(m, { transactionHash: hash }))).status).toBe(200);
    for (const who of ['mallory', 'seller-2']) {
      const r = await env.h.as(who).post(`/payments/${id}/fetch-tx`);
      expect(r.status, `${who}: ${r.text}`).toBe(404);
    }
    const r = await env.h.as(BUYER).post(`/payments/${id}/fetch-tx`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.transactionHash).toBe(hash.toLowerCase());
  });
});

describe('one purchase request, two offers, both paid', () => {
  it('only one escrow is funded; the other payment is excess; its seller cannot be released to or paid out', async () => {
    const m = await market(env.h);
    const w1 = await freshWallet();
    const w2 = await freshWallet();
    const id1 = await provenPayment(env.h, m, w1);
    const s2 = await env.save(
      saveBody(m, { sellerId: 'seller-2', amount: '30', payerProof: await payerProof(env.h, { requestId: m.requestId, offerId: m.otherOfferId }, w2) }),
    );
    expect(s2.status, s2.text).toBe(200);
    const id2 = s2.body.data.id as string;
    expect(id2).not.toBe(id1);
    const h1 = await pay(env.chain, env.usdt.address, w1, env.receiver.address, units('25.5'), 3);
    const h2 = await pay(env.chain, env.usdt.address, w2, env.receiver.address, units('30'), 3);
    await Promise.all([
      env.save(saveBody(m, { transactionHash: h1 })),
      env.save(saveBody(m, { sellerId: 'seller-2', amount: '30', transactionHash: h2 })),
      env.h.anonymous.post(`/decentralized/verify/${id2}`, { transactionHash: h2 }),
    ]);
    await cron();
    const p1 = await paymentOf(env.h, id1);
    const p2 = await paymentOf(env.h, id2);
    const funded = [p1, p2].filter((p) => p.escrowState === 'funded');
    expect(funded, `p1 ${p1.status}/${p1.escrowState}, p2 ${p2.status}/${p2.escrowState}`).toHaveLength(1);
    const loser = funded[0]!.id === id1 ? p2 : p1;
    const loserHash = loser.id === id1 ? h1 : h2;
    // Its money is on its ledger (never forgotten), as excess.
    expect(ledgerOf(loser).credits.map((c) => [c.txHash, c.kind])).toEqual([[loserHash.toLowerCase(), 'excess']]);
    // No way out of the loser to its seller.
    for (const kind of ['release', 'refund']) {
      const r = await env.h.as({ authorization: admin() }).post(`/shkeeper/${loser.id}/${kind}`, {});
      expect(r.status, `${kind} of the unfunded payment: ${r.text}`).toBe(409);
    }
    const loserOffer = loser.sellerOfferId!;
    const loserSeller = loser.sellerId!;
    const loserWallet = (await env.h.store.sellerOffers.findById(loserOffer))!.walletAddress!;
    const payout = await env.h.as({ authorization: admin() }).post('/shkeeper/payout', {
      purchaseRequestId: m.requestId,
      sellerOfferId: loserOffer,
      buyerId: BUYER,
      sellerId: loserSeller,
      amount: loser.amount.amount,
      recipientAddress: loserWallet,
    });
    expect(payout.status, payout.text).toBe(409);
    // The winner's release pays its own offer's wallet, for its price.
    const rel = await env.h.as({ authorization: admin() }).post(`/shkeeper/${funded[0]!.id}/release`, {});
    expect(rel.status, rel.text).toBe(200);
    const winnerWallet = (await env.h.store.sellerOffers.findById(funded[0]!.sellerOfferId!))!.walletAddress!;
    expect(rel.body.data.summary.recipient.toLowerCase()).toBe(winnerWallet.toLowerCase());
    expect(rel.body.data.summary.amount).toBe(funded[0]!.amount.amount);
    expect((await env.h.store.sellerOffers.findById(loserOffer))?.status).toBe('rejected');
  });
});
