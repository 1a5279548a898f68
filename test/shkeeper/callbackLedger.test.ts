import { hexlify, randomBytes } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { excessAmount, fundedAmount, ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { AppError } from '../../src/platform/errors.js';
import { startLocalChain, type LocalChain } from '../helpers/chain/localChain.js';
import { freePort } from '../helpers/childService.js';
import { snapshot } from '../helpers/fixtures.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import {
  confirmTx,
  createIntent as createChainIntent,
  deployUsdt,
  expectCompletedOnce,
  newAddress,
  QUIET_MONITORS,
  units,
  type ChainSetup,
} from './payinChainKit.js';
import { ADMIN, BUYER, deliveriesOf, expectSoundLedgers, intentFor, invoiceCallback, paymentOf, postWebhook, seed, webhookStats } from './payinTestKit.js';

/**
 * SHKeeper's invoice callback credits the escrow ledger with what ARRIVED (issue 10): each
 * transaction of the invoice's crypto to the invoice's own pay address is one credit; the ledger
 * decides whether that funds the escrow (what arrived ≥ price × (1 − UNDERPAYMENT_TOLERANCE)),
 * leaves it short, or is excess. Callbacks for another crypto or address fund nothing. With a
 * chain, the sender of the transfer is read from it and recorded as the payer. After every test
 * the ledger invariants hold for every payment (`ledgerProblems`).
 */

let h: ListeningWorld | undefined;
afterEach(async () => {
  if (h) await expectSoundLedgers(h);
  await h?.stop();
  h = undefined;
});

/** A world on the fake SHKeeper (no chain), stopped after the test, with a seeded marketplace and an open intent. */
async function startWithIntent(env?: Record<string, string>) {
  const world = (h = await startTestWorld({ listen: true, shkeeper: true, env }));
  const s = await seed(world);
  return { h: world, s, intent: await intentFor(world, s) };
}
const txid = () => hexlify(randomBytes(32));
const statuses = async (harness: ListeningWorld, id: string) => (await paymentOf(harness, id)).history.map((e) => e.toStatus);

