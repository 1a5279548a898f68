import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { createIntent, monitor } from '../shkeeper/payinChainKit.js';
import {
  by,
  AMOUNT,
  BUYER,
  confirm,
  fundedPayment,
  newAddress,
  paymentOf,
  prepare,
  signAndSend,
  useEscrowEnv,
  units,
  type Funded,
} from '../escrow/escrowKit.js';

/**
 * Attacks on SHKeeper pay-ins and on money leaving an escrow (release, refund, payout), by a
 * buyer, a seller and an outsider. Each test asserts the invariant: it passes when it holds.
 */

// The buyer's wallet (account 1) holds the token too.
const env = useEscrowEnv({ fundBuyer: true });

const buyerWallet = () => env.chain.accounts[1]!;

/** The SHKeeper payout of a funded escrow to seller-1's wallet, for its full amount. */
const payoutBodyFor = (f: Funded) => ({
  purchaseRequestId: f.requestId,
  sellerOfferId: f.offerId,
  buyerId: BUYER,
  sellerId: 'seller-1',
  amount: AMOUNT,
  recipientAddress: f.seller,
});

/** What completes the invoice: its price (SHKeeper's quote adds its fee markup, which shows as excess). */
async function dueOf(paymentId: string): Promise<number> {
  return Number((await paymentOf(env.h, paymentId)).amount.amount);
}

/** SHKeeper's quoted crypto amount (the price plus its fee markup). */
async function quoteOf(paymentId: string): Promise<number> {
  const p = await paymentOf(env.h, paymentId);
  return Number((p.providerData?.shkeeper as { amountCrypto?: string } | undefined)?.amountCrypto ?? p.amount.amount);
}

describe('SHKeeper pay-in', () => {
  it("an outsider who tops up the buyer's short SHKeeper invoice does not become the refund recipient", async () => {
    const intent = await createIntent(env.h);
    const due = await dueOf(intent.paymentId);
    const buyerHash = await env.chain.transfer(env.usdt.address, buyerWallet(), intent.payAddress, units((due - 0.5).toFixed(6)));
    await env.chain.mine(3);
    const c = await env.h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId: intent.paymentId, transactionHash: buyerHash });
    // (The answer's status is checked by its own test below; here only the ledger matters.)
    void c;
    expect((await paymentOf(env.h, intent.paymentId)).status).toBe('processing');

    // The outsider sends the missing 0.5 to the (public) invoice address; the wallet monitor settles it.
    const mallory = env.outsider;
    await env.chain.transfer(env.usdt.address, mallory, intent.payAddress, units('0.5'));
    await env.chain.mine(3);
    await monitor(env.h, 'walletMonitor').tick();

    const p = await paymentOf(env.h, intent.paymentId);
    expect(p.status).toBe('completed');
    // Invariant: the refund goes back to whoever paid the escrow — the buyer sent all but 0.5.
    expect(ledgerOf(p).payer?.toLowerCase(), 'refund recipient').toBe(buyerWallet().address.toLowerCase());
    const refund = await prepare(env.h, intent.paymentId, 'refund');
    expect(refund.status, JSON.stringify(refund.body)).toBe(200);
    expect(refund.body.data.summary.recipient.toLowerCase(), 'refund recipient').toBe(buyerWallet().address.toLowerCase());
  });

  it("a buyer cannot confirm another invoice's transfer, or one to the shared escrow receiver, for its own invoice", async () => {
    const victim = await createIntent(env.h);
    const mine = await createIntent(env.h);
    const toVictim = await env.chain.transfer(env.usdt.address, buyerWallet(), victim.payAddress, units(String(await dueOf(victim.paymentId))));
    const toEscrow = await env.chain.transfer(env.usdt.address, buyerWallet(), env.escrow.address, units('25.5'));
    await env.chain.mine(3);
    for (const hash of [toVictim, toEscrow]) {
      const r = await env.h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId: mine.paymentId, transactionHash: hash });
      expect(r.status, JSON.stringify(r.body)).toBe(409);
    }
    expect((await paymentOf(env.h, mine.paymentId)).status).toBe('pending');
    // An outsider cannot even name the victim's payment.
    const o = await env.h.as('mallory').post('/shkeeper/confirm-transaction', { paymentId: victim.paymentId, transactionHash: toVictim });
    expect(o.status).toBe(404);
    // The victim's own confirmation still works.
    const v = await env.h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId: victim.paymentId, transactionHash: toVictim });
    expect(v.status, JSON.stringify(v.body)).toBe(200);
  });

  it('a transfer between the price and the SHKeeper quote funds the escrow for what arrived (never a 500)', async () => {
    const intent = await createIntent(env.h);
    const quote = await quoteOf(intent.paymentId);
    const price = await dueOf(intent.paymentId);
    const amount = ((price + Math.max(quote, price + 0.2)) / 2).toFixed(6);
    const hash = await env.chain.transfer(env.usdt.address, buyerWallet(), intent.payAddress, units(amount));
    await env.chain.mine(3);
    const c = await env.h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId: intent.paymentId, transactionHash: hash });
    expect(c.status, JSON.stringify(c.body)).toBe(200);
    const p = await paymentOf(env.h, intent.paymentId);
    expect(p.status).toBe('completed');
    expect(Number(ledgerOf(p).received)).toBe(Number(amount));
  });

  it('an unsigned or wrongly signed webhook moves nothing', async () => {
    const intent = await createIntent(env.h);
    const body = JSON.stringify({
      external_id: intent.externalId,
      status: 'PAID',
      crypto: 'BNB-USDT',
      addr: intent.payAddress,
      txids: [],
      paid: true,
      balance_fiat: '25.5',
      balance_crypto: '25.5',
      fiat: 'USD',
      transactions: [],
    });
    for (const headers of [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json', 'x-shkeeper-signature': '00'.repeat(32) },
      { 'content-type': 'application/json', 'x-shkeeper-api-key': 'guess' },
    ]) {
      const r = await env.h.anonymous.post('/shkeeper/webhook').set(headers).send(body);
      expect(r.status).toBe(401);
    }
    expect((await paymentOf(env.h, intent.paymentId)).status).toBe('pending');
  });
});

