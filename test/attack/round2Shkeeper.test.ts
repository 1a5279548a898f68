import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import { describe, expect, it } from 'vitest';
import { ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { confirm, paymentOf, prepare, useEscrowEnv, units } from '../escrow/escrowKit.js';
import { createIntent, confirmTx } from '../shkeeper/payinChainKit.js';
import { invoiceCallback, postWebhook } from '../shkeeper/payinTestKit.js';

/**
 * Round 2 on SHKeeper pay-ins: the same transaction named in two invoices' callbacks, a PAID for
 * another invoice's address, a callback after a refund, duplicated deliveries racing
 * confirm-transaction — and a deep reorg after completion. Each test asserts the money invariant.
 */

// The buyer's wallet (account 1) holds the token too.
const env = useEscrowEnv({ fundBuyer: true });

const buyer = () => env.chain.accounts[1]!;
const BUYER = 'buyer-1';

/** Pays the invoice address `amount` on chain (deep enough) and returns the hash. */
async function payInvoice(addr: string, amount = '26.01') {
  const hash = await env.chain.transfer(env.usdt.address, buyer(), addr, units(amount));
  await env.chain.mine(3);
  return hash;
}
const webhook = (intent: { externalId: string; payAddress: string }, txid: string, over: Record<string, unknown> = {}, tx: Record<string, unknown> = {}) =>
  postWebhook(env.h as never, invoiceCallback(intent, over, { txid, ...tx }));

describe('SHKeeper webhook deliveries', () => {
  it("one on-chain transfer, named in two invoices' PAID callbacks, funds only the invoice it paid", async () => {
    const a = await createIntent(env.h);
    const b = await createIntent(env.h);
    const hash = await payInvoice(b.payAddress);
    expect((await webhook(b, hash)).status).toBe(202);
    // A PAID for invoice A naming B's transaction (SHKeeper's bug, or a replayed txid).
    expect((await webhook(a, hash)).status).toBe(202);
    const pa = await paymentOf(env.h, a.paymentId);
    const pb = await paymentOf(env.h, b.paymentId);
    expect(pb.escrowState).toBe('funded');
    expect(
      { status: pa.status, escrow: pa.escrowState, credits: ledgerOf(pa).credits.map((c) => c.txHash) },
      'the chain shows this transfer paid invoice B, not A',
    ).toEqual({ status: 'pending', escrow: 'unfunded', credits: [] });
  });

  it("a PAID for invoice A stating invoice B's address (and B's transfer) funds nothing", async () => {
    const a = await createIntent(env.h);
    const b = await createIntent(env.h);
    const hash = await payInvoice(b.payAddress);
    const r = await postWebhook(env.h as never, invoiceCallback({ externalId: a.externalId, payAddress: b.payAddress }, {}, { txid: hash }));
    expect(r.status).toBe(202);
    expect((await paymentOf(env.h, a.paymentId)).escrowState).toBe('unfunded');
    expect((await paymentOf(env.h, a.paymentId)).status).toBe('pending');
    // B is still settled by its own transfer.
    expect((await confirmTx(env.h as never, env.h.bearer(BUYER), { paymentId: b.paymentId, transactionHash: hash })).status).toBe(200);
  });

  it('a callback after a refund: the old txid is a duplicate, a new one is excess; nothing re-funds or releases it', async () => {
    const a = await createIntent(env.h);
    const hash = await payInvoice(a.payAddress);
    expect((await webhook(a, hash)).status).toBe(202);
    expect((await paymentOf(env.h, a.paymentId)).escrowState).toBe('funded');
    const prep = await prepare(env.h, a.paymentId, 'refund');
    expect(prep.status, JSON.stringify(prep.body)).toBe(200);
    const tx = await env.escrow.sendTransaction(prep.body.data.payload);
    await tx.wait();
    await env.chain.mine(3);
    expect((await confirm(env.h, a.paymentId, 'refund', tx.hash)).status).toBe(200);
    const again = await webhook(a, hash);
    const late = await payInvoice(a.payAddress, '5');
    const lateCb = await webhook(a, late, { balance_crypto: '31.01' }, { amount_crypto: '5' });
    expect([again.status, lateCb.status]).toEqual([202, 202]);
    const p = await paymentOf(env.h, a.paymentId);
    expect(p.status).toBe('refunded');
    expect(p.escrowState).toBe('refunded');
    expect(ledgerOf(p).credits.map((c) => [c.txHash, c.kind])).toEqual([
      [hash.toLowerCase(), 'funding'],
      [late.toLowerCase(), 'excess'],
    ]);
    for (const kind of ['release', 'refund'] as const) expect((await prepare(env.h, a.paymentId, kind)).status).toBe(409);
  });

  it('duplicated deliveries racing confirm-transaction credit the transfer once and complete once', async () => {
    const a = await createIntent(env.h);
    const hash = await payInvoice(a.payAddress);
    const auth = env.h.bearer(BUYER);
    const rs = await Promise.all([
      webhook(a, hash),
      confirmTx(env.h as never, auth, { paymentId: a.paymentId, transactionHash: hash }),
      webhook(a, hash),
      confirmTx(env.h as never, auth, { paymentId: a.paymentId, transactionHash: hash }),
      webhook(a, hash, { status: 'OVERPAID' }),
      confirmTx(env.h as never, auth, { paymentId: a.paymentId, transactionHash: hash }),
    ]);
    for (const r of rs) expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
    const p = await paymentOf(env.h, a.paymentId);
    expect(p.status).toBe('completed');
    expect(p.history.filter((e) => e.toStatus === 'completed')).toHaveLength(1);
    expect(ledgerOf(p).credits).toHaveLength(1);
    expect(ledgerOf(p).received).toBe('26.01');
    const purchaseUpdates = env.h.events.emitted.filter(
      (e) => e.event === 'purchase-request-update' && (e.payload as { purchaseRequestId?: string }).purchaseRequestId === a.purchaseRequestId,
    );
    expect(purchaseUpdates).toHaveLength(1);
  });

  it('two offers of one request, both invoices paid: one escrow funded, the other excess; no release or payout reaches the second seller', async () => {
    const a = await createIntent(env.h);
    // A second intent on the same request, for seller-2's offer (30).
    const r = await fetch(`${env.h.url}/api/payment/shkeeper/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: env.h.bearer(BUYER) },
      body: JSON.stringify({ purchaseRequestId: a.purchaseRequestId, sellerOfferId: a.otherOfferId, amount: '30', sellerId: 'seller-2' }),
    });
    const b = (await r.json()) as { data?: { paymentId: string; externalId: string; payAddress: string } };
    if (r.status !== 200) return; // a second live intent per request is refused: nothing to attack
    const bi = { externalId: b.data!.externalId, payAddress: b.data!.payAddress };
    const ha = await payInvoice(a.payAddress);
    const hb = await payInvoice(bi.payAddress, '30.6');
    await Promise.all([webhook(a, ha), webhook(bi, hb, { balance_crypto: '30.6' }, { amount_crypto: '30.6' })]);
    const pa = await paymentOf(env.h, a.paymentId);
    const pb = await paymentOf(env.h, b.data!.paymentId);
    const fundedOnes = [pa, pb].filter((p) => p.escrowState === 'funded');
    expect(fundedOnes).toHaveLength(1);
    const loser = fundedOnes[0]!.id === pa.id ? pb : pa;
    expect(ledgerOf(loser).credits.map((c) => c.kind)).toEqual(['excess']);
    for (const kind of ['release', 'refund'] as const) expect((await prepare(env.h, loser.id, kind)).status).toBe(409);
  });
});

describe('a reorg after completion', () => {
  it('an escrow whose only funding transfer was reorged out after completion cannot be released', async () => {
    const a = await createIntent(env.h);
    const snap = (await env.chain.provider.send('evm_snapshot', [])) as string;
    const hash = await payInvoice(a.payAddress);
    expect((await confirmTx(env.h as never, env.h.bearer(BUYER), { paymentId: a.paymentId, transactionHash: hash })).status).toBe(200);
    expect((await paymentOf(env.h, a.paymentId)).escrowState).toBe('funded');
    // A reorg deeper than BSC_CONFIRMATIONS takes the funding transfer out.
    await env.chain.provider.send('evm_revert', [snap]);
    await env.chain.mine(10);
    expect(await env.chain.provider.getTransactionReceipt(hash)).toBeNull();
    // Monitors and a re-verification get their chance to notice.
    await (env.h.server.ctx.monitors.get('walletMonitor') as IntervalMonitor | undefined)?.tick();
    await confirmTx(env.h as never, env.h.bearer(BUYER), { paymentId: a.paymentId, transactionHash: hash });
    const rel = await prepare(env.h, a.paymentId, 'release');
    expect(rel.status, `released on money that is no longer on the chain: ${JSON.stringify(rel.body)}`).toBe(409);
  });
});