describe('what arrived, not what was asked (fake SHKeeper, no chain)', () => {
  it('under: PAID with less than the price (SHKeeper says PAID from 95 %) leaves it processing with the shortfall, not funded', async () => {
    const { h, s, intent } = await startWithIntent();
    // The invoice asks 26.01 (25.5 + 2 % fee); 24.71 is 95 % of it: SHKeeper reports PAID.
    const paid = h.fake.pay({ externalId: intent.externalId, amountCrypto: '24.71' });
    await h.fake.callbacksSettled();
    expect(paid.status).toBe('PAID');
    expect(h.fake.deliveries.map((d) => d.status)).toEqual([202]);

    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'processing', escrowState: 'unfunded', transactionHash: null, fundedRequestKey: null });
    expect(p.escrow).toMatchObject({ received: '24.71', shortfall: '0.79', payer: null });
    expect(p.escrow!.credits).toEqual([expect.objectContaining({ kind: 'funding', txHash: paid.txid, amount: '24.71', to: intent.payAddress })]);
    expect(p.providerData.shkeeper).toMatchObject({ status: 'PAID', balanceCrypto: '24.71' });
    expect((await h.store.sellerOffers.findById(s.offer.id))?.status).toBe('pending');
    expect((await h.store.purchaseRequests.findById(s.request.id))?.status).toBe('open');
    expect(h.events.named('purchase-request-update')).toEqual([]);
    expect((await deliveriesOf(h)).at(-1)).toMatchObject({ outcome: 'applied', paymentId: intent.paymentId });
    // The escrow holds nothing to release: completing is a credit's job, not a status's.
    const release = await h.as({ admin: ADMIN }).post(`/shkeeper/${intent.paymentId}/release`, {});
    expect(release.status, release.text).toBe(409);
    expect(release.body.error.code).toBe('escrow_not_funded');

    // The rest arrives: the payment completes, funded for everything that arrived.
    const rest = h.fake.pay({ externalId: intent.externalId, amountCrypto: '0.79' });
    await h.fake.callbacksSettled();
    const done = await paymentOf(h, intent.paymentId);
    expect(done).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: rest.txid });
    expect(done.escrow).toMatchObject({ received: '25.5', shortfall: null });
    expect(await statuses(h, intent.paymentId)).toEqual(['pending', 'processing', 'completed']);
  });

  it('under, within UNDERPAYMENT_TOLERANCE: completes, funded for what arrived, the shortfall recorded', async () => {
    const { h, intent } = await startWithIntent({ UNDERPAYMENT_TOLERANCE: '0.05' });
    const paid = h.fake.pay({ externalId: intent.externalId, amountCrypto: '24.71' });
    await h.fake.callbacksSettled();
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: paid.txid });
    expect(p.escrow).toMatchObject({ received: '24.71', shortfall: '0.79' });
    expect(fundedAmount(ledgerOf(p))).toBe('24.71');
  });

  it('over: OVERPAID funds the escrow for what arrived, the excess visible', async () => {
    const { h, s, intent } = await startWithIntent();
    const paid = h.fake.pay({ externalId: intent.externalId, amountCrypto: '40' });
    await h.fake.callbacksSettled();
    expect(paid.status).toBe('OVERPAID');
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: paid.txid, fundedRequestKey: s.request.id });
    expect(p.escrow).toMatchObject({ received: '40', shortfall: null });
    expect(p.escrow!.credits).toEqual([expect.objectContaining({ kind: 'funding', reason: 'overpaid', amount: '40' })]);
    expect(excessAmount(p)).toBe('14.5');
    // The admin's debug bundle shows the same ledger.
    const debug = await h.as({ admin: ADMIN }).get(`/${intent.paymentId}/debug`);
    expect(debug.status).toBe(200);
    expect(JSON.stringify(debug.body)).toContain('"received":"40"');
  });

  it('a second txid after completion: 202, recorded as an excess credit; nothing moves and nothing is announced', async () => {
    const { h, intent } = await startWithIntent();
    const first = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    const before = await paymentOf(h, intent.paymentId);
    const emitted = h.events.emitted.length;

    const second = h.fake.pay({ externalId: intent.externalId, amountCrypto: '3' });
    await h.fake.callbacksSettled();
    expect(second.status).toBe('OVERPAID');
    expect(h.fake.deliveries.map((d) => d.status)).toEqual([202, 202]);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: first.txid });
    expect(p.history).toEqual(before.history);
    expect(p.escrow!.credits.map((c) => [c.kind, c.reason, c.txHash, c.amount])).toEqual([
      ['funding', 'overpaid', first.txid, '26.01'],
      ['excess', 'second_payment', second.txid, '3'],
    ]);
    expect(p.escrow!.received).toBe('29.01');
    expect(h.events.emitted.length).toBe(emitted);
    expect((await deliveriesOf(h)).map((d) => d.outcome)).toEqual(['applied', 'excess']);
    expect(await webhookStats(h)).toMatchObject({ success: 1, excess: 1 });

    // The same OVERPAID callback again changes nothing.
    const again = invoiceCallback(intent, { status: 'OVERPAID', balance_crypto: '29.01' }, { txid: second.txid, amount_crypto: '3' });
    expect((await postWebhook(h, again)).status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).escrow!.credits).toHaveLength(2);
  });

  it('late payment on a cancelled payment: 202, recorded as excess, the payment stays cancelled and unfunded', async () => {
    const { h, intent } = await startWithIntent();
    expect((await h.as(BUYER).put(`/${intent.paymentId}`, { status: 'cancelled' })).status).toBe(200);
    const emitted = h.events.emitted.length;
    const paid = h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    expect(h.fake.deliveries.map((d) => d.status)).toEqual([202]);
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'cancelled', escrowState: 'unfunded', transactionHash: null, fundedRequestKey: null });
    expect(p.escrow!.credits).toEqual([expect.objectContaining({ kind: 'excess', reason: 'late_payment', txHash: paid.txid, amount: '26.01' })]);
    expect(p.providerData.latePayments).toBeUndefined();
    expect(h.events.emitted.length).toBe(emitted);
    expect((await deliveriesOf(h)).at(-1)).toMatchObject({ outcome: 'late_payment', paymentId: intent.paymentId });
  });
});

