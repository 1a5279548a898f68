import { parseUnits, Wallet, type HDNodeWallet } from 'ethers';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { startLocalChain, type DeployedToken, type LocalChain } from './chain/localChain.js';
import { newObjectId } from '../../src/platform/ids.js';
import { payment as fixturePayment, seedMarketplace } from './fixtures.js';
import { dataOf, paymentOf, QUIET_MONITORS, startTestWorld, type ListeningWorld, type TestWorldOptions } from './testWorld.js';

/**
 * The test world behind a real server (fake SHKeeper, a real local chain, hot wallet) with
 * monitors kept quiet, plus the request and lookup steps the Web3 and legacy tests share.
 */

export type Web3Harness = ListeningWorld;
export { paymentOf, QUIET_MONITORS };

export function startWeb3Harness(
  opts: Pick<TestWorldOptions, 'chain' | 'tokenAddress' | 'rpcUrl' | 'captureLogs'> & { env?: Record<string, string> } = {},
): Promise<Web3Harness> {
  return startTestWorld({ listen: true, shkeeper: true, ...opts, env: { ...QUIET_MONITORS, ...opts.env } });
}

// ── shared steps of the Web3 tests ─────────────────────────────────────────────────────────────

export const BUYER = 'buyer-1';
export const units = (v: string) => parseUnits(v, 18);
export const newAddress = () => Wallet.createRandom().address;

/**
 * A local chain's token set up as the configured USDT, with a buyer wallet holding plenty of it;
 * the escrow receiver is a local account (so it can hold and move tokens too).
 */
export async function deployUsdt(chain: LocalChain): Promise<{ usdt: DeployedToken; other: DeployedToken; buyerWallet: Wallet; receiver: Wallet }> {
  const receiver = chain.accounts[2]!;
  const buyerWallet = chain.accounts[1]!;
  const usdt = await chain.deployToken({ symbol: 'USDT', mint: [{ to: buyerWallet.address, amount: units('1000000') }] });
  const other = await chain.deployToken({ symbol: 'FAKE', mint: [{ to: buyerWallet.address, amount: units('1000000') }] });
  return { usdt, other, buyerWallet, receiver };
}

export interface Market {
  requestId: string;
  offerId: string;
  otherOfferId: string;
  /** seller-1's offer amount */
  amount: string;
}

/** A fresh purchase request by BUYER with offers from seller-1 (25.5) and seller-2 (30). */
export async function market(h: Web3Harness, buyerId = BUYER): Promise<Market> {
  const { request, offer, otherOffer } = await seedMarketplace(h.store, { buyerId });
  return { requestId: request.id, offerId: offer.id, otherOfferId: otherOffer.id, amount: offer.amount };
}

export function saveBody(m: Market, over: Record<string, unknown> = {}) {
  return { purchaseRequestId: m.requestId, buyerId: BUYER, sellerId: 'seller-1', amount: m.amount, ...over };
}

/** Events announcing anything about this purchase request. */
export function eventsFor(h: Web3Harness, requestId: string) {
  return h.events.emitted.filter((e) => (e.payload as { purchaseRequestId?: string }).purchaseRequestId === requestId);
}

/** Sends `amount` of `token` from the buyer and mines until the transfer has `confirmations`. */
export async function pay(chain: LocalChain, token: string, from: Wallet, to: string, amount: bigint, confirmations: number): Promise<string> {
  const hash = await chain.transfer(token, from, to, amount);
  if (confirmations > 1) await chain.mine(confirmations - 1);
  return hash;
}

/**
 * The payer-proof flow a front end runs: ask for the challenge of (request, offer) for `wallet`,
 * sign it (EIP-712, as `eth_signTypedData_v4` would) and return what save/verify accept.
 */
export async function payerProof(h: Web3Harness, m: { requestId: string; offerId: string }, wallet: Wallet | HDNodeWallet) {
  const res = await h.anonymous.post('/decentralized/payer-proof/challenge', {
    purchaseRequestId: m.requestId,
    sellerOfferId: m.offerId,
    walletAddress: wallet.address,
  });
  if (res.status !== 200) throw new Error(`challenge refused: ${res.status} ${res.text}`);
  const { domain, types, message } = dataOf(res);
  const signature = await wallet.signTypedData(domain, types, message);
  return { message, signature };
}

/** Saves (or finds) the payment for seller-1's offer with `wallet` proven for it; returns its id. */
export async function provenPayment(h: Web3Harness, m: Market, wallet: Wallet | HDNodeWallet): Promise<string> {
  const res = await h.anonymous.post('/decentralized/save', saveBody(m, { payerProof: await payerProof(h, m, wallet) }));
  if (res.status !== 200) throw new Error(`save refused: ${res.status} ${res.text}`);
  return res.body.data.id as string;
}

