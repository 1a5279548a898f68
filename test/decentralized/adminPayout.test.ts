import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminPayoutService } from '../../src/features/decentralized/adminPayoutService.js';
import { PaymentEffects } from '../../src/core/payments/paymentEffects.js';
import { disbursementsOf, expectLedgersSound, fundEscrow } from '../escrow/ledgerKit.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { purchaseRequest, sellerOffer, snapshot } from '../helpers/fixtures.js';
import { startTestWorld } from '../helpers/testWorld.js';
import { startRpcProxy, type RpcProxy } from '../helpers/rpcProxy.js';
import { paymentOf, market, newAddress, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';
import type { ApiResponse } from '../helpers/testWorld.js';

/**
 * POST /decentralized/admin-payout: an admin pays a seller from the server's hot wallet — a
 * disbursement of the purchase request's funded escrow, to its offer's wallet, for at most what it
 * holds. The payout is recorded before anything is broadcast, the receipt decides the outcome
 * (and settles or frees the escrow), one payout per escrow, and the wallet's key never leaves the
 * wallet object.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let hot: Wallet;
let proxy: RpcProxy;
let h: Web3Harness;
const answers: ApiResponse[] = [];
const ADMIN = () => h.bearer('ops', { admin: true });

beforeAll(async () => {
  chain = await startLocalChain();
  hot = chain.accounts[3]!;
  usdt = await chain.deployToken({ symbol: 'USDT', mint: [{ to: hot.address, amount: units('1000') }] });
  proxy = await startRpcProxy(chain.rpcUrl);
  h = await startWeb3Harness({
    chain,
    rpcUrl: proxy.url,
    tokenAddress: usdt.address,
    captureLogs: true,
    env: { ESCROW_RECEIVER_ADDRESS: chain.accounts[2]!.address, ADMIN_WALLET_PRIVATE_KEY: hot.privateKey },
  });
});
afterAll(async () => {
  await h?.stop();
  await proxy?.close();
  await chain?.stop();
});
afterEach(async () => {
  await expectLedgersSound(h.store);
});

interface FundedMarket {
  requestId: string;
  offerId: string;
  escrowId: string;
  /** The offer's wallet: where the payout goes. */
  wallet: string;
}

/**
 * A purchase request with an accepted offer (its own fresh wallet) and an escrow funded for `amount`.
 * A payout pays exactly what the escrow owes its seller, so each test funds what it pays.
 */
async function fundedMarket(amount = '25.5'): Promise<FundedMarket> {
  const wallet = newAddress();
  const request = purchaseRequest({ buyerId: 'buyer-1', status: 'payment_processing' });
  const offer = sellerOffer({ purchaseRequestId: request.id, sellerId: 'seller-1', amount, walletAddress: wallet, status: 'accepted' });
  await h.store.purchaseRequests.insertOne(request);
  await h.store.sellerOffers.insertOne(offer);
  const escrow = await fundEscrow(h, {
    requestId: request.id,
    offerId: offer.id,
    buyerId: 'buyer-1',
    sellerId: 'seller-1',
    amount,
    payer: newAddress(),
    receiver: h.config.escrow.receiverAddress!,
    provider: 'decentralized',
  });
  return { requestId: request.id, offerId: offer.id, escrowId: escrow.id, wallet };
}

async function payout(body: Record<string, unknown>, opts: { auth?: string; key?: string } = {}) {
  const r = await h
    .as({ authorization: opts.auth ?? ADMIN() })
    .post('/decentralized/admin-payout', body)
    .set(opts.key ? { 'idempotency-key': opts.key } : {});
  answers.push(r);
  return r;
}

async function transfersFromHot(fromBlock: number) {
  const logs = await usdt.contract.queryFilter(usdt.contract.filters.Transfer!(hot.address), fromBlock);
  return logs;
}