describe('callbacks that are not for this invoice fund nothing', () => {
  it('another crypto (the whole callback): 202, recorded as refused, nothing changed', async () => {
    const { h, intent } = await startWithIntent();
    const before = await snapshot(h.store);
    const body = invoiceCallback(intent, { crypto: 'ETH-USDT' }, { crypto: 'ETH-USDT' });
    const r = await postWebhook(h, body);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ success: true });
    const [d] = await deliveriesOf(h);
    expect(d).toMatchObject({ outcome: 'refused', paymentId: intent.paymentId, dedupeKey: null });
    expect(d!.detail).toMatch(/^wrong_crypto: the callback is for ETH-USDT; this invoice is BNB-USDT/);
    expect((await snapshot(h.store)).payments).toEqual(before.payments);
    expect(await webhookStats(h)).toMatchObject({ refused: 1, success: 0 });
  });

  it('another crypto paid into the invoice (SHKeeper counts its fiat value as PAID): nothing credited', async () => {
    const { h, intent } = await startWithIntent();
    const before = await snapshot(h.store);
    // 0.05 BNB ≈ 30 USD: SHKeeper's balance in fiat says OVERPAID; not one USDT arrived.
    const paid = h.fake.pay({ externalId: intent.externalId, crypto: 'BNB', amountCrypto: '0.05' });
    await h.fake.callbacksSettled();
    expect(paid.status).toBe('OVERPAID');
    expect(h.fake.deliveries.map((d) => d.status)).toEqual([202]);
    expect((await snapshot(h.store)).payments).toEqual(before.payments);
    const [d] = await deliveriesOf(h);
    expect(d).toMatchObject({ outcome: 'refused', paymentId: intent.paymentId });
    expect(d!.detail).toContain(`${paid.txid} is BNB, not BNB-USDT (wrong_crypto)`);
    expect(h.events.named('purchase-request-update')).toEqual([]);
  });

  it('another address: 202, recorded as refused, nothing changed', async () => {
    const { h, intent } = await startWithIntent();
    const before = await snapshot(h.store);
    const elsewhere = newAddress();
    const r = await postWebhook(h, invoiceCallback({ externalId: intent.externalId, payAddress: elsewhere }));
    expect(r.status).toBe(202);
    const [d] = await deliveriesOf(h);
    expect(d).toMatchObject({ outcome: 'refused', paymentId: intent.paymentId });
    expect(d!.detail).toBe(`wrong_address: the callback is for ${elsewhere}; this invoice pays ${intent.payAddress}`);
    expect((await snapshot(h.store)).payments).toEqual(before.payments);
    // The right address, differently cased, is the same EVM address.
    const ok = await postWebhook(h, invoiceCallback({ externalId: intent.externalId, payAddress: intent.payAddress.toLowerCase() }));
    expect(ok.status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });

  it('a transfer credited to one payment cannot be credited to a second (transfer_already_credited), whatever path asks', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    const a = await intentFor(h, await seed(h));
    // SHKeeper handed the same address to a second invoice.
    h.fake.queueAddress(a.payAddress);
    const b = await intentFor(h, await seed(h));
    expect(b.payAddress).toBe(a.payAddress);
    const t = txid();
    expect((await postWebhook(h, invoiceCallback(a, {}, { txid: t }))).status).toBe(202);
    expect((await paymentOf(h, a.paymentId)).status).toBe('completed');

    const before = await snapshot(h.store);
    expect((await postWebhook(h, invoiceCallback(b, {}, { txid: t }))).status).toBe(202);
    const d = (await deliveriesOf(h)).at(-1)!;
    expect(d).toMatchObject({ outcome: 'refused', paymentId: b.paymentId });
    expect(d.detail).toContain('already credited to another payment');
    expect((await snapshot(h.store)).payments).toEqual(before.payments);

    // The ledger itself refuses it, to any caller.
    const credit = h.server.ctx.settlement.credit(
      b.paymentId,
      {
        txHash: t,
        from: null,
        to: a.payAddress,
        network: 'bsc',
        token: 'USDT',
        amount: '26.01',
        baseUnits: null,
        blockNumber: null,
      },
      { source: 'test', actor: 'test' },
    );
    await expect(credit).rejects.toSatisfy((e: unknown) => e instanceof AppError && e.code === 'transfer_already_credited');
    expect((await snapshot(h.store)).payments).toEqual(before.payments);
  });
});

