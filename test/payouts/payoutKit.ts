import { expect } from 'vitest';
import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { FakeShkeeperOptions } from '../helpers/fakeShkeeper/options.js';
import { seedMarketplace, snapshot } from '../helpers/fixtures.js';
import { startPayinHarness, type PayinHarness } from '../helpers/payinHarness.js';
import { fundEscrow } from '../escrow/ledgerKit.js';

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
export const PAYOUT_ENV = {
  AUTO_WEBHOOK_INTERVAL_MS: '3600000',
  WALLET_MONITOR_INTERVAL_MS: '3600000',
  PAYOUT_RECONCILER_INTERVAL_MS: '3600000',
  PAYOUT_RECONCILER_AFTER_MS: '0',
};

export function startPayoutHarness(fake: FakeShkeeperOptions = {}) {
  return startPayinHarness({ env: PAYOUT_ENV, fake });
}

export interface HttpAnswer {
  status: number;
  body: any;
  headers: Headers;
}

export type As = 'anonymous' | 'admin' | string;

export async function call(
  h: PayinHarness,
  method: string,
  path: string,
  opts: { as?: As; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  const as = opts.as ?? 'admin';
  if (as === 'admin') headers.authorization = h.bearer(ADMIN, { admin: true });
  else if (as !== 'anonymous') headers.authorization = h.bearer(as);
  let payload: string | undefined;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${h.url}/api/payment${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

export type Market = Awaited<ReturnType<typeof seedMarketplace>> & { escrow: PaymentRecord | null };

/** A purchase request with two offers and no pay-in: nothing to pay a seller from. */
export const seedUnfunded = async (h: PayinHarness): Promise<Market> => ({ ...(await seedMarketplace(h.store, { buyerId: BUYER })), escrow: null });

/**
 * A purchase request with two offers whose escrow is funded for seller-1's offer (25.5 USDT,
 * paid from PAYER): what a payout pays from. `currency` funds it in another token.
 */
export async function seed(h: PayinHarness, o: { currency?: string } = {}): Promise<Market> {
  const m = await seedMarketplace(h.store, { buyerId: BUYER });
  const escrow = await fundEscrow(h, {
    requestId: m.request.id, offerId: m.offer.id, buyerId: BUYER, sellerId: SELLER, amount: m.offer.amount, currency: o.currency,
    payer: PAYER, receiver: h.config.escrow.receiverAddress!,
  });
  return { ...m, escrow };
}

export const escrowOf = async (h: PayinHarness, m: Market) => payoutOf(h, m.escrow!.id);

export const payoutBody = (m: Market, over: Record<string, unknown> = {}) => ({
  purchaseRequestId: m.request.id,
  sellerOfferId: m.offer.id,
  buyerId: BUYER,
  sellerId: SELLER,
  amount: 25.5,
  recipientAddress: RECIPIENT,
  ...over,
});

export const createPayout = (h: PayinHarness, body: unknown, opts: { as?: As; key?: string } = {}) =>
  call(h, 'POST', '/shkeeper/payout', { as: opts.as, body, headers: opts.key ? { 'Idempotency-Key': opts.key } : {} });

export const payoutStatus = (h: PayinHarness, taskId: string, as: As = 'admin') => call(h, 'GET', `/shkeeper/payout/status/${taskId}`, { as });

export async function payoutOf(h: PayinHarness, id: string): Promise<PaymentRecord> {
  const p = await h.store.payments.findById(id);
  if (!p) throw new Error(`payout ${id} is gone`);
  return p;
}

/** A party's PUT /api/payment/:id (the seed's update route). */
export const putPayment = (h: PayinHarness, id: string, body: unknown, as: As) => call(h, 'PUT', `/${id}`, { as, body });

export const outbound = (h: PayinHarness, offerId?: string) =>
  h.store.payments.find({ direction: 'out', ...(offerId ? { sellerOfferId: offerId } : {}) }, { sort: { id: 1 } });

export function reconciler(h: PayinHarness): IntervalMonitor {
  const m = h.server.ctx.monitors.get('payoutReconciler');
  if (!m) throw new Error('the payout reconciler is not registered');
  return m as IntervalMonitor;
}

/** Payout events (payout-created/-updated/-completed) about one payout: one entry per emission, with the rooms it went to. */
export const payoutEvents = (h: PayinHarness, payoutId: string) =>
  h.events.calls.filter((e) => e.event.startsWith('payout-') && (e.payload as { payoutId?: string }).payoutId === payoutId);

/** Where every payout event goes: the admins and the payout's own parties, in one emission. */
export const PAYOUT_TARGETS = [{ kind: 'admins' }, { kind: 'user', id: BUYER }, { kind: 'seller', id: SELLER }];

/** Runs `fn` (a refused request) and checks the store and the event log did not change. */
export async function expectNothingChanged<T>(h: PayinHarness, fn: () => Promise<T>): Promise<T> {
  const before = await snapshot(h.store);
  const events = h.events.emitted.length;
  const result = await fn();
  expect(await snapshot(h.store)).toEqual(before);
  expect(h.events.emitted.slice(events)).toEqual([]);
  return result;
}

/** The bodies of the payout requests the fake SHKeeper received. */
export const payoutRequests = (h: PayinHarness) =>
  h.fake.requests.filter((r) => r.endpoint === 'payout').map((r) => ({ ...r, json: JSON.parse(r.body) as Record<string, unknown> }));