describe('POST /decentralized/admin-payout — happy path', () => {
  it("pays the offer's wallet on chain, records the outbound payment, releases the escrow, answers the receipt", async () => {
    const m = await fundedMarket('12.5');
    const to = m.wallet;
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to.toLowerCase(), amount: '12.5' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      success: true,
      message: 'payout sent',
      data: { status: 'completed', from: hot.address, to, amount: '12.5', currency: 'USDT', receipt: { status: 'success' } },
    });
    const { payoutId, transactionHash } = r.body.data;
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('12.5'));
    const receipt = await chain.provider.getTransactionReceipt(transactionHash);
    expect(receipt?.status).toBe(1);
    expect(receipt?.from).toBe(hot.address);

    const p = await paymentOf(h, payoutId);
    expect(p).toMatchObject({
      provider: 'admin_wallet',
      direction: 'out',
      status: 'completed',
      purchaseRequestId: m.requestId,
      payAddress: to,
      transactionHash,
      amount: { amount: '12.5', currency: 'USDT' },
      escrowPaymentId: m.escrowId,
      sellerOfferId: m.offerId,
      sellerId: 'seller-1',
    });
    expect(p.history.map((e) => [e.fromStatus, e.toStatus, e.actor])).toEqual([
      [null, 'pending', 'ops'],
      ['pending', 'processing', 'ops'],
      ['processing', 'completed', 'system'],
    ]);
    // The escrow is released by this payout, once; the purchase request is seller_paid.
    const escrow = await paymentOf(h, m.escrowId);
    expect(escrow).toMatchObject({ status: 'released', escrowState: 'released', releaseTxHash: transactionHash.toLowerCase() });
    expect((await disbursementsOf(h, m.escrowId)).map((d) => [d.kind, d.method, d.state, d.amount, d.payoutId])).toEqual([
      ['payout', 'hot_wallet', 'settled', '12.5', payoutId],
    ]);
    expect((await h.store.purchaseRequests.findById(m.requestId))?.status).toBe('seller_paid');
    // Each announced once, to the admins and the payout's parties (never to every signed-in client).
    const targets = [{ kind: 'admins' }, { kind: 'user', id: 'buyer-1' }, { kind: 'seller', id: 'seller-1' }];
    expect(h.events.callsNamed('payout-created').filter((e) => (e.payload as { payoutId: string }).payoutId === payoutId)).toEqual([
      { targets, event: 'payout-created', payload: { payoutId, status: 'pending' } },
    ]);
    expect(h.events.callsNamed('payout-completed').filter((e) => (e.payload as { payoutId: string }).payoutId === payoutId)).toEqual([
      { targets, event: 'payout-completed', payload: { payoutId, status: 'completed', transactionHash } },
    ]);
  });

  it('records the payout (and holds the escrow) before the transfer is broadcast', async () => {
    const m = await fundedMarket('1');
    const held = proxy.hold('eth_sendRawTransaction');
    const pending = payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1' });
    try {
      await held.arrived;
      const recorded = await h.store.payments.find({ purchaseRequestId: m.requestId, provider: 'admin_wallet' });
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ status: 'pending', transactionHash: null });
      expect((await paymentOf(h, m.escrowId)).escrow!.inFlight).toMatchObject({ method: 'hot_wallet', state: 'prepared', payoutId: recorded[0]!.id });
    } finally {
      held.release();
    }
    const r = await pending;
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.status).toBe('completed');
  });
});