describe('with the chain: the payer and confirm-transaction', () => {
  let chain: LocalChain;
  let setup: ChainSetup;
  beforeAll(async () => {
    chain = await startLocalChain();
    setup = await deployUsdt(chain);
  });
  afterAll(async () => {
    await chain?.stop();
  });
  const start = async (rpcUrl?: string) => {
    h = await startTestWorld({
      listen: true,
      shkeeper: true,
      chain: rpcUrl ? { ...chain, rpcUrl } : chain,
      tokenAddress: setup.usdt.address,
      env: { ...QUIET_MONITORS, ...(rpcUrl ? { BSC_RPC_URL: rpcUrl } : {}) },
    });
    return h;
  };
  const pay = (to: string, amount = '25.5') => chain.transfer(setup.usdt.address, setup.buyerWallet, to, units(amount));

  it('a callback-completed payment records its payer: the sender of the transfer on chain', async () => {
    const harness = await start();
    const intent = await createChainIntent(harness);
    const hash = await pay(intent.payAddress);
    await chain.mine(2);
    harness.fake.pay({ externalId: intent.externalId, txid: hash });
    await harness.fake.callbacksSettled();
    await expectCompletedOnce(harness, intent, { source: 'shkeeper_webhook', txHash: hash });
    const p = await paymentOf(harness, intent.paymentId);
    expect(p.escrow!.payer).toBe(setup.buyerWallet.address);
    // Proven on chain, so credited as the chain shows it (SHKeeper's invoice said 26.01).
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({
        kind: 'funding',
        from: setup.buyerWallet.address,
        amount: '25.5',
        baseUnits: units('25.5').toString(),
        source: 'shkeeper_webhook',
      }),
    ]);
  });

  it("a transfer not yet deep on this chain: credited on SHKeeper's word, the sender still recorded", async () => {
    const harness = await start();
    const intent = await createChainIntent(harness);
    const hash = await pay(intent.payAddress); // 1 of 3 confirmations here; SHKeeper counts its own
    harness.fake.pay({ externalId: intent.externalId, txid: hash });
    await harness.fake.callbacksSettled();
    const p = await paymentOf(harness, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(p.escrow).toMatchObject({ payer: setup.buyerWallet.address, received: '26.01' });
  });

  it("with the chain unreadable: still credited (SHKeeper's signed word is evidence), payer unknown", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const harness = await start(dead);
    const intent = await createChainIntent(harness);
    const hash = await pay(intent.payAddress);
    await chain.mine(2);
    harness.fake.pay({ externalId: intent.externalId, txid: hash });
    await harness.fake.callbacksSettled();
    expect(harness.fake.deliveries.map((d) => d.status)).toEqual([202]);
    const p = await paymentOf(harness, intent.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: hash });
    expect(p.escrow).toMatchObject({ payer: null, received: '26.01' });
    expect(p.escrow!.credits[0]).toMatchObject({ from: null, baseUnits: null });
  });

  it('confirm-transaction on a callback-completed payment: its hash is "already confirmed", another is 409, a new real transfer is excess', async () => {
    const harness = await start();
    const intent = await createChainIntent(harness);
    const hash = await pay(intent.payAddress);
    await chain.mine(2);
    harness.fake.pay({ externalId: intent.externalId, txid: hash });
    await harness.fake.callbacksSettled();
    await expectCompletedOnce(harness, intent, { txHash: hash });

    const same = await confirmTx(harness, harness.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ message: 'payment is already confirmed', data: { transactionHash: hash, status: 'completed' } });

    const elsewhere = await pay(newAddress());
    await chain.mine(2);
    const before = await snapshot(harness.store);
    const other = await confirmTx(harness, harness.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: elsewhere });
    expect(other.status, JSON.stringify(other.body)).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'not_this_payment', chain: 'wrong_address' } });
    expect(await snapshot(harness.store)).toEqual(before);

    const more = await pay(intent.payAddress, '2');
    await chain.mine(2);
    const excess = await confirmTx(harness, harness.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: more });
    expect(excess.status, JSON.stringify(excess.body)).toBe(200);
    expect(excess.body.message).toContain('recorded as excess');
    const p = await paymentOf(harness, intent.paymentId);
    expect(p.escrow!.credits.map((c) => [c.kind, c.txHash, c.amount, c.source])).toEqual([
      ['funding', hash, '25.5', 'shkeeper_webhook'],
      ['excess', more, '2', 'confirm_transaction'],
    ]);
    // SHKeeper's callback for that second transfer, arriving later, credits nothing twice.
    harness.fake.pay({ externalId: intent.externalId, txid: more, amountCrypto: '2' });
    await harness.fake.callbacksSettled();
    expect((await paymentOf(harness, intent.paymentId)).escrow!.credits).toHaveLength(2);
    expect((await deliveriesOf(harness)).at(-1)).toMatchObject({ outcome: 'duplicate' });
  });
});
