import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { PayinHarness } from '../helpers/payinHarness.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { compactSortedJson } from '../helpers/fakeShkeeper/signing.js';

/**
 * Small HTTP helpers shared by the end-to-end SHKeeper pay-in tests (intents, webhook, dev
 * routes). Everything goes over real HTTP to the harness's server; nothing of ours is mocked.
 */

export const BUYER = 'buyer-1';
export const ADMIN = 'admin-1';
export const WEBHOOK_PATH = '/api/payment/shkeeper/webhook';

export interface HttpAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface CallOptions {
  /** A user id (signed into a bearer token), or a raw Authorization value, or nothing. */
  as?: string | { admin: string } | { authorization: string };
  body?: unknown;
  /** Sent as is (no JSON encoding). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export async function call(h: PayinHarness, method: string, path: string, opts: CallOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (typeof opts.as === 'string') headers.authorization = h.bearer(opts.as);
  else if (opts.as && 'admin' in opts.as) headers.authorization = h.bearer(opts.as.admin, { admin: true });
  else if (opts.as && 'authorization' in opts.as) headers.authorization = opts.as.authorization;
  let payload: string | Buffer | undefined;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${h.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers, text };
}

export async function seed(h: PayinHarness) {
  return seedMarketplace(h.store, { buyerId: BUYER });
}
export type Seeded = Awaited<ReturnType<typeof seed>>;

export const intentBody = (s: Seeded, over: Record<string, unknown> = {}) => ({
  purchaseRequestId: s.request.id,
  sellerOfferId: s.offer.id,
  amount: s.offer.amount,
  sellerId: s.offer.sellerId,
  ...over,
});

export async function createIntent(h: PayinHarness, s: Seeded, over: Record<string, unknown> = {}, opts: CallOptions = {}) {
  return call(h, 'POST', '/api/payment/shkeeper/intents', { as: BUYER, body: intentBody(s, over), ...opts });
}

/** An intent that must succeed; returns its `data`. */
export async function intentFor(h: PayinHarness, s: Seeded) {
  const r = await createIntent(h, s);
  if (r.status !== 200) throw new Error(`intent failed: ${r.status} ${r.text}`);
  return r.body.data as { paymentId: string; externalId: string; payAddress: string; amountCrypto: string; crypto: string };
}

export const secretOf = (h: PayinHarness) => h.config.shkeeper.webhookSecret as string;
export const hmac = (secret: string, ...parts: (string | Buffer)[]) => {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
};
export const nowSec = () => Math.floor(Date.now() / 1000);

/** Posts a body to the webhook signed SHKeeper's way (timestamp form) unless `headers` say otherwise. */
export async function postWebhook(
  h: PayinHarness,
  payload: unknown,
  opts: { form?: 'timestamp' | 'body' | 'none'; secret?: string; ts?: number; headers?: Record<string, string>; contentType?: string } = {},
) {
  const raw = typeof payload === 'string' ? payload : compactSortedJson(payload);
  const secret = opts.secret ?? secretOf(h);
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
  const form = opts.form ?? 'timestamp';
  if (form === 'timestamp') {
    const ts = String(opts.ts ?? nowSec());
    headers['x-shkeeper-timestamp'] = ts;
    headers['x-shkeeper-signature'] = hmac(secret, `${ts}.`, raw);
  } else if (form === 'body') {
    headers['x-shkeeper-signature'] = hmac(secret, raw);
  }
  return call(h, 'POST', WEBHOOK_PATH, { raw, headers: { ...headers, ...opts.headers } });
}

/** Any address: what a callback for an invoice we do not know (or a foreign one) names. */
export const SOME_ADDRESS = '0x6f2Fc9D7205B7D9037dDE45B5f9e12B18EA07e27';

/**
 * A §5.3 invoice callback, built by hand: for one of our intents (its external id and its pay
 * address, as SHKeeper sends them), or for a bare external id (then for SOME_ADDRESS).
 */
export function invoiceCallback(
  target: string | { externalId: string; payAddress: string },
  over: Record<string, unknown> = {},
  tx: Record<string, unknown> = {},
) {
  const txid = (tx.txid as string | undefined) ?? `0x${'ab'.repeat(32)}`;
  const [externalId, addr] = typeof target === 'string' ? [target, SOME_ADDRESS] : [target.externalId, target.payAddress];
  return {
    external_id: externalId,
    crypto: 'BNB-USDT',
    addr,
    fiat: 'USD',
    balance_fiat: '26.01',
    balance_crypto: '26.01',
    paid: true,
    status: 'PAID',
    fee_percent: '2',
    fee_fixed: '0',
    fee_policy: 'PERCENT_FEE',
    overpaid_fiat: '0.00',
    transactions: [
      {
        txid,
        date: '2026-01-01 10:00:00',
        amount_crypto: '26.01',
        amount_fiat: '26.01',
        amount_fiat_without_fee: '25.5',
        fee_fiat: '0.51',
        trigger: true,
        crypto: 'BNB-USDT',
        ...tx,
      },
    ],
    ...over,
  };
}

export const paymentOf = async (h: PayinHarness, id: string) => {
  const p = await h.store.payments.findById(id);
  if (!p) throw new Error(`no payment ${id}`);
  return p;
};

/** The ledger invariants hold for every payment in the store (escrowLedger.ledgerProblems). */
export async function expectSoundLedgers(h: PayinHarness) {
  const problems = (await h.store.payments.find({})).flatMap((p) => ledgerProblems(p).map((x) => `${p.id}: ${x}`));
  expect(problems).toEqual([]);
}

export const deliveriesOf = (h: PayinHarness) => h.store.webhookDeliveries.find({}, { sort: { id: 1 } });

export async function webhookStats(h: PayinHarness) {
  const r = await call(h, 'GET', '/api/payment/shkeeper/webhook-stats', { as: { admin: ADMIN } });
  if (r.status !== 200) throw new Error(`webhook-stats: ${r.status} ${r.text}`);
  return r.body.data.invoice as Record<string, number>;
}
