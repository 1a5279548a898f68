import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, expect } from 'vitest';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import { paymentOf, startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { compactSortedJson } from '../helpers/fakeShkeeper/signing.js';

/**
 * Small HTTP helpers shared by the end-to-end SHKeeper pay-in tests (intents, webhook, dev
 * routes). Everything goes over real HTTP to the world's server; nothing of ours is mocked.
 */

export const BUYER = 'buyer-1';
export const ADMIN = 'admin-1';
export const WEBHOOK_PATH = '/api/payment/shkeeper/webhook';

export async function seed(h: ListeningWorld) {
  return seedMarketplace(h.store, { buyerId: BUYER });
}
export type Seeded = Awaited<ReturnType<typeof seed>>;

/** Forwards to whatever `current()` is when read, so a test reads the world its beforeEach started. */
function readThrough<T extends object>(current: () => T | undefined, what: string): T {
  const target = () => {
    const t = current();
    if (!t) throw new Error(`${what} is used before beforeEach started it`);
    return t;
  };
  return new Proxy({} as T, {
    get: (_t, key) => Reflect.get(target(), key),
    has: (_t, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), key);
      return d && { ...d, configurable: true };
    },
  });
}

/**
 * Registers a fresh world (real server, fake SHKeeper) with a seeded marketplace before each test of
 * the calling file, stopped after it. `h` and `s` are valid inside tests (not at module load).
 */
export function useSeededWorld(): { h: ListeningWorld; s: Seeded } {
  let h: ListeningWorld | undefined;
  let s: Seeded | undefined;
  beforeEach(async () => {
    h = await startTestWorld({ listen: true, shkeeper: true });
    s = await seed(h);
  });
  afterEach(async () => {
    await h?.stop();
  });
  return { h: readThrough(() => h, 'the world'), s: readThrough(() => s, 'the seeded marketplace') };
}

export const intentBody = (s: Seeded, over: Record<string, unknown> = {}) => ({
  purchaseRequestId: s.request.id,
  sellerOfferId: s.offer.id,
  amount: s.offer.amount,
  sellerId: s.offer.sellerId,
  ...over,
});

/** The buyer's intent for the seeded offer (`headers` added, e.g. an Idempotency-Key). */
export function createIntent(h: ListeningWorld, s: Seeded, over: Record<string, unknown> = {}, opts: { headers?: Record<string, string> } = {}) {
  return h
    .as(BUYER)
    .post('/shkeeper/intents', intentBody(s, over))
    .set(opts.headers ?? {});
}

/** An intent that must succeed; returns its `data`. */
export async function intentFor(h: ListeningWorld, s: Seeded) {
  const r = await createIntent(h, s);
  if (r.status !== 200) throw new Error(`intent failed: ${r.status} ${r.text}`);
  return r.body.data as { paymentId: string; externalId: string; payAddress: string; amountCrypto: string; crypto: string };
}

export const secretOf = (h: ListeningWorld) => h.config.shkeeper.webhookSecret as string;
export const hmac = (secret: string, ...parts: (string | Buffer)[]) => {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
};
export const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Posts a body to the webhook signed SHKeeper's way (timestamp form) unless `headers` say
 * otherwise, and resolves with the answer once the inbox has applied what it recorded (with
 * `settle: false`, at once: the inbox may not have applied it yet).
 */
export async function postWebhook(
  h: ListeningWorld,
  payload: unknown,
  opts: { form?: 'timestamp' | 'body' | 'none'; secret?: string; ts?: number; headers?: Record<string, string>; contentType?: string; settle?: boolean } = {},
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
  const answer = await h.anonymous
    .post('/shkeeper/webhook')
    .set({ ...headers, ...opts.headers })
    .send(raw);
  if (opts.settle !== false) await h.settle();
  return answer;
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

export { paymentOf };

/** The ledger invariants hold for every payment in the store (escrowLedger.ledgerProblems). */
export async function expectSoundLedgers(h: ListeningWorld) {
  const problems = (await h.store.payments.find({})).flatMap((p) => ledgerProblems(p).map((x) => `${p.id}: ${x}`));
  expect(problems).toEqual([]);
}

export const deliveriesOf = (h: ListeningWorld) => h.store.webhookDeliveries.find({}, { sort: { id: 1 } });

export async function webhookStats(h: ListeningWorld) {
  const r = await h.as({ admin: ADMIN }).get('/shkeeper/webhook-stats');
  if (r.status !== 200) throw new Error(`webhook-stats: ${r.status} ${r.text}`);
  return r.body.data.invoice as Record<string, number>;
}