describe('POST /decentralized/admin-payout — refusals', () => {
  it('401 without a token, 403 for a non-admin; nothing recorded or sent', async () => {
    const m = await fundedMarket('1');
    const before = await snapshot(h.store);
    const balance = await chain.balanceOf(usdt.address, hot.address);
    const body = { purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1' };
    const anon = await h.anonymous.post('/decentralized/admin-payout', body);
    expect(anon.status).toBe(401);
    for (const user of ['buyer-1', 'seller-1']) {
      const r = await payout(body, { auth: h.bearer(user) });
      expect(r.status, r.text).toBe(403);
      expect(r.body.error.code).toBe('admin_required');
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(balance);
  });

  it('400 for malformed bodies, 404 for an unknown purchase request', async () => {
    const m = await fundedMarket('1');
    const ok = { purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1' };
    const before = await snapshot(h.store);
    for (const over of [
      { receiverWalletAddress: '0x123' },
      { amount: '0' },
      { amount: -5 },
      { currency: 'BTC' },
      { network: 'ethereum' },
      { purchaseRequestId: 'nope' },
      { force: 'yes' },
      { overrideReason: '' },
      { privateKey: '0xabc' },
    ]) {
      const r = await payout({ ...ok, ...over });
      expect(r.status, `${JSON.stringify(over)} → ${r.text}`).toBe(400);
    }
    const unknown = await payout({ ...ok, purchaseRequestId: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('purchase_request_not_found');
    expect(await snapshot(h.store)).toEqual(before);
  });

  it('409 insufficient_balance when the hot wallet holds less: nothing recorded, nothing sent', async () => {
    const m = await fundedMarket('1000000');
    const before = await snapshot(h.store);
    const balance = await chain.balanceOf(usdt.address, hot.address);
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1000000' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('insufficient_balance');
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(balance);
  });

  it('bound to the funded escrow: none → escrow_not_funded; another wallet → recipient_not_allowed; more than it holds → exceeds_escrow_balance', async () => {
    const balance = await chain.balanceOf(usdt.address, hot.address);
    // A purchase request with no funded pay-in (this used to be paid).
    const unfunded = await market(h);
    const seller1 = (await h.store.sellerOffers.findById(unfunded.offerId))!.walletAddress!;
    const m = await fundedMarket();
    for (const [body, code] of [
      [{ purchaseRequestId: unfunded.requestId, receiverWalletAddress: seller1, amount: '1' }, 'escrow_not_funded'],
      [{ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' }, 'recipient_not_allowed'],
      [{ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '25.51' }, 'exceeds_escrow_balance'],
    ] as const) {
      const before = await snapshot(h.store);
      const r = await payout(body);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe(code);
      expect(await snapshot(h.store)).toEqual(before);
    }
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(balance);
  });

  it('another wallet with an admin reason: paid there, the override recorded on the escrow', async () => {
    const m = await fundedMarket('3');
    const elsewhere = newAddress();
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: elsewhere, amount: '3', overrideReason: 'seller moved to a new wallet' });
    expect(r.status, r.text).toBe(200);
    expect(await chain.balanceOf(usdt.address, elsewhere)).toBe(units('3'));
    expect(await disbursementsOf(h, m.escrowId)).toEqual([
      expect.objectContaining({ recipient: elsewhere, state: 'settled', override: { by: 'ops', reason: 'seller moved to a new wallet' } }),
    ]);
  });

  it('one payout per escrow: once paid, 409 escrow_not_funded, with force too', async () => {
    const m = await fundedMarket('2');
    const first = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '2' });
    expect(first.status, first.text).toBe(200);
    const before = await snapshot(h.store);
    const again = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '3' });
    expect(again.status, again.text).toBe(409);
    // Was `payout_exists`: the escrow is released; nothing more leaves it.
    expect(again.body.error.code).toBe('escrow_not_funded');
    // `force` used to send a second payout of the same purchase request; it no longer does.
    const forced = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '3', force: true });
    expect(forced.status, forced.text).toBe(409);
    expect(forced.body.error.code).toBe('escrow_not_funded');
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, m.wallet)).toBe(units('2'));
  });

  it('after the escrow was refunded, no hot-wallet payout: 409 escrow_not_funded (this used to be paid)', async () => {
    const m = await fundedMarket();
    const coordinator = h.server.ctx.coordinator;
    const d = {
      id: 'bbbbbbbbbbbbbbbbbbbbbbb1',
      kind: 'refund',
      method: 'escrow_tx',
      recipient: newAddress(),
      amount: '25.5',
      state: 'submitted',
      override: null,
      payoutId: null,
      evidence: `0x${'78'.repeat(32)}`,
      payload: null,
      createdBy: 'ops',
    } as const;
    await coordinator.openDisbursement(m.escrowId, d, { source: 'test', actor: 'ops' });
    await coordinator.settleDisbursement(m.escrowId, d.id, { source: 'test', actor: 'ops', evidence: d.evidence, effects: [], hashField: 'refundTxHash' });
    const before = await snapshot(h.store);
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1', force: true });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('escrow_not_funded');
    expect(await snapshot(h.store)).toEqual(before);
  });

  it('Idempotency-Key: a repeat is replayed without a second transfer; the key with another body is refused', async () => {
    const m = await fundedMarket('4');
    const to = m.wallet;
    const body = { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '4' };
    const first = await payout(body, { key: `payout-${m.requestId}` });
    expect(first.status, first.text).toBe(200);
    const replay = await payout(body, { key: `payout-${m.requestId}` });
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await payout({ ...body, amount: '5', force: true }, { key: `payout-${m.requestId}` });
    expect(other.status, other.text).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('4'));
    expect(await h.store.payments.count({ purchaseRequestId: m.requestId, provider: 'admin_wallet' })).toBe(1);
  });

  it('503 not_configured without a hot wallet', async () => {
    const app = await startTestWorld();
    const m = await market({ store: app.store } as unknown as Web3Harness);
    const r = await app
      .http()
      .post('/api/payment/decentralized/admin-payout')
      .set('authorization', app.bearer('ops', { admin: true }))
      .send({ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
  });
});