/** A 32-byte hash no transaction has. */
export function bogusHash(): string {
  return Wallet.createRandom().privateKey.toLowerCase();
}

/**
 * Completed exactly once with exactly one set of side effects: offer accepted, sibling rejected,
 * request moved to payment_processing, and one announcement of each.
 */
export async function expectCompletedOnce(h: Web3Harness, m: Market, paymentId: string, opts: { txHash?: string } = {}) {
  const p = await paymentOf(h, paymentId);
  expect(p.status).toBe('completed');
  expect(p.escrowState).toBe('funded');
  if (opts.txHash) expect(p.transactionHash).toBe(opts.txHash.toLowerCase());
  expect(p.history.filter((e) => e.toStatus === 'completed')).toHaveLength(1);
  expect(p.history.filter((e) => e.toStatus === 'completed')[0]!.actor).toBe('chain');
  expect((await h.store.sellerOffers.findById(m.offerId))?.status).toBe('accepted');
  expect((await h.store.sellerOffers.findById(m.otherOfferId))?.status).toBe('rejected');
  expect((await h.store.purchaseRequests.findById(m.requestId))?.status).toBe('payment_processing');

  const ev = eventsFor(h, m.requestId);
  expect(ev.filter((e) => e.event === 'purchase-request-update')).toEqual([
    {
      target: { kind: 'request', id: m.requestId },
      event: 'purchase-request-update',
      payload: { purchaseRequestId: m.requestId, status: 'payment_processing', type: 'payment_completed', paymentId },
    },
  ]);
  const offerUpdates = (seller: string) =>
    ev.filter((e) => e.event === 'seller-offer-update' && e.target.kind === 'seller' && e.target.id === seller).map((e) => e.payload);
  expect(offerUpdates('seller-1')).toEqual([{ sellerOfferId: m.offerId, purchaseRequestId: m.requestId, status: 'accepted' }]);
  expect(offerUpdates('seller-2')).toEqual([{ sellerOfferId: m.otherOfferId, purchaseRequestId: m.requestId, status: 'rejected' }]);
  expect(ev.filter((e) => e.event === 'seller-offer-update' && e.target.kind === 'request')).toHaveLength(2);
  const completed = ev.filter((e) => e.event === 'payment-updated' && (e.payload as { status: string }).status === 'completed');
  expect(completed.map((e) => e.target)).toEqual([
    { kind: 'request', id: m.requestId },
    { kind: 'user', id: BUYER },
    { kind: 'seller', id: 'seller-1' },
  ]);
}

/** Nothing of completion happened for this request: offers pending, request open, no such announcements. */
export async function expectNotCompleted(h: Web3Harness, m: Market, paymentId?: string) {
  if (paymentId) {
    const p = await paymentOf(h, paymentId);
    expect(p.status).not.toBe('completed');
    expect(p.history.some((e) => e.toStatus === 'completed')).toBe(false);
    expect(p.escrowState).toBe('unfunded');
  }
  const payments = await h.store.payments.find({ purchaseRequestId: m.requestId });
  expect(payments.filter((p) => p.status === 'completed' || p.escrowState !== 'unfunded')).toEqual([]);
  expect((await h.store.sellerOffers.findById(m.offerId))?.status).toBe('pending');
  expect((await h.store.sellerOffers.findById(m.otherOfferId))?.status).toBe('pending');
  expect((await h.store.purchaseRequests.findById(m.requestId))?.status).toBe('open');
  const ev = eventsFor(h, m.requestId);
  expect(ev.filter((e) => e.event === 'purchase-request-update' || e.event === 'seller-offer-update')).toEqual([]);
  expect(ev.filter((e) => e.event === 'payment-updated' && (e.payload as { status: string }).status === 'completed')).toEqual([]);
}

/**
 * A decentralized payment for seller-1's offer as /decentralized/save records it, with `hash`
 * already claimed (`payment.claim`) and not yet verified (as after a save whose verification hit
 * an RPC error). No wallet is proven for it: see `seedProven`.
 */
export async function seedClaim(h: Web3Harness, m: Market, hash: string | null, over: Partial<PaymentRecord> = {}): Promise<PaymentRecord> {
  const id = newObjectId();
  const now = new Date();
  return h.store.payments.insertOne(
    fixturePayment({
      id,
      provider: 'decentralized',
      purchaseRequestId: m.requestId,
      sellerOfferId: m.offerId,
      buyerId: BUYER,
      sellerId: 'seller-1',
      amount: { amount: m.amount, currency: 'USDT' },
      // A claimed hash is only a claim now (issue 10): `transactionHash` is set by a verified credit alone.
      transactionHash: null,
      claim: hash ? { txHash: hash.toLowerCase(), from: null, nonce: null, source: 'decentralized_save', actor: 'anonymous', at: now } : null,
      externalId: `DEPAY_${id}`,
      liveOfferKey: m.offerId,
      history: [
        {
          fromStatus: null,
          toStatus: 'pending',
          fromEscrow: null,
          toEscrow: 'unfunded',
          source: 'decentralized_save',
          actor: 'anonymous',
          at: now,
          reason: null,
        },
      ],
      createdAt: now,
      updatedAt: now,
      ...over,
    }),
  );
}

