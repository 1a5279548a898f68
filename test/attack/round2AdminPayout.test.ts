import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminPayoutService } from '../../src/features/decentralized/adminPayoutService.js';
import { available, ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { PaymentEffects } from '../../src/core/payments/paymentEffects.js';
import { expectLedgersSound } from '../escrow/ledgerKit.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  BUYER,
  market,
  newAddress,
  pay,
  provenPayment,
  saveBody,
  startWeb3Harness,
  units,
  type Market,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * Round 2: the hot-wallet admin payout (`POST /decentralized/admin-payout`) against release,
 * refund and SHKeeper payout of the same escrow, with an admin who makes typos. Escrows are
 * funded for real (proven wallet, transfer on a local chain, save). Each test asserts the money
 * invariant: it passes when the service holds it.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let buyer: Wallet;
let escrowKey: Wallet;
let hot: Wallet;
let h: Web3Harness;
const ADMIN = () => h.bearer('ops', { admin: true });
const SELLER1_WALLET = '0x1111111111111111111111111111111111111111';
const SELLER2_WALLET = '0x2222222222222222222222222222222222222222';

beforeAll(async () => {
  chain = await startLocalChain();
  buyer = chain.accounts[1]!;
  escrowKey = chain.accounts[2]!;
  hot = chain.accounts[3]!;
  usdt = await chain.deployToken({
    symbol: 'USDT',
    mint: [
      { to: buyer.address, amount: units('1000000') },
      { to: escrowKey.address, amount: units('1000000') },
      { to: hot.address, amount: units('1000000') },
    ],
  });
  h = await startWeb3Harness({
    chain,
    tokenAddress: usdt.address,
    env: { ESCROW_RECEIVER_ADDRESS: escrowKey.address, ADMIN_WALLET_PRIVATE_KEY: hot.privateKey },
  });
});
afterAll(async () => {
  await h?.stop();
  await chain?.stop();
});
afterEach(async () => {
  await expectLedgersSound(h.store);
});

/** A purchase request whose escrow is funded for seller-1's offer by a real transfer from the buyer's proven wallet. */
async function funded(): Promise<Market & { escrowId: string }> {
  const m = await market(h);
  const escrowId = await provenPayment(h, m, buyer);
  const hash = await pay(chain, usdt.address, buyer, escrowKey.address, units('25.5'), 3);
  const r = await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
  expect(r.status, r.text).toBe(200);
  expect((await paymentOf(h, escrowId)).escrowState).toBe('funded');
  return { ...m, escrowId };
}

const adminPayout = (body: Record<string, unknown>) => h.as({ authorization: ADMIN() }).post('/decentralized/admin-payout', body);
const prepare = (id: string, kind: 'release' | 'refund') => h.as({ authorization: ADMIN() }).post(`/shkeeper/${id}/${kind}`, {});
const confirm = (id: string, kind: 'release' | 'refund', txHash: string) =>
  h.as({ authorization: ADMIN() }).post(`/shkeeper/${id}/${kind}/confirm`, { txHash });
const shkeeperPayout = (m: Market, over: Record<string, unknown> = {}) =>
  h.as({ authorization: ADMIN() }).post('/shkeeper/payout', {
    purchaseRequestId: m.requestId,
    sellerOfferId: m.offerId,
    buyerId: BUYER,
    sellerId: 'seller-1',
    amount: '25.5',
    recipientAddress: SELLER1_WALLET,
    ...over,
  });
/** Everything that left for the seller and the buyer: escrow transfers and hot-wallet transfers. */
const escrowSend = async (to: string, amount: string) => {
  const hash = await chain.transfer(usdt.address, escrowKey, to, units(amount));
  await chain.mine(3);
  return hash;
};

describe('hot-wallet payout against release / refund / SHKeeper payout', () => {
  it('while a hot-wallet payout is broadcast with its receipt unknown, no release, refund or payout of that escrow can settle', async () => {
    const m = await funded();
    const ctx = h.server.ctx;
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
    const first = await impatient.pay({ userId: 'ops', isAdmin: true } as never, {
      purchaseRequestId: m.requestId,
      receiverWalletAddress: SELLER1_WALLET,
      amount: '25.5',
      currency: 'USDT',
      network: 'bsc',
    });
    expect(first.data.status).toBe('processing');
    // The admin, not seeing the payout yet, releases from the escrow wallet as well and confirms it
    // (confirm with nothing prepared opens and settles in one go)…
    const rel = await escrowSend(SELLER1_WALLET, '25.5');
    const c1 = await confirm(m.escrowId, 'release', rel);
    // …or refunds the buyer and confirms that.
    const ref = await escrowSend(buyer.address, '25.5');
    const c2 = await confirm(m.escrowId, 'refund', ref);
    const sp = await shkeeperPayout(m);
    expect([c1.status, c2.status, sp.status], `${c1.text} / ${c2.text} / ${sp.text}`).toEqual([409, 409, 409]);
    // The hot-wallet transfer was mined (automine): the next look settles it, once.
    await (h.server.ctx.monitors.get('hotWalletReceipts') as IntervalMonitor | undefined)?.tick();
    const again = await adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '25.5', force: true });
    expect(again.status).toBe(409);
    const p = await paymentOf(h, m.escrowId);
    expect(p.status).toBe('released');
    expect([...ledgerOf(p).disbursements].filter((d) => d.state === 'settled')).toHaveLength(1);
  });

  it('a prepared release blocks the hot-wallet payout; once released, no payout even forced, to another wallet, with a reason', async () => {
    const m = await funded();
    const prep = await prepare(m.escrowId, 'release');
    expect(prep.status, prep.text).toBe(200);
    const blocked = await adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '25.5' });
    expect(blocked.status, blocked.text).toBe(409);
    expect(blocked.body.error.code).toBe('disbursement_in_flight');
    const tx = await escrowKey.sendTransaction(prep.body.data.payload);
    await tx.wait();
    await chain.mine(3);
    expect((await confirm(m.escrowId, 'release', tx.hash)).status).toBe(200);
    const hotBefore = await chain.balanceOf(usdt.address, hot.address);
    const before = await snapshot(h.store);
    for (const body of [
      { receiverWalletAddress: SELLER1_WALLET, amount: '25.5', force: true },
      { receiverWalletAddress: newAddress(), amount: '1', force: true, overrideReason: 'seller asked again' },
    ]) {
      const r = await adminPayout({ purchaseRequestId: m.requestId, ...body });
      expect(r.status, r.text).toBe(409);
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(hotBefore);
  });

  it('after a real refund (prepared, signed, confirmed) no hot-wallet payout pays the seller', async () => {
    const m = await funded();
    const prep = await prepare(m.escrowId, 'refund');
    expect(prep.status, prep.text).toBe(200);
    const tx = await escrowKey.sendTransaction(prep.body.data.payload);
    await tx.wait();
    await chain.mine(3);
    expect((await confirm(m.escrowId, 'refund', tx.hash)).status).toBe(200);
    const hotBefore = await chain.balanceOf(usdt.address, hot.address);
    const r = await adminPayout({
      purchaseRequestId: m.requestId,
      receiverWalletAddress: SELLER1_WALLET,
      amount: '25.5',
      force: true,
      overrideReason: 'buyer changed mind',
    });
    expect(r.status, r.text).toBe(409);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(hotBefore);
  });

  it('a hot-wallet payout racing a SHKeeper payout and a release prepare: exactly one holds the escrow', async () => {
    const m = await funded();
    const rs = await Promise.all([
      adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '25.5' }),
      shkeeperPayout(m),
      prepare(m.escrowId, 'release'),
      prepare(m.escrowId, 'refund'),
      adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '25.5', force: true }),
    ]);
    expect(rs.filter((r) => r.status === 200).length, JSON.stringify(rs.map((r) => [r.status, r.body?.error?.code]))).toBe(1);
    const p = await paymentOf(h, m.escrowId);
    const l = ledgerOf(p);
    expect(l.disbursements.filter((d) => d.state === 'settled').length + (l.inFlight ? 1 : 0)).toBe(1);
  });
});