describe('POST /decentralized/admin-payout — concurrency', () => {
  it('many payouts of one escrow at once: one transfer on chain, the rest 409 (in flight, or already released)', async () => {
    const m = await fundedMarket('1');
    const to = m.wallet;
    const fromBlock = await chain.blockNumber();
    const rs = await Promise.all(Array.from({ length: 8 }, () => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '1' })));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 200)) {
      expect(r.status, r.text).toBe(409);
      expect(['disbursement_in_flight', 'escrow_not_funded']).toContain(r.body.error.code);
    }
    const sent = (await transfersFromHot(fromBlock + 1)).filter((l) => (l as unknown as { args: unknown[] }).args[1] === to);
    expect(sent).toHaveLength(1);
    expect(await chain.balanceOf(usdt.address, to)).toBe(units(ok[0]!.body.data.amount));
    expect(await h.store.payments.count({ purchaseRequestId: m.requestId, provider: 'admin_wallet' })).toBe(1);
  });

  it('payouts of different escrows at once: no nonce collision, every one mined', async () => {
    const n = 6;
    const ms = [];
    for (let i = 0; i < n; i++) ms.push(await fundedMarket('1.5'));
    const startNonce = await chain.provider.getTransactionCount(hot.address, 'latest');
    const rs = await Promise.all(ms.map((m) => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '1.5' })));
    for (const r of rs) expect(r.status, r.text).toBe(200);
    const nonces = [];
    for (const r of rs) {
      const tx = await chain.provider.getTransaction(r.body.data.transactionHash);
      nonces.push(tx!.nonce);
      expect((await chain.provider.getTransactionReceipt(r.body.data.transactionHash))?.status).toBe(1);
    }
    expect(nonces.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => startNonce + i));
    for (const m of ms) expect(await chain.balanceOf(usdt.address, m.wallet)).toBe(units('1.5'));
  });

  it('with blocks mined only later, concurrent payouts wait in the mempool with distinct nonces, holding their escrows, and all complete', async () => {
    const n = 4;
    const ms = [];
    for (let i = 0; i < n; i++) ms.push(await fundedMarket('0.25'));
    await chain.setAutomine(false);
    let rs: ApiResponse[];
    try {
      const pending = Promise.all(ms.map((m) => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '0.25' })));
      // Every payout is broadcast and recorded as processing with its hash before any block.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const processing = await h.store.payments.find({ purchaseRequestId: { $in: ms.map((m) => m.requestId) }, direction: 'out', status: 'processing' });
        if (processing.length === n) {
          expect(new Set(processing.map((p) => p.providerData.nonce)).size).toBe(n);
          expect(processing.every((p) => p.transactionHash)).toBe(true);
          break;
        }
        if (Date.now() > deadline) throw new Error(`only ${processing.length} of ${n} payouts broadcast`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // While the receipt is not known the escrow stays held: nothing else may leave it.
      const m0 = ms[0]!;
      expect((await paymentOf(h, m0.escrowId)).escrow!.inFlight).toMatchObject({ method: 'hot_wallet', state: 'submitted' });
      const meanwhile = await h.as({ authorization: ADMIN() }).post(`/shkeeper/${m0.escrowId}/refund`, {});
      expect(meanwhile.status, meanwhile.text).toBe(409);
      expect(meanwhile.body.error.code).toBe('disbursement_in_flight');
      await chain.mine(1);
      rs = await pending;
    } finally {
      await chain.setAutomine(true);
    }
    for (const r of rs) expect(r.status, r.text).toBe(200);
    for (const r of rs) expect(r.body.data.status).toBe('completed');
    for (const m of ms) expect(await chain.balanceOf(usdt.address, m.wallet)).toBe(units('0.25'));
  }, 60_000);
});