/**
 * The payer proves `wallet` for an existing payment (`POST /decentralized/payer-proof`): transfers
 * from it mined after this call credit the payment. Returns the payment as stored.
 */
export async function proveWallet(
  h: Web3Harness,
  m: { requestId: string; offerId: string },
  paymentId: string,
  wallet: Wallet | HDNodeWallet,
): Promise<PaymentRecord> {
  const res = await h.anonymous.post('/decentralized/payer-proof', { paymentId, payerProof: await payerProof(h, m, wallet) });
  if (res.status !== 200) throw new Error(`payer proof refused: ${res.status} ${res.text}`);
  return paymentOf(h, paymentId);
}

/**
 * `seedClaim` with `wallet` proven for the payment through the route (prove first, then pay):
 * a transfer from `wallet` mined after this call is the payment's own.
 */
export async function seedProven(
  h: Web3Harness,
  m: Market,
  wallet: Wallet | HDNodeWallet,
  hash: string | null = null,
  over: Partial<PaymentRecord> = {},
): Promise<PaymentRecord> {
  const p = await seedClaim(h, m, hash, over);
  return proveWallet(h, m, p.id, wallet);
}

/** Records `hash` as the payment's unverified claim, as a save whose verification hit an RPC error leaves it. */
export async function attachClaim(h: Web3Harness, paymentId: string, hash: string): Promise<PaymentRecord> {
  const claim = { txHash: hash.toLowerCase(), from: null, nonce: null, source: 'decentralized_save', actor: 'anonymous', at: new Date() };
  const p = await h.store.payments.updateOne({ id: paymentId }, { $set: { claim }, $inc: { revision: 1 } });
  if (!p) throw new Error(`payment ${paymentId} is gone`);
  return p;
}

/**
 * The setup most Web3 suites share: a local chain, USDT (and another token) deployed, and a
 * harness whose escrow receiver is `receiver`. Stop it with `stopWeb3Suite`.
 */
export async function startWeb3Suite(opts: { captureLogs?: boolean } = {}) {
  const chain = await startLocalChain();
  const tokens = await deployUsdt(chain);
  const h = await startWeb3Harness({
    chain,
    tokenAddress: tokens.usdt.address,
    captureLogs: opts.captureLogs,
    env: { ESCROW_RECEIVER_ADDRESS: tokens.receiver.address },
  });
  return { chain, h, ...tokens };
}

export async function stopWeb3Suite(s: { h?: Web3Harness; chain?: LocalChain }): Promise<void> {
  await s.h?.stop();
  await s.chain?.stop();
}

export type Web3Suite = Awaited<ReturnType<typeof startWeb3Suite>> & {
  /** `POST /decentralized/save` as an anonymous caller. */
  save: (body: unknown) => ReturnType<Web3Harness['anonymous']['post']>;
  /** `POST /decentralized/verify/:id` as an anonymous caller. */
  verify: (id: string, body?: unknown) => ReturnType<Web3Harness['anonymous']['post']>;
};

/**
 * Registers the `startWeb3Suite` set-up for the calling file (beforeAll/afterAll) and, with
 * `ledgerCheck`, an afterEach that finds no ledger problem in any stored payment. The returned
 * object's fields are valid inside hooks and tests (not at module load), as with `useEscrowEnv`.
 */
export function useWeb3Suite(opts: { ledgerCheck?: boolean; captureLogs?: boolean } = {}): Web3Suite {
  let suite: Web3Suite | undefined;
  beforeAll(async () => {
    const started = await startWeb3Suite({ captureLogs: opts.captureLogs });
    suite = {
      ...started,
      save: (body) => started.h.anonymous.post('/decentralized/save', body),
      verify: (id, body) => started.h.anonymous.post(`/decentralized/verify/${id}`, body),
    };
  });
  afterAll(() => stopWeb3Suite({ h: suite?.h, chain: suite?.chain }));
  if (opts.ledgerCheck) {
    afterEach(async () => {
      for (const p of await suite!.h.store.payments.find({})) expect(ledgerProblems(p), p.id).toEqual([]);
    });
  }
  return new Proxy({} as Web3Suite, {
    get: (_target, key) => {
      if (!suite) throw new Error('the Web3 suite is used before beforeAll started it');
      return suite[key as keyof Web3Suite];
    },
  });
}
