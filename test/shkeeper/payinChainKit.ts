import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { parseUnits, Wallet } from 'ethers';
import { afterAll, beforeAll, expect } from 'vitest';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { paymentOf, type ListeningWorld } from '../helpers/testWorld.js';

/**
 * Shared steps of the SHKeeper pay-in end-to-end tests (confirm-transaction, settlement race,
 * monitors): a real server, the fake SHKeeper and a real local chain with a real ERC-20 as USDT.
 */

export const BUYER = 'buyer-1';
export const units = (v: string) => parseUnits(v, 18);
export const newAddress = () => Wallet.createRandom().address;
export { QUIET_MONITORS } from '../helpers/testWorld.js';

export interface ChainSetup {
  chain: LocalChain;
  usdt: DeployedToken;
  buyerWallet: Wallet;
}

/** The configured token, with a buyer wallet holding plenty of it. */
export async function deployUsdt(chain: LocalChain): Promise<ChainSetup> {
  const buyerWallet = chain.accounts[1]!;
  const usdt = await chain.deployToken({ symbol: 'USDT', mint: [{ to: buyerWallet.address, amount: units('1000000') }] });
  return { chain, usdt, buyerWallet };
}

export interface PayinChain {
  chain: LocalChain;
  setup: ChainSetup;
  /** A second token (OTHER) the buyer also holds: a transfer of it pays nothing. */
  otherToken: DeployedToken;
  /** The buyer sends `amount` USDT to `to` (mined at once, not waited for further). */
  pay: (to: string, amount?: string) => Promise<string>;
}

/**
 * Registers a local chain with USDT and OTHER deployed for the calling file (beforeAll/afterAll).
 * The returned object's fields are valid inside hooks and tests (not at module load), as with
 * `useEscrowEnv`; each test starts its own server against that chain.
 */
export function usePayinChain(): PayinChain {
  let env: PayinChain | undefined;
  let chain: LocalChain | undefined;
  beforeAll(async () => {
    const c = (chain = await startLocalChain());
    const setup = await deployUsdt(c);
    const otherToken = await c.deployToken({ symbol: 'OTHER', mint: [{ to: setup.buyerWallet.address, amount: units('1000') }] });
    env = { chain: c, setup, otherToken, pay: (to, amount = '25.5') => c.transfer(setup.usdt.address, setup.buyerWallet, to, units(amount)) };
  });
  afterAll(async () => {
    await chain?.stop();
  });
  return new Proxy({} as PayinChain, {
    get: (_target, key) => {
      if (!env) throw new Error('the pay-in chain is used before beforeAll started it');
      return env[key as keyof PayinChain];
    },
  });
}

export interface Intent {
  paymentId: string;
  externalId: string;
  payAddress: string;
  purchaseRequestId: string;
  offerId: string;
  otherOfferId: string;
}

/** A fresh purchase request (offers from seller-1 for 25.5 and seller-2 for 30) and the buyer's intent for seller-1's offer, paid to `payAddress`. */
export async function createIntent(h: ListeningWorld, payAddress = newAddress(), asset: { token?: string; network?: string } = {}): Promise<Intent> {
  const { request, offer, otherOffer } = await seedMarketplace(h.store, { buyerId: BUYER });
  h.fake.queueAddress(payAddress);
  const r = await h
    .as(BUYER)
    .post('/shkeeper/intents', { purchaseRequestId: request.id, sellerOfferId: offer.id, amount: offer.amount, sellerId: offer.sellerId });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.data.payAddress).toBe(payAddress);
  if (asset.network && asset.network.toLowerCase() !== 'bsc') {
    // Intents take only USDT on bsc now; a payment on another network can still exist (recorded
    // before that rule, or by hand), and every path must leave it alone.
    await h.store.payments.updateOne(
      { id: r.body.data.paymentId },
      { $set: { blockchain: { network: asset.network.toLowerCase(), token: (asset.token ?? 'USDT').toUpperCase() } } },
    );
  }
  return {
    paymentId: r.body.data.paymentId,
    externalId: r.body.data.externalId,
    payAddress,
    purchaseRequestId: request.id,
    offerId: offer.id,
    otherOfferId: otherOffer.id,
  };
}

export const confirmTx = (h: ListeningWorld, auth: string | undefined, body: unknown) =>
  h.as({ authorization: auth }).post('/shkeeper/confirm-transaction', body);