describe('money leaving an escrow', () => {
  it('buyer, seller and outsiders cannot prepare or confirm a release, refund or payout', async () => {
    const f = await fundedPayment(env.h, { payer: buyerWallet().address });
    for (const as of [BUYER, 'seller-1', 'mallory', 'anonymous']) {
      for (const kind of ['release', 'refund'] as const) {
        expect((await prepare(env.h, f.paymentId, kind, as)).status).toBeGreaterThanOrEqual(401);
        expect((await confirm(env.h, f.paymentId, kind, `0x${'ab'.repeat(32)}`, as)).status).toBeGreaterThanOrEqual(401);
      }
      const payout = await by(env.h, as).post('/shkeeper/payout', payoutBodyFor(f));
      expect([401, 403]).toContain(payout.status);
    }
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('completed');
  });

  it('a release cannot be confirmed by a transfer that did not come from the escrow, or for less', async () => {
    const f = await fundedPayment(env.h, { payer: buyerWallet().address });
    const fromOutsider = await env.chain.transfer(env.usdt.address, env.outsider, f.seller, units(AMOUNT));
    const tooLittle = await env.chain.transfer(env.usdt.address, env.escrow, f.seller, units('25.4'));
    await env.chain.mine(3);
    for (const h of [fromOutsider, tooLittle]) {
      const r = await confirm(env.h, f.paymentId, 'release', h);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
    }
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('completed');
  });

  it('one escrow transfer cannot be both the release of one escrow and the refund of another (seller wallet = other payer)', async () => {
    const w = Wallet.createRandom().address;
    // A is paid out to the seller wallet W; B was paid from W (the seller bought something too).
    const a = await fundedPayment(env.h, { seller: w, payer: newAddress() });
    const b = await fundedPayment(env.h, { seller: newAddress(), payer: w });
    const t = await env.chain.transfer(env.usdt.address, env.escrow, w, units(AMOUNT));
    await env.chain.mine(3);
    const [ra, rb] = await Promise.all([confirm(env.h, a.paymentId, 'release', t), confirm(env.h, b.paymentId, 'refund', t)]);
    const settled = [ra, rb].filter((r) => r.status === 200);
    expect(settled.length, `${JSON.stringify(ra.body)} / ${JSON.stringify(rb.body)}`).toBeLessThanOrEqual(1);
    const pa = await paymentOf(env.h, a.paymentId);
    const pb = await paymentOf(env.h, b.paymentId);
    expect([pa.status === 'released', pb.status === 'refunded'].filter(Boolean).length).toBeLessThanOrEqual(1);
  });

  it('two escrows of the same seller and amount cannot both be released by one transfer (concurrent confirms)', async () => {
    const w = Wallet.createRandom().address;
    const a = await fundedPayment(env.h, { seller: w });
    const b = await fundedPayment(env.h, { seller: w });
    const t = await env.chain.transfer(env.usdt.address, env.escrow, w, units(AMOUNT));
    await env.chain.mine(3);
    await Promise.all([confirm(env.h, a.paymentId, 'release', t), confirm(env.h, b.paymentId, 'release', t), confirm(env.h, a.paymentId, 'release', t)]);
    const released = [await paymentOf(env.h, a.paymentId), await paymentOf(env.h, b.paymentId)].filter((p) => p.status === 'released');
    expect(released).toHaveLength(1);
  });

  it('release, refund and payout fired together: at most one leaves, once; after it settles nothing else can', async () => {
    const f = await fundedPayment(env.h, { payer: buyerWallet().address });
    const payoutBody = payoutBodyFor(f);
    const rs = await Promise.all([
      prepare(env.h, f.paymentId, 'release'),
      prepare(env.h, f.paymentId, 'refund'),
      env.h.admin.post('/shkeeper/payout', payoutBody),
      prepare(env.h, f.paymentId, 'refund'),
    ]);
    const winners = rs.filter((r) => r.status === 200);
    const p = await paymentOf(env.h, f.paymentId);
    const inFlight = ledgerOf(p).inFlight;
    expect(inFlight).not.toBeNull();
    // Whatever won, only one kind holds the escrow.
    const kinds = new Set(winners.map((r) => r.body.data?.summary?.action ?? (r.body.data?.payoutId ? 'payout' : 'other')));
    expect(kinds.size, JSON.stringify(rs.map((r) => [r.status, r.body?.error?.code]))).toBe(1);

    if (inFlight!.kind === 'release' || inFlight!.kind === 'refund') {
      const kind = inFlight!.kind;
      const won = winners.find((r) => r.body.data?.summary?.action === kind)!;
      const hash = await signAndSend(env, won.body.data.payload);
      await env.chain.mine(3);
      expect((await confirm(env.h, f.paymentId, kind, hash)).status).toBe(200);
      const other = kind === 'release' ? 'refund' : 'release';
      expect((await prepare(env.h, f.paymentId, other)).status).toBe(409);
      // A real transfer of the other kind, broadcast anyway, cannot settle it either.
      const to = other === 'release' ? f.seller : buyerWallet().address;
      const sneaky = await env.chain.transfer(env.usdt.address, env.escrow, to, units(AMOUNT));
      await env.chain.mine(3);
      expect((await confirm(env.h, f.paymentId, other, sneaky)).status).toBe(409);
      expect((await env.h.admin.post('/shkeeper/payout', payoutBody)).status).toBe(409);
      const after = await paymentOf(env.h, f.paymentId);
      expect(ledgerOf(after).disbursements.filter((d) => d.state === 'settled')).toHaveLength(1);
    }
  });

  it('a refund goes to the proven payer; an override needs an admin and a reason', async () => {
    const f = await fundedPayment(env.h, { payer: buyerWallet().address });
    const r = await prepare(env.h, f.paymentId, 'refund');
    expect(r.status).toBe(200);
    expect(r.body.data.summary.recipient.toLowerCase()).toBe(buyerWallet().address.toLowerCase());
    await env.h.admin.delete(`/shkeeper/${f.paymentId}/prepared`);
    const noReason = await env.h.admin.post(`/shkeeper/${f.paymentId}/refund`, { recipientOverride: { address: newAddress() } });
    expect(noReason.status).toBe(400);
    const byBuyer = await env.h.as(BUYER).post(`/shkeeper/${f.paymentId}/refund`, { recipientOverride: { address: newAddress(), reason: 'mine now' } });
    expect(byBuyer.status).toBe(403);
  });

  it('nobody can edit, cancel or re-label a payout row, or a completed escrow, through PUT', async () => {
    const f = await fundedPayment(env.h, { payer: buyerWallet().address });
    const payout = await env.h.admin.post('/shkeeper/payout', payoutBodyFor(f));
    expect(payout.status, JSON.stringify(payout.body)).toBe(200);
    const payoutId = payout.body.data.payoutId as string;
    for (const as of [BUYER, 'seller-1', 'admin']) {
      for (const body of [
        { status: 'cancelled' },
        { status: 'failed' },
        { status: 'completed' },
        { metadata: { recipient: newAddress() } },
        { transactionHash: `0x${'cd'.repeat(32)}` },
      ]) {
        const r = await by(env.h, as).put(`/${payoutId}`, body);
        expect(r.status, `${as} ${JSON.stringify(body)} ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
      }
    }
    for (const as of [BUYER, 'seller-1']) {
      for (const body of [
        { status: 'cancelled' },
        { status: 'refunded' },
        { status: 'released' },
        { metadata: { x: 1 } },
        { transactionHash: `0x${'ef'.repeat(32)}` },
      ]) {
        const r = await by(env.h, as).put(`/${f.paymentId}`, body);
        expect(r.status, `${as} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
      }
    }
    const admin = await env.h.admin.put(`/${f.paymentId}`, { status: 'refunded' });
    expect([400, 409]).toContain(admin.status);
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('completed');
    const out = await paymentOf(env.h, payoutId);
    expect(out.status).not.toBe('cancelled');
    expect(out.status).not.toBe('failed');
  });
});