describe('a hot-wallet payout whose receipt is not known when the call ends', () => {
  it('stays in flight (processing, disbursement submitted); the next call reads its receipt first and settles it', async () => {
    const m = await fundedMarket('6');
    const ctx = h.server.ctx;
    // The same service with a wallet that gives up waiting at once, as one does after RECEIPT_TIMEOUT_MS.
    const impatient = new AdminPayoutService({
      config: ctx.config,
      store: ctx.store,
      coordinator: ctx.coordinator,
      events: ctx.events,
      clock: ctx.clock,
      logger: ctx.logger,
      effects: new PaymentEffects(ctx.store, ctx.coordinator, ctx.events, ctx.logger),
      wallet: { ...h.hotWallet!, waitForReceipt: async () => null },
    });
    await chain.setAutomine(false);
    try {
      const first = await impatient.pay({ userId: 'ops', isAdmin: true } as never, {
        purchaseRequestId: m.requestId,
        receiverWalletAddress: m.wallet,
        amount: '6',
        currency: 'USDT',
        network: 'bsc',
      });
      expect(first).toMatchObject({ success: true, message: 'broadcast; waiting for the receipt', data: { status: 'processing' } });
      expect((await paymentOf(h, m.escrowId)).escrow!.inFlight).toMatchObject({ state: 'submitted', evidence: first.data.transactionHash });
      // Still unmined: the next call finds no receipt and is refused; nothing is sent twice.
      const blocked = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '6' });
      expect(blocked.status, blocked.text).toBe(409);
      expect(blocked.body.error.code).toBe('disbursement_in_flight');
      await chain.mine(1);
      // Mined: the next call settles the earlier one from its receipt, then finds the escrow released.
      const after = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: m.wallet, amount: '6' });
      expect(after.status, after.text).toBe(409);
      expect(after.body.error.code).toBe('escrow_not_funded');
      expect(await paymentOf(h, first.data.payoutId)).toMatchObject({ status: 'completed' });
      expect(await paymentOf(h, m.escrowId)).toMatchObject({ status: 'released', releaseTxHash: first.data.transactionHash.toLowerCase() });
      expect(await chain.balanceOf(usdt.address, m.wallet)).toBe(units('6'));
    } finally {
      await chain.setAutomine(true);
    }
  });
});

describe('the hot wallet key', () => {
  it('never appears in a response or a log line', () => {
    expect(answers.length).toBeGreaterThan(10);
    expect(h.logs.length).toBeGreaterThan(10);
    const key = hot.privateKey.toLowerCase().replace(/^0x/, '');
    for (const a of answers) expect(a.text.toLowerCase()).not.toContain(key);
    for (const line of h.logs) expect(line.toLowerCase()).not.toContain(key);
  });
});
