import fc from 'fast-check';
import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import { startLocalChain } from '../helpers/chain/localChain.js';
import { purchaseRequest, sellerOffer } from '../helpers/fixtures.js';
import { paymentOf, deployUsdt, newAddress, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';
import type { ApiResponse } from '../helpers/testWorld.js';
import { disbursementsOf, expectLedgersSound, fundEscrow } from './ledgerKit.js';

/**
 * Invariant 4 as a property: release (confirm), refund (confirm), SHKeeper payout and hot-wallet
 * payout are disbursements of one escrow. For every pair of them fired at once on one funded
 * escrow — each backed by what would make it succeed alone (a real, deep-enough escrow transfer
 * for a confirm; SHKeeper and the hot wallet ready to pay) — at most one succeeds, and afterwards
 * every way out is refused; a SHKeeper payout that won settles the escrow on SHKeeper's evidence.
 * After every test, every ledger in the store is sound: disbursed + in flight ≤ received.
 */

const PRICE = '25.5';
const PATHS = ['release', 'refund', 'shkeeper', 'hot_wallet'] as const;
type Path = (typeof PATHS)[number];

let chain: LocalChain;
let usdt: DeployedToken;
let buyer: Wallet;
let escrowAccount: Wallet;
let hot: Wallet;
let h: Web3Harness;

beforeAll(async () => {
  chain = await startLocalChain();
  ({ usdt, buyerWallet: buyer, receiver: escrowAccount } = await deployUsdt(chain));
  hot = chain.accounts[3]!;
  await usdt.mint(escrowAccount.address, units('1000000'));
  await usdt.mint(hot.address, units('1000000'));
  h = await startWeb3Harness({
    chain,
    tokenAddress: usdt.address,
    env: { ESCROW_RECEIVER_ADDRESS: escrowAccount.address, ADMIN_WALLET_PRIVATE_KEY: hot.privateKey, PAYOUT_RECONCILER_AFTER_MS: '0' },
  });
});
afterAll(async () => {
  await h?.stop();
  await chain?.stop();
});
afterEach(async () => {
  await expectLedgersSound(h.store);
});

interface Escrow {
  requestId: string;
  offerId: string;
  escrowId: string;
  /** The offer's wallet: where a release or payout goes. */
  seller: string;
}

/** A purchase request, its accepted offer (a fresh wallet), and an escrow funded by a real transfer from the buyer. */
async function fundedEscrow(): Promise<Escrow> {
  const seller = newAddress();
  const request = purchaseRequest({ buyerId: 'buyer-1', status: 'payment_processing' });
  const offer = sellerOffer({ purchaseRequestId: request.id, sellerId: 'seller-1', amount: PRICE, walletAddress: seller, status: 'accepted' });
  await h.store.purchaseRequests.insertOne(request);
  await h.store.sellerOffers.insertOne(offer);
  const txHash = await chain.transfer(usdt.address, buyer, escrowAccount.address, units(PRICE));
  const p = await fundEscrow(h, {
    requestId: request.id,
    offerId: offer.id,
    buyerId: 'buyer-1',
    sellerId: 'seller-1',
    amount: PRICE,
    payer: buyer.address,
    receiver: escrowAccount.address,
    txHash,
    provider: 'decentralized',
  });
  return { requestId: request.id, offerId: offer.id, escrowId: p.id, seller };
}

const ADMIN = () => h.bearer('admin-1', { admin: true });

/** What it takes for `path` to succeed alone: for a confirm, its own escrow transfer (mined later). */
async function ready(e: Escrow, path: Path): Promise<() => Promise<ApiResponse>> {
  switch (path) {
    case 'release':
    case 'refund': {
      const to = path === 'release' ? e.seller : buyer.address;
      const hash = await chain.transfer(usdt.address, escrowAccount, to, units(PRICE));
      return () => h.as({ authorization: ADMIN() }).post(`/shkeeper/${e.escrowId}/${path}/confirm`, { txHash: hash });
    }
    case 'shkeeper':
      return () =>
        h.as({ authorization: ADMIN() }).post('/shkeeper/payout', {
          purchaseRequestId: e.requestId,
          sellerOfferId: e.offerId,
          buyerId: 'buyer-1',
          sellerId: 'seller-1',
          amount: PRICE,
          recipientAddress: e.seller,
        });
    case 'hot_wallet':
      return () =>
        h
          .as({ authorization: ADMIN() })
          .post('/decentralized/admin-payout', { purchaseRequestId: e.requestId, receiverWalletAddress: e.seller, amount: PRICE });
  }
}

/** Every way out, tried once more: each refused with a 409, nothing sent. */
async function expectEveryWayOutRefused(e: Escrow, why: string) {
  const attempts = [];
  for (const path of PATHS) attempts.push({ path, send: await ready(e, path) });
  await chain.mine(3);
  const hotBefore = await chain.balanceOf(usdt.address, hot.address);
  const shkeeperCalls = h.fake.calls('payout');
  for (const a of attempts) {
    const r = await a.send();
    expect(r.status, `${why}: ${a.path} → ${r.text}`).toBe(409);
    expect(['disbursement_in_flight', 'escrow_not_funded'], `${why}: ${a.path}`).toContain(r.body.error.code);
  }
  expect(await chain.balanceOf(usdt.address, hot.address)).toBe(hotBefore);
  expect(h.fake.calls('payout')).toBe(shkeeperCalls);
}

const rounds: { pair: [Path, Path]; winner: Path | null }[] = [];

describe('every pair of ways out of one escrow, fired at once', () => {
  it('at most one succeeds, and every other is refused afterwards', async () => {
    const allPairs = PATHS.flatMap((a) => PATHS.map((b) => [a, b] as [Path, Path]));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), fc.constantFrom(...PATHS), async (a, b) => {
        const e = await fundedEscrow();
        const sendA = await ready(e, a);
        const sendB = await ready(e, b);
        await chain.mine(3);
        const hotBefore = await chain.balanceOf(usdt.address, hot.address);

        const answers = await Promise.all([sendA(), sendB()]);
        const text = `${a} → ${answers[0]!.status} ${answers[0]!.text} / ${b} → ${answers[1]!.status} ${answers[1]!.text}`;
        const won = answers.flatMap((r, i) => (r.status === 200 ? [[a, b][i]!] : []));
        expect(won.length, text).toBeLessThanOrEqual(1);
        // Each one alone would have gone through: exactly one does.
        expect(won.length, text).toBe(1);
        for (const r of answers.filter((x) => x.status !== 200)) {
          expect(r.status, text).toBe(409);
          expect(['disbursement_in_flight', 'escrow_not_funded'], text).toContain(r.body.error.code);
        }
        const winner = won[0]!;
        rounds.push({ pair: [a, b], winner });

        // The escrow holds exactly the winner's disbursement: settled, or (a SHKeeper payout) in flight.
        const ds = (await disbursementsOf(h, e.escrowId)).filter((d) => d.state !== 'failed' && d.state !== 'withdrawn');
        expect(ds, text).toHaveLength(1);
        expect(ds[0]!.method, text).toBe({ release: 'escrow_tx', refund: 'escrow_tx', shkeeper: 'shkeeper', hot_wallet: 'hot_wallet' }[winner]);
        expect(ds[0]!.state, text).toBe(winner === 'shkeeper' ? 'submitted' : 'settled');
        expect(hotBefore - (await chain.balanceOf(usdt.address, hot.address)), text).toBe(winner === 'hot_wallet' ? units(PRICE) : 0n);
        await expectLedgersSound(h.store);

        await expectEveryWayOutRefused(e, `after ${winner} won`);
        if (winner === 'shkeeper') {
          // SHKeeper's evidence settles it: the escrow is released, and still nothing else leaves.
          const payout = (await h.store.payments.find({ escrowPaymentId: e.escrowId, direction: 'out', status: 'processing' }))[0]!;
          h.fake.completePayoutTask(payout.providerTaskId!, { txids: [`0x${e.escrowId.padEnd(64, '0')}`] });
          const polled = await h.as({ authorization: ADMIN() }).get(`/shkeeper/payout/status/${payout.providerTaskId}`);
          expect(polled.body.data.payoutStatus, polled.text).toBe('completed');
          await expectEveryWayOutRefused(e, 'after the SHKeeper payout settled');
        }
        const escrow = await paymentOf(h, e.escrowId);
        expect(escrow.status).toBe(winner === 'refund' ? 'refunded' : 'released');
        expect(escrow.escrow!.disbursed).toBe(PRICE);
        await expectLedgersSound(h.store);
      }),
      // Every ordered pair first (the same path twice too), then random ones.
      { numRuns: 40, examples: allPairs, endOnFailure: true },
    );
    // Every path won somewhere, and every pair was tried.
    expect(new Set(rounds.map((r) => r.winner))).toEqual(new Set(PATHS));
    expect(new Set(rounds.map((r) => r.pair.join('+'))).size).toBe(allPairs.length);
  }, 600_000);
});