export const monitor = (h: ListeningWorld, name: 'walletMonitor' | 'autoWebhook') => h.monitor(name);

export { paymentOf };

/** Events announcing anything about this purchase request (its room, its sellers, its payment). */
export function eventsFor(h: ListeningWorld, intent: Intent) {
  return h.events.emitted.filter((e) => (e.payload as { purchaseRequestId?: string }).purchaseRequestId === intent.purchaseRequestId);
}

/**
 * The payment completed exactly once and everything that goes with completion happened exactly
 * once: offer accepted, sibling rejected, request moved, and one announcement of each.
 */
export async function expectCompletedOnce(h: ListeningWorld, intent: Intent, opts: { source?: string; txHash?: string } = {}) {
  const p = await paymentOf(h, intent.paymentId);
  expect(p.status).toBe('completed');
  expect(p.escrowState).toBe('funded');
  expect(p.liveOfferKey).toBe(intent.offerId);
  if (opts.txHash) expect(p.transactionHash).toBe(opts.txHash.toLowerCase());
  const completions = p.history.filter((e) => e.toStatus === 'completed');
  expect(completions).toHaveLength(1);
  if (opts.source) expect(completions[0]!.source).toBe(opts.source);

  expect((await h.store.sellerOffers.findById(intent.offerId))?.status).toBe('accepted');
  expect((await h.store.sellerOffers.findById(intent.otherOfferId))?.status).toBe('rejected');
  expect((await h.store.purchaseRequests.findById(intent.purchaseRequestId))?.status).toBe('payment_processing');

  const ev = eventsFor(h, intent);
  const requestUpdates = ev.filter((e) => e.event === 'purchase-request-update');
  expect(requestUpdates).toEqual([
    {
      target: { kind: 'request', id: intent.purchaseRequestId },
      event: 'purchase-request-update',
      payload: { purchaseRequestId: intent.purchaseRequestId, status: 'payment_processing', type: 'payment_completed', paymentId: intent.paymentId },
    },
  ]);
  const offerUpdates = (seller: string) =>
    ev.filter((e) => e.event === 'seller-offer-update' && e.target.kind === 'seller' && e.target.id === seller).map((e) => e.payload);
  expect(offerUpdates('seller-1')).toEqual([{ sellerOfferId: intent.offerId, purchaseRequestId: intent.purchaseRequestId, status: 'accepted' }]);
  expect(offerUpdates('seller-2')).toEqual([{ sellerOfferId: intent.otherOfferId, purchaseRequestId: intent.purchaseRequestId, status: 'rejected' }]);
  // The request room hears about both offers, once each.
  expect(ev.filter((e) => e.event === 'seller-offer-update' && e.target.kind === 'request')).toHaveLength(2);
  const completedAnnouncements = ev.filter((e) => e.event === 'payment-updated' && (e.payload as { status: string }).status === 'completed');
  expect(completedAnnouncements.map((e) => e.target)).toEqual([
    { kind: 'request', id: intent.purchaseRequestId },
    { kind: 'user', id: BUYER },
    { kind: 'seller', id: 'seller-1' },
  ]);
}

/** Nothing of completion happened: offers pending, request open, no offer or request announcements. */
export async function expectNotCompleted(h: ListeningWorld, intent: Intent) {
  const p = await paymentOf(h, intent.paymentId);
  expect(p.history.some((e) => e.toStatus === 'completed')).toBe(false);
  expect(p.escrowState).toBe('unfunded');
  expect((await h.store.sellerOffers.findById(intent.offerId))?.status).toBe('pending');
  expect((await h.store.sellerOffers.findById(intent.otherOfferId))?.status).toBe('pending');
  expect((await h.store.purchaseRequests.findById(intent.purchaseRequestId))?.status).toBe('open');
  const ev = eventsFor(h, intent);
  expect(ev.filter((e) => e.event === 'purchase-request-update' || e.event === 'seller-offer-update')).toEqual([]);
}

/** A TCP relay in front of the local chain's RPC that can be taken down and brought back on the same port. */
export async function startRpcSwitch(target: string) {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(targetPort), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    down,
    up: () => listen(port),
    close: down,
  };
}

export { expectSoundLedgers } from './payinTestKit.js';