describe('an admin with a typo', () => {
  it('more than the escrow holds is refused even forced, to another wallet, with a reason; nothing recorded or sent', async () => {
    const m = await funded();
    const hotBefore = await chain.balanceOf(usdt.address, hot.address);
    const before = await snapshot(h.store);
    for (const body of [
      { receiverWalletAddress: SELLER1_WALLET, amount: '255', force: true },
      { receiverWalletAddress: SELLER1_WALLET, amount: '25.500000000000000001', force: true },
      { receiverWalletAddress: newAddress(), amount: '25.51', force: true, overrideReason: 'typo' },
      { receiverWalletAddress: newAddress(), amount: '25.5', force: true },
      { receiverWalletAddress: buyer.address, amount: '25.5' },
      { receiverWalletAddress: SELLER1_WALLET, amount: '25.5', currency: 'USDC' },
    ]) {
      const r = await adminPayout({ purchaseRequestId: m.requestId, ...body });
      expect(r.status, `${JSON.stringify(body)} → ${r.text}`).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(hotBefore);
  });

  it("the second offer's seller (same request) is not payable without an override reason", async () => {
    const m = await funded();
    const r = await adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER2_WALLET, amount: '25.5' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('recipient_not_allowed');
  });

  it('a payout of less than the escrow (2.55 typed for 25.5) is refused: nothing leaves, nothing is stranded', async () => {
    const m = await funded();
    const before = await paymentOf(h, m.escrowId);
    const r = await adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '2.55' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'disbursement_amount_mismatch', details: { expected: '25.5', requested: '2.55' } });
    const p = await paymentOf(h, m.escrowId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded', revision: before.revision });
    expect(available(ledgerOf(p))).toBe('25.5');
    // The right amount still pays it in full.
    const ok = await adminPayout({ purchaseRequestId: m.requestId, receiverWalletAddress: SELLER1_WALLET, amount: '25.5' });
    expect(ok.status, ok.text).toBe(200);
  });
});
