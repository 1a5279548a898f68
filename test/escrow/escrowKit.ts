import { randomBytes } from 'node:crypto';
import { Interface, parseUnits, Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { UnsignedTokenTransfer } from '../../src/core/chain/chainTypes.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import { startLocalChain } from '../helpers/chain/localChain.js';
import { purchaseRequest, sellerOffer, snapshot } from '../helpers/fixtures.js';
import { paymentOf, QUIET_MONITORS, startTestWorld, type ApiClient, type ListeningWorld } from '../helpers/testWorld.js';
import { expectLedgersSound, fundEscrow } from './ledgerKit.js';

/**
 * Shared steps of the escrow release/refund tests: a real server (payin harness) on a real local
 * chain whose token is the configured USDT, with the escrow being a local-chain account whose key
 * the test holds, so the admin's side (sign and broadcast the prepared payload) is done for real.
 */

export const ADMIN = 'admin-1';
export const BUYER = 'buyer-1';
export const SELLER = 'seller-1';
export const AMOUNT = '25.5';
export const units = (v: string) => parseUnits(v, 18);
export const newAddress = () => Wallet.createRandom().address;
export const randomHash = () => `0x${randomBytes(32).toString('hex')}`;
export { QUIET_MONITORS };
const ERC20 = new Interface(['function transfer(address to, uint256 amount) returns (bool)']);
export const transferData = (to: string, amount: bigint) => ERC20.encodeFunctionData('transfer', [to, amount]);

export interface EscrowEnv {
  chain: LocalChain;
  usdt: DeployedToken;
  /** The escrow account: ESCROW_RECEIVER_ADDRESS, holding plenty of the token. */
  escrow: Wallet;
  /** An account that is not escrow, holding the token too. */
  outsider: Wallet;
  h: ListeningWorld;
  stop(): Promise<void>;
}

/**
 * The suite's escrow environment, started once for the file and stopped after it, with the
 * ledger invariants checked after every test (`expectLedgersSound`). `fundBuyer` mints the
 * buyer's wallet (account 1) a million tokens too. The returned object reads through to the
 * started environment, so it can be used from any test.
 */
export function useEscrowEnv(opts: { fundBuyer?: boolean } = {}): EscrowEnv {
  let env: EscrowEnv | undefined;
  beforeAll(async () => {
    env = await startEscrowEnv();
    if (opts.fundBuyer) await env.usdt.mint(env.chain.accounts[1]!.address, units('1000000'));
  });
  afterAll(async () => {
    await env?.stop();
  });
  afterEach(async () => {
    await expectLedgersSound(env!.h.store);
  });
  return new Proxy({} as EscrowEnv, {
    get: (_target, key) => {
      if (!env) throw new Error('the escrow environment is used before beforeAll started it');
      return env[key as keyof EscrowEnv];
    },
  });
}

export async function startEscrowEnv(): Promise<EscrowEnv> {
  const chain = await startLocalChain();
  try {
    const escrow = chain.accounts[2]!;
    const outsider = chain.accounts[3]!;
    const usdt = await chain.deployToken({
      symbol: 'USDT',
      mint: [
        { to: escrow.address, amount: units('1000000') },
        { to: outsider.address, amount: units('1000000') },
      ],
    });
    const h = await startTestWorld({
      listen: true,
      shkeeper: true,
      chain,
      tokenAddress: usdt.address,
      env: { ...QUIET_MONITORS, ESCROW_RECEIVER_ADDRESS: escrow.address },
    });
    return {
      chain,
      usdt,
      escrow,
      outsider,
      h,
      stop: async () => {
        await h.stop();
        await chain.stop();
      },
    };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

/** Who a request is sent as: 'admin' (admin-1), 'anonymous', or a user id. */
export type As = 'anonymous' | 'admin' | string;

/** The world's client for `as`. */
export const by = (h: ListeningWorld, as: As = 'admin'): ApiClient => (as === 'admin' ? h.admin : as === 'anonymous' ? h.anonymous : h.as(as));

export const prepare = (h: ListeningWorld, id: string, kind: 'release' | 'refund', as: As = 'admin') => by(h, as).post(`/shkeeper/${id}/${kind}`);
export const confirm = (h: ListeningWorld, id: string, kind: 'release' | 'refund', txHash: unknown, as: As = 'admin') =>
  by(h, as).post(`/shkeeper/${id}/${kind}/confirm`, txHash === undefined ? {} : { txHash });
export const cancelPrepared = (h: ListeningWorld, id: string, as: As = 'admin') => by(h, as).delete(`/shkeeper/${id}/prepared`);

export interface Funded {
  paymentId: string;
  requestId: string;
  offerId: string;
  /** The offer's wallet: where a release goes. */
  seller: string;
  /** The escrow's proven payer (the sender of its funding transfer), if any: where a refund goes. */
  payer: string | null;
  /** The purchase request's buyer wallet, if any. */
  buyerWallet: string | null;
  payInHash: string;
}

/**
 * A purchase request with an accepted offer and a SHKeeper payment whose escrow is funded by one
 * credit from `payer` through the coordinator (the pay-in itself is tested elsewhere); or left in
 * `status` (pending, processing, failed, or released / refunded by a settled disbursement).
 */
export async function fundedPayment(
  h: ListeningWorld,
  opts: { seller?: string | null; payer?: string | null; buyerWallet?: string | null; amount?: string; status?: PaymentRecord['status'] } = {},
): Promise<Funded> {
  const seller = opts.seller === undefined ? newAddress() : opts.seller;
  const payer = opts.payer === undefined ? newAddress() : opts.payer;
  const buyerWallet = opts.buyerWallet === undefined ? null : opts.buyerWallet;
  const request = purchaseRequest({ buyerId: BUYER, status: 'payment_processing', buyerWalletAddress: buyerWallet });
  const offer = sellerOffer({ purchaseRequestId: request.id, sellerId: SELLER, amount: opts.amount ?? AMOUNT, walletAddress: seller, status: 'accepted' });
  await h.store.purchaseRequests.insertOne(request);
  await h.store.sellerOffers.insertOne(offer);
  const payInHash = randomHash();
  const p = await fundEscrow(h, {
    requestId: request.id,
    offerId: offer.id,
    buyerId: BUYER,
    sellerId: SELLER,
    amount: opts.amount ?? AMOUNT,
    payer,
    receiver: h.config.escrow.receiverAddress!,
    txHash: payInHash,
    status: opts.status,
  });
  return { paymentId: p.id, requestId: request.id, offerId: offer.id, seller: seller ?? '', payer, buyerWallet, payInHash };
}

export { paymentOf };

/** Runs `fn` (a refused request) and checks the store and the event log did not change. */
export async function expectNothingChanged<T>(h: ListeningWorld, fn: () => PromiseLike<T>): Promise<T> {
  const before = await snapshot(h.store);
  const events = h.events.emitted.length;
  const result = await fn();
  expect(await snapshot(h.store)).toEqual(before);
  expect(h.events.emitted.slice(events)).toEqual([]);
  return result;
}

/** The EIP-1193 transaction a prepare answers (the API's own type). */
export type PreparedPayload = UnsignedTokenTransfer;

/** Signs and broadcasts the prepared payload with the escrow key (an ethers Wallet), exactly as returned. */
export async function signAndSend(env: EscrowEnv, payload: PreparedPayload) {
  const tx = await env.escrow.sendTransaction(payload);
  const receipt = await tx.wait();
  expect(receipt?.status).toBe(1);
  return tx.hash;
}

/** Events about this purchase request. */
export function eventsOf(h: ListeningWorld, requestId: string) {
  return h.events.emitted.filter((e) => (e.payload as { purchaseRequestId?: string }).purchaseRequestId === requestId);
}
