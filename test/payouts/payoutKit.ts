import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { FakeShkeeperOptions } from '../helpers/fakeShkeeper/options.js';
import { seedMarketplace, snapshot } from '../helpers/fixtures.js';
import { paymentOf, QUIET_MONITORS, startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { by, type As } from '../escrow/escrowKit.js';
import { expectLedgersSound, fundEscrow } from '../escrow/ledgerKit.js';

/**
 * Shared steps of the payout tests: the real server against the fake SHKeeper (a real HTTP
 * server), monitors ticking only when a test asks, the reconciler looking at every open payout.
 */

export const ADMIN = 'admin-1';
export const BUYER = 'buyer-1';
export const SELLER = 'seller-1';
/** seller-1's offer wallet (the fixtures' default): where a payout of the escrow may go. */
export const RECIPIENT = '0x1111111111111111111111111111111111111111';
/** The wallet the buyer paid the escrow from. */
export const PAYER = '0x3333333333333333333333333333333333333333';
export const PAYOUT_ENV = { ...QUIET_MONITORS, PAYOUT_RECONCILER_AFTER_MS: '0' };

export function startPayoutHarness(fake: FakeShkeeperOptions = {}) {
  return startTestWorld({ listen: true, shkeeper: fake, env: PAYOUT_ENV });
}

/**
 * Registers a payout harness for the calling file (beforeAll/afterAll) and an afterEach that finds
 * every ledger sound. The returned world is valid inside hooks and tests (not at module load), as
 * with `useEscrowEnv`.
 */
export function usePayoutHarness(fake: FakeShkeeperOptions = {}): ListeningWorld {
  let h: ListeningWorld | undefined;
  beforeAll(async () => {
    h = await startPayoutHarness(fake);
  });
  afterAll(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    await expectLedgersSound(h!.store);
  });
  return new Proxy({} as ListeningWorld, {
    get: (_target, key) => {
      if (!h) throw new Error('the payout harness is used before beforeAll started it');
      return h[key as keyof ListeningWorld];
    },
  });
}

export { by, type As };

export type Market = Awaited<ReturnType<typeof seedMarketplace>> & { escrow: PaymentRecord | null };

/** A purchase request with two offers and no pay-in: nothing to pay a seller from. */
export const seedUnfunded = async (h: ListeningWorld): Promise<Market> => ({ ...(await seedMarketplace(h.store, { buyerId: BUYER })), escrow: null });

/**
 * A purchase request with two offers whose escrow is funded for seller-1's offer (25.5 USDT,
 * paid from PAYER): what a payout pays from. `currency` funds it in another token.
 */
export async function seed(h: ListeningWorld, o: { currency?: string } = {}): Promise<Market> {
  const m = await seedMarketplace(h.store, { buyerId: BUYER });
  const escrow = await fundEscrow(h, {
    requestId: m.request.id,
    offerId: m.offer.id,
    buyerId: BUYER,
    sellerId: SELLER,
    amount: m.offer.amount,
    currency: o.currency,
    payer: PAYER,
    receiver: h.config.escrow.receiverAddress!,
  });
  return { ...m, escrow };
}

export const escrowOf = async (h: ListeningWorld, m: Market) => payoutOf(h, m.escrow!.id);

export const payoutBody = (m: Market, over: Record<string, unknown> = {}) => ({
  purchaseRequestId: m.request.id,
  sellerOfferId: m.offer.id,
  buyerId: BUYER,
  sellerId: SELLER,
  amount: 25.5,
  recipientAddress: RECIPIENT,
  ...over,
});

export const createPayout = (h: ListeningWorld, body: unknown, opts: { as?: As; key?: string } = {}) =>
  by(h, opts.as)
    .post('/shkeeper/payout', body)
    .set(opts.key ? { 'Idempotency-Key': opts.key } : {});

export const payoutStatus = (h: ListeningWorld, taskId: string, as: As = 'admin') => by(h, as).get(`/shkeeper/payout/status/${taskId}`);

export const payoutOf = paymentOf;

/** A party's PUT /api/payment/:id (the seed's update route). */
export const putPayment = (h: ListeningWorld, id: string, body: unknown, as: As) => by(h, as).put(`/${id}`, body);

export const outbound = (h: ListeningWorld, offerId?: string) =>
  h.store.payments.find({ direction: 'out', ...(offerId ? { sellerOfferId: offerId } : {}) }, { sort: { id: 1 } });

export const reconciler = (h: ListeningWorld) => h.monitor('payoutReconciler');

/** Payout events (payout-created/-updated/-completed) about one payout: one entry per emission, with the rooms it went to. */
export const payoutEvents = (h: ListeningWorld, payoutId: string) =>
  h.events.calls.filter((e) => e.event.startsWith('payout-') && (e.payload as { payoutId?: string }).payoutId === payoutId);

/** Where every payout event goes: the admins and the payout's own parties, in one emission. */
export const PAYOUT_TARGETS = [{ kind: 'admins' }, { kind: 'user', id: BUYER }, { kind: 'seller', id: SELLER }];

/** Runs `fn` (a refused request) and checks the store and the event log did not change. */
export async function expectNothingChanged<T>(h: ListeningWorld, fn: () => PromiseLike<T>): Promise<T> {
  const before = await snapshot(h.store);
  const events = h.events.emitted.length;
  const result = await fn();
  expect(await snapshot(h.store)).toEqual(before);
  expect(h.events.emitted.slice(events)).toEqual([]);
  return result;
}

/** The bodies of the payout requests the fake SHKeeper received. */
export const payoutRequests = (h: ListeningWorld) =>
  h.fake.requests.filter((r) => r.endpoint === 'payout').map((r) => ({ ...r, json: JSON.parse(r.body) as Record<string, unknown> }));
