import type { AppServices } from '../../src/app/app.js';
import { newObjectId } from '../../src/platform/ids.js';
import { newServiceKey } from '../../src/platform/auth/serviceKeys.js';
import { hmacHex } from '../../src/adapters/shkeeper/webhookSignature.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { paidInvoiceCallback, payment, preparedDisbursement, seedMarketplace, unsignedPayerProof } from '../helpers/fixtures.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { TEST_JWT_SECRET } from '../helpers/testWorld.js';
import { endpointWithDelivery } from '../helpers/eventFixtures.js';

/**
 * The authorisation matrix: one row per mounted route, naming what each caller gets. The rules
 * are README's (and, for the routers README does not describe yet — decentralized, legacy,
 * metrics, docs — their `*Docs.ts`):
 *
 * - anonymous: no Authorization header;
 * - party: the user the record belongs to — the buyer of the seeded payment / purchase request /
 *   payout, the `:userId` of a per-user route, or simply a signed-in user where the route is about
 *   the caller. On admin-only routes the party is still the record's buyer: being a party earns
 *   nothing there;
 * - other: a signed-in user who is party to nothing;
 * - admin: a token with `role: admin`.
 *
 * The 403/404 rule: a payment (or payout) is visible to its parties and admins; anyone else gets
 * the same 404 as for an unknown id (`hides` rows check that the bodies are identical). Role checks
 * that reveal no record answer 403. Every request is otherwise valid, so a status is about who
 * asked, not what was sent. Where a route needs the chain or a hot wallet (not configured here),
 * an authorised caller's documented answer is 503 `not_configured`: it proves the caller got past
 * the guards. SHKeeper is a fake SHKeeper, so its routes answer for real.
 */

export const ROLES = ['anonymous', 'party', 'other', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PARTY = 'party-user';
export const SELLER = 'seller-user';
export const OTHER = 'other-user';
export const ADMIN = 'admin-user';
export const CRON_SECRET = 'matrix-cron-secret-0123456789';
export const METRICS_TOKEN = 'matrix-metrics-token-0123456789';
const WALLET = '0x1111111111111111111111111111111111111111';
const PAY_ADDRESS = '0x3333333333333333333333333333333333333333';

export interface SeedKit {
  store: Store;
  ctx: AppServices;
  /** The HMAC secret SHKeeper signs callbacks with (the fake SHKeeper's API key). */
  webhookSecret: string;
}

/** Ids and values a row's seed created; the request is built from them. */
export type Seeded = Record<string, string>;

export interface MatrixRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  /** Under the server root, e.g. `/api/payment/abc`. */
  path: string;
  query?: Record<string, string>;
  /** A JSON body, serialised by the runner. */
  body?: unknown;
  /** Exact bytes (signed webhooks): sent as they are, with `application/json`. */
  raw?: string;
  headers?: Record<string, string>;
  /** An Authorization header that replaces the role's token (metrics token). */
  authorization?: string;
}

export interface Variant {
  /** What it shows, e.g. "unsigned delivery → 401". */
  name: string;
  role: Role;
  /** Config overrides for this variant's app. */
  env?: Record<string, string>;
  /** Defaults to the row's request. */
  request?: (s: Seeded, k: SeedKit) => MatrixRequest;
  status: number;
  code?: string;
}

export interface MatrixRow {
  /** `METHOD /express/path`, exactly as `mountedRoutes` names it. */
  route: string;
  /** The documented rule, in words (shown when a cell fails). */
  rule: string;
  seed?: (k: SeedKit) => Promise<Seeded>;
  request: (s: Seeded, k: SeedKit) => MatrixRequest;
  expect: Record<Role, number>;
  /** For routes about one record: "other" must get the very answer an unknown id gets. */
  hides?: { key: string; unknown: () => string };
  /** Mounted only with ENABLE_DEV_ROUTES: with it off, the route answers 404 route_not_found. */
  devOnly?: boolean;
  /** The error shape is the route's own (documented), not `{ success, error: { code, message } }`. */
  ownErrorShape?: boolean;
  variants?: Variant[];
}

const API = '/api/payment';
const MATRIX_SERVICE_KEY = newServiceKey('matrix-marketplace');
const all = (status: number): Record<Role, number> => ({ anonymous: status, party: status, other: status, admin: status });
const adminOnly = (adminStatus: number): Record<Role, number> => ({ anonymous: 401, party: 403, other: 403, admin: adminStatus });
/** Party or admin; others get the 404 of an unknown record. */
const partyOrAdmin = (okStatus: number): Record<Role, number> => ({ anonymous: 401, party: okStatus, other: 404, admin: okStatus });
/** Self (the `:userId`) or admin; another user's data is a 403 that reveals no record. */
const selfOrAdmin = (okStatus: number): Record<Role, number> => ({ anonymous: 401, party: okStatus, other: 403, admin: okStatus });
const anyUser = (okStatus: number): Record<Role, number> => ({ anonymous: 401, party: okStatus, other: okStatus, admin: okStatus });
const unknownPayment = { key: 'paymentId', unknown: () => newObjectId() };
const txHash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

// ── seeds ─────────────────────────────────────────────────────────────────────────────────────

async function insertPayment(k: SeedKit, over: Partial<PaymentRecord>): Promise<PaymentRecord> {
  const p = payment({ buyerId: PARTY, sellerId: SELLER, ...over });
  await k.store.payments.insertOne(p);
  return p;
}

/** A purchase request of the party with an open offer of `seller-user` (25.5 USDT) and one of seller-2. */
async function marketplace(k: SeedKit): Promise<Seeded> {
  const { request, offer } = await seedMarketplace(k.store, { buyerId: PARTY });
  await k.store.sellerOffers.updateOne({ id: offer.id }, { $set: { sellerId: SELLER } });
  return { requestId: request.id, offerId: offer.id, amount: offer.amount };
}

const pendingPayment = async (k: SeedKit) => ({ paymentId: (await insertPayment(k, {})).id });

/**
 * The purchase request's escrow, funded the only way there is now (issue 10): a credit of a proven transfer
 * of the offer's amount to its inbound payment (which gets the funding credit, the payer and `fundedRequestKey`).
 */
async function fundEscrow(k: SeedKit, m: Seeded | null, over: Partial<PaymentRecord> = {}): Promise<PaymentRecord> {
  const p = await insertPayment(k, { ...(m ? { purchaseRequestId: m.requestId!, sellerOfferId: m.offerId! } : {}), ...over });
  const transfer = {
    txHash: txHash(20),
    from: WALLET,
    to: k.ctx.config.escrow.receiverAddress ?? PAY_ADDRESS,
    network: 'bsc',
    token: 'USDT',
    amount: p.amount.amount,
    baseUnits: null,
    blockNumber: null,
  };
  return (await k.ctx.coordinator.credit(p.id, transfer, { source: 'test', actor: 'test', completionEffects: [] })).payment;
}

/** A marketplace whose request's escrow is funded: a payout may pay from it. */
const fundedMarketplace = async (k: SeedKit): Promise<Seeded> => {
  const m = await marketplace(k);
  return { ...m, escrowPaymentId: (await fundEscrow(k, m)).id };
};

/** A completed, funded SHKeeper payment whose pay-in was seen on chain (hash recorded). */
const completedShkeeper = async (k: SeedKit) => {
  const id = newObjectId();
  const p = await insertPayment(k, {
    id,
    provider: 'shkeeper',
    status: 'completed',
    escrowState: 'funded',
    externalId: `AMN_${id}`,
    payAddress: PAY_ADDRESS,
    transactionHash: txHash(1),
  });
  return { paymentId: p.id, transactionHash: txHash(1) };
};

/** A completed Web3 payment: verification answers "confirmed" from the record, without the chain. */
const completedWeb3 = async (k: SeedKit) => {
  const id = newObjectId();
  const p = await insertPayment(k, { id, provider: 'decentralized', status: 'completed', escrowState: 'funded', externalId: `DEPAY_${id}` });
  return { paymentId: p.id, externalId: p.externalId! };
};

const pendingWeb3 = async (k: SeedKit) => {
  const id = newObjectId();
  const p = await insertPayment(k, { id, provider: 'decentralized', externalId: `DEPAY_${id}` });
  return { paymentId: p.id };
};

/** The disbursement an escrow route records, in the ledger's terms (issue 10). */
const disbursement = (kind: 'release' | 'refund') => preparedDisbursement(kind, { recipient: WALLET, escrow: PAY_ADDRESS, createdBy: ADMIN });

/**
 * Funded escrow with a release (or refund) already prepared: preparing the same again answers it without the chain.
 * (Was: `providerData.escrowAction`; the prepared disbursement is the escrow's in-flight one now, issue 10.)
 */
function preparedEscrow(kind: 'release' | 'refund') {
  return async (k: SeedKit) => {
    const p = await fundEscrow(k, null, { provider: 'shkeeper' });
    await k.ctx.coordinator.openDisbursement(p.id, disbursement(kind), { source: 'test', actor: ADMIN });
    return { paymentId: p.id };
  };
}

/**
 * Escrow already released (refunded) by `txHash(7)`: confirming that same hash answers 200 without the chain.
 * (Was a fixture in that status; the settled disbursement records the evidence now, issue 10.)
 */
function settledEscrow(kind: 'release' | 'refund') {
  return async (k: SeedKit) => {
    const p = await fundEscrow(k, null, { provider: 'shkeeper' });
    const d = disbursement(kind);
    await k.ctx.coordinator.openDisbursement(p.id, d, { source: 'test', actor: ADMIN });
    await k.ctx.coordinator.settleDisbursement(p.id, d.id, {
      source: 'test',
      actor: ADMIN,
      evidence: txHash(7),
      effects: [],
      hashField: kind === 'release' ? 'releaseTxHash' : 'refundTxHash',
    });
    return { paymentId: p.id, txHash: txHash(7) };
  };
}

/** A payout (buyer: the party) created through the service, so the fake SHKeeper knows its task. */
async function payout(k: SeedKit): Promise<Seeded> {
  const m = await fundedMarketplace(k);
  const created = await k.ctx.payouts.create(
    { userId: ADMIN, isAdmin: true },
    {
      purchaseRequestId: m.requestId!,
      sellerOfferId: m.offerId!,
      buyerId: PARTY,
      sellerId: SELLER,
      amount: '25.5',
      recipientAddress: WALLET,
      token: 'USDT',
      network: 'bsc',
    },
  );
  return { taskId: created.data.taskId, payoutId: created.data.payoutId };
}

// ── signed SHKeeper deliveries ────────────────────────────────────────────────────────────────

export function signedDelivery(path: string, body: unknown, secret: string): MatrixRequest {
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    method: 'POST',
    path,
    raw,
    headers: { 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': hmacHex(secret, `${ts}.`, raw) },
  };
}

const invoiceCallback = paidInvoiceCallback({ externalId: 'AMN_matrix_unknown', addr: PAY_ADDRESS, txid: txHash(9) });
const payoutCallback = { external_id: 'PAYOUT_matrix_unknown', tx_hash: txHash(10), status: 'SUCCESS', amount: '10', crypto: 'BNB-USDT' };

const unsigned = (r: MatrixRequest): MatrixRequest => ({ ...r, headers: {} });

// ── the marketplace's service credential (issue 16) ─────────────────────────────────────────────

const serviceTokens = new TokenService(TEST_JWT_SECRET);
/** `Authorization` for the marketplace's backend: `role: service`, or the given roles. */
const serviceAuthorization = (roles?: string[]) =>
  `Bearer ${serviceTokens.sign(roles ? { sub: 'marketplace-backend', roles } : { sub: 'marketplace-backend', role: 'service' }, 600)}`;
/** The seeded offer as the marketplace holds it. */
const sellerOfferBody = (s: Seeded) => ({
  purchaseRequestId: s.requestId,
  sellerId: SELLER,
  amount: s.amount,
  currency: 'USDT',
  walletAddress: WALLET,
  status: 'pending',
});

// ── the rows ──────────────────────────────────────────────────────────────────────────────────

export const MATRIX_ROWS: MatrixRow[] = [
  // Operations, outside /api/payment.
  {
    route: 'GET /metrics',
    rule: "open unless METRICS_TOKEN is set; then only `Bearer <METRICS_TOKEN>` (a user JWT, even an admin's, is not it)",
    request: () => ({ method: 'GET', path: '/metrics' }),
    expect: all(200),
    variants: [
      { name: 'METRICS_TOKEN set, admin JWT → 401', role: 'admin', env: { METRICS_TOKEN }, status: 401, code: 'invalid_metrics_token' },
      { name: 'METRICS_TOKEN set, no token → 401', role: 'anonymous', env: { METRICS_TOKEN }, status: 401, code: 'invalid_metrics_token' },
      {
        name: 'METRICS_TOKEN set, the metrics token → 200',
        role: 'anonymous',
        env: { METRICS_TOKEN },
        status: 200,
        request: () => ({ method: 'GET', path: '/metrics', authorization: `Bearer ${METRICS_TOKEN}` }),
      },
    ],
  },

  // SHKeeper callbacks: the signature is the only credential; a bearer token neither helps nor hurts.
  {
    route: `POST ${API}/shkeeper/webhook`,
    rule: 'SHKeeper signature (HMAC of the raw body); 202 once verified, 401 unsigned',
    request: (_s, k) => signedDelivery(`${API}/shkeeper/webhook`, invoiceCallback, k.webhookSecret),
    expect: all(202),
    variants: [
      {
        name: 'unsigned → 401',
        role: 'admin',
        request: (_s, k) => unsigned(signedDelivery(`${API}/shkeeper/webhook`, invoiceCallback, k.webhookSecret)),
        status: 401,
        code: 'invalid_signature',
      },
    ],
  },
  {
    route: `POST ${API}/shkeeper/payout/webhook`,
    rule: 'SHKeeper signature; 202 once verified, 401 unsigned — errors as `{ success: false, message, data: null }` (documented)',
    request: (_s, k) => signedDelivery(`${API}/shkeeper/payout/webhook`, payoutCallback, k.webhookSecret),
    expect: all(202),
    ownErrorShape: true,
    variants: [
      {
        name: 'unsigned → 401',
        role: 'admin',
        request: (_s, k) => unsigned(signedDelivery(`${API}/shkeeper/payout/webhook`, payoutCallback, k.webhookSecret)),
        status: 401,
      },
    ],
  },

  // Configuration and health: public.
  {
    route: `POST ${API}/configuration`,
    rule: 'none',
    request: () => ({ method: 'POST', path: `${API}/configuration`, body: { amount: '25.5' } }),
    expect: all(200),
  },
  {
    route: `OPTIONS ${API}/shkeeper/config`,
    rule: 'none (CORS preflight, any origin)',
    request: () => ({ method: 'OPTIONS', path: `${API}/shkeeper/config` }),
    expect: all(204),
  },
  { route: `GET ${API}/shkeeper/config`, rule: 'none', request: () => ({ method: 'GET', path: `${API}/shkeeper/config` }), expect: all(200) },
  { route: `GET ${API}/health`, rule: 'none', request: () => ({ method: 'GET', path: `${API}/health` }), expect: all(200) },
  { route: `GET ${API}/openapi.json`, rule: 'none', request: () => ({ method: 'GET', path: `${API}/openapi.json` }), expect: all(200) },
  { route: `GET ${API}/docs`, rule: 'none', request: () => ({ method: 'GET', path: `${API}/docs` }), expect: all(200) },

  // Web3 (DePay) payments.
  {
    route: `POST ${API}/decentralized/save`,
    rule: 'none (the checkout calls it before login); a hash would only be a claim',
    seed: marketplace,
    request: (s) => ({
      method: 'POST',
      path: `${API}/decentralized/save`,
      body: { purchaseRequestId: s.requestId, buyerId: PARTY, sellerId: SELLER, amount: s.amount },
    }),
    expect: all(200),
  },
  {
    route: `POST ${API}/decentralized/payer-proof/challenge`,
    rule: 'none (the wallet signature is the credential); no chain configured here → 503 not_configured once the offer is found',
    seed: marketplace,
    request: (s) => ({
      method: 'POST',
      path: `${API}/decentralized/payer-proof/challenge`,
      body: { purchaseRequestId: s.requestId, sellerOfferId: s.offerId, walletAddress: WALLET },
    }),
    expect: all(503),
  },
  {
    route: `POST ${API}/decentralized/payer-proof`,
    rule: 'none (the wallet signature is the credential); no chain configured here → 503 not_configured once the payment is found',
    seed: async (k) => ({ ...(await pendingWeb3(k)), ...(await marketplace(k)) }),
    request: (s) => ({
      method: 'POST',
      path: `${API}/decentralized/payer-proof`,
      body: {
        paymentId: s.paymentId,
        payerProof: unsignedPayerProof({ requestId: s.requestId, offerId: s.offerId, wallet: WALLET, receiver: PAY_ADDRESS }),
      },
    }),
    expect: all(503),
  },
  {
    route: `GET ${API}/decentralized/status/:paymentId`,
    rule: 'none',
    seed: pendingWeb3,
    request: (s) => ({ method: 'GET', path: `${API}/decentralized/status/${s.paymentId}` }),
    expect: all(200),
  },
  {
    route: `PUT ${API}/decentralized/update`,
    rule: "optional bearer: cancelling needs a party or admin token (others 404); any other status is the chain's to confirm, token or not",
    seed: async (k) => ({ ...(await pendingWeb3(k)), completedId: (await completedWeb3(k)).paymentId }),
    request: (s) => ({ method: 'PUT', path: `${API}/decentralized/update`, body: { paymentId: s.paymentId, status: 'cancelled' } }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
    variants: [
      {
        name: 'anonymous asks for the status the record already has (completed) → 200',
        role: 'anonymous',
        request: (s) => ({ method: 'PUT', path: `${API}/decentralized/update`, body: { paymentId: s.completedId, status: 'completed' } }),
        status: 200,
      },
    ],
  },
  { route: `GET ${API}/decentralized/receiver`, rule: 'none', request: () => ({ method: 'GET', path: `${API}/decentralized/receiver` }), expect: all(200) },
  {
    route: `GET ${API}/decentralized/history/:userId`,
    rule: 'bearer, self or admin (stricter than the spec on purpose)',
    request: () => ({ method: 'GET', path: `${API}/decentralized/history/${PARTY}` }),
    expect: selfOrAdmin(200),
  },
  {
    route: `POST ${API}/decentralized/verify/:paymentId`,
    rule: 'none (only the chain moves the payment)',
    seed: completedWeb3,
    request: (s) => ({ method: 'POST', path: `${API}/decentralized/verify/${s.paymentId}` }),
    expect: all(200),
  },
  {
    route: `POST ${API}/decentralized/verify-all-pending`,
    rule: 'X-Cron-Secret when CRON_SECRET is set (it is here); bearer tokens play no part',
    request: () => ({ method: 'POST', path: `${API}/decentralized/verify-all-pending`, headers: { 'x-cron-secret': CRON_SECRET } }),
    expect: all(200),
    variants: [
      {
        name: 'without X-Cron-Secret → 401',
        role: 'admin',
        request: () => ({ method: 'POST', path: `${API}/decentralized/verify-all-pending` }),
        status: 401,
        code: 'invalid_cron_secret',
      },
      {
        name: 'wrong X-Cron-Secret → 401',
        role: 'anonymous',
        request: () => ({ method: 'POST', path: `${API}/decentralized/verify-all-pending`, headers: { 'x-cron-secret': 'nope' } }),
        status: 401,
        code: 'invalid_cron_secret',
      },
      {
        name: 'CRON_SECRET unset → anonymous 200',
        role: 'anonymous',
        env: { CRON_SECRET: '' },
        request: () => ({ method: 'POST', path: `${API}/decentralized/verify-all-pending` }),
        status: 200,
      },
    ],
  },
  {
    route: `POST ${API}/decentralized/admin-payout`,
    rule: 'admin; no hot wallet configured here → 503 not_configured once past the guard',
    seed: marketplace,
    request: (s) => ({
      method: 'POST',
      path: `${API}/decentralized/admin-payout`,
      body: { purchaseRequestId: s.requestId, receiverWalletAddress: WALLET, amount: '25.5' },
    }),
    expect: adminOnly(503),
  },

  // Legacy endpoints.
  {
    route: `POST ${API}/payments/cleanup-pending`,
    rule: 'admin',
    request: () => ({ method: 'POST', path: `${API}/payments/cleanup-pending`, body: {} }),
    expect: adminOnly(200),
  },
  {
    route: `POST ${API}/payments/:id/fetch-tx`,
    rule: 'bearer, party or admin (others 404)',
    seed: completedShkeeper,
    request: (s) => ({ method: 'POST', path: `${API}/payments/${s.paymentId}/fetch-tx` }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
  },
  {
    route: `POST ${API}/payments/auto-fetch-missing`,
    rule: "admin (a batch over every user's payments)",
    request: () => ({ method: 'POST', path: `${API}/payments/auto-fetch-missing`, body: {} }),
    expect: adminOnly(200),
  },
  {
    route: `POST ${API}/callback`,
    rule: "none: the payment's own reference is the credential; without it the payment does not exist (404)",
    seed: completedWeb3,
    request: (s) => ({ method: 'POST', path: `${API}/callback`, body: { paymentId: s.paymentId, data: { reference: s.externalId } } }),
    expect: all(200),
    variants: [
      {
        name: 'admin without the reference → 404',
        role: 'admin',
        request: (s) => ({ method: 'POST', path: `${API}/callback`, body: { paymentId: s.paymentId, data: { reference: 'DEPAY_wrong' } } }),
        status: 404,
        code: 'payment_not_found',
      },
    ],
  },
  {
    route: `POST ${API}/verify`,
    rule: 'bearer, party or admin (others 404)',
    seed: completedWeb3,
    request: (s) => ({ method: 'POST', path: `${API}/verify`, body: { paymentId: s.paymentId } }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
  },

  // SHKeeper pay-in.
  {
    route: `POST ${API}/shkeeper/intents`,
    rule: "bearer, the purchase request's buyer only (admins too get 403 not_buyer)",
    seed: marketplace,
    request: (s) => ({
      method: 'POST',
      path: `${API}/shkeeper/intents`,
      body: { purchaseRequestId: s.requestId, sellerOfferId: s.offerId, amount: s.amount, sellerId: SELLER },
    }),
    expect: { anonymous: 401, party: 200, other: 403, admin: 403 },
  },
  {
    route: `POST ${API}/shkeeper/confirm-transaction`,
    rule: 'bearer, party or admin (others 404)',
    seed: completedShkeeper,
    request: (s) => ({ method: 'POST', path: `${API}/shkeeper/confirm-transaction`, body: { paymentId: s.paymentId, transactionHash: s.transactionHash } }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
  },
  {
    route: `GET ${API}/shkeeper/wallet-monitor/status`,
    rule: 'none',
    request: () => ({ method: 'GET', path: `${API}/shkeeper/wallet-monitor/status` }),
    expect: all(200),
  },
  {
    route: `GET ${API}/shkeeper/auto-webhook/status`,
    rule: 'none',
    request: () => ({ method: 'GET', path: `${API}/shkeeper/auto-webhook/status` }),
    expect: all(200),
  },
  {
    route: `GET ${API}/shkeeper/webhook-stats`,
    rule: 'admin',
    request: () => ({ method: 'GET', path: `${API}/shkeeper/webhook-stats` }),
    expect: adminOnly(200),
  },

  // Dev tools (ENABLE_DEV_ROUTES).
  {
    route: `POST ${API}/shkeeper/test`,
    rule: 'none (dev only)',
    devOnly: true,
    request: () => ({ method: 'POST', path: `${API}/shkeeper/test` }),
    expect: all(200),
  },
  {
    route: `POST ${API}/shkeeper/callback-test`,
    rule: 'none (dev only)',
    devOnly: true,
    request: () => ({ method: 'POST', path: `${API}/shkeeper/callback-test`, body: { hello: 'world' } }),
    expect: all(200),
  },
  {
    route: `GET ${API}/shkeeper/callback-test`,
    rule: 'none (dev only)',
    devOnly: true,
    request: () => ({ method: 'GET', path: `${API}/shkeeper/callback-test` }),
    expect: all(200),
  },
  {
    route: `POST ${API}/shkeeper/create-test-payment`,
    rule: 'none (dev only)',
    devOnly: true,
    request: () => ({ method: 'POST', path: `${API}/shkeeper/create-test-payment`, body: {} }),
    expect: all(201),
  },
  {
    route: `POST ${API}/shkeeper/trigger-webhook`,
    rule: 'admin (dev only): a signed PAID delivery completes a payment',
    devOnly: true,
    seed: async (k) => {
      const id = newObjectId();
      const p = await insertPayment(k, { id, provider: 'shkeeper', externalId: `AMN_${id}`, payAddress: PAY_ADDRESS });
      return { paymentId: p.id };
    },
    request: (s) => ({ method: 'POST', path: `${API}/shkeeper/trigger-webhook`, body: { paymentId: s.paymentId } }),
    expect: adminOnly(200),
  },

  // SHKeeper payouts.
  {
    route: `POST ${API}/shkeeper/payout`,
    rule: "admin (a payout pays from the request's funded escrow)",
    seed: fundedMarketplace,
    request: (s) => ({
      method: 'POST',
      path: `${API}/shkeeper/payout`,
      body: {
        purchaseRequestId: s.requestId,
        sellerOfferId: s.offerId,
        buyerId: PARTY,
        sellerId: SELLER,
        amount: s.amount,
        recipientAddress: WALLET,
      },
    }),
    expect: adminOnly(200),
  },
  {
    route: `POST ${API}/shkeeper/payout/:payoutId/abandon`,
    rule: 'admin; SHKeeper still has this payout, so it cannot be abandoned (409)',
    seed: payout,
    request: (s) => ({ method: 'POST', path: `${API}/shkeeper/payout/${s.payoutId}/abandon` }),
    expect: adminOnly(409),
  },
  {
    route: `GET ${API}/shkeeper/payout/status/:taskId`,
    rule: "bearer, the payout's buyer/seller or admin (others 404)",
    seed: payout,
    request: (s) => ({ method: 'GET', path: `${API}/shkeeper/payout/status/${s.taskId}` }),
    expect: partyOrAdmin(200),
    hides: { key: 'taskId', unknown: () => `unknown-task-${newObjectId()}` },
  },

  // Escrow release / refund: admin only.
  ...(['release', 'refund'] as const).flatMap((kind): MatrixRow[] => [
    {
      route: `POST ${API}/shkeeper/:id/${kind}`,
      rule: 'admin (the buyer of the payment gets 403 like anyone else)',
      seed: preparedEscrow(kind),
      request: (s) => ({ method: 'POST', path: `${API}/shkeeper/${s.paymentId}/${kind}` }),
      expect: adminOnly(200),
    },
    {
      route: `POST ${API}/shkeeper/:id/${kind}/confirm`,
      rule: 'admin',
      seed: settledEscrow(kind),
      request: (s) => ({ method: 'POST', path: `${API}/shkeeper/${s.paymentId}/${kind}/confirm`, body: { txHash: s.txHash } }),
      expect: adminOnly(200),
    },
  ]),
  {
    route: `DELETE ${API}/shkeeper/:id/prepared`,
    rule: 'admin',
    seed: preparedEscrow('release'),
    request: (s) => ({ method: 'DELETE', path: `${API}/shkeeper/${s.paymentId}/prepared` }),
    expect: adminOnly(200),
  },

  // Records in (issue 16): a service credential (`role: service`) or an admin; the service token is nobody's admin elsewhere.
  {
    route: `PUT ${API}/purchase-requests/:id`,
    rule: "a service credential or an admin (the request's own buyer gets 403 like anyone else); an identical repeat → 200",
    seed: marketplace,
    request: (s) => ({
      method: 'PUT',
      path: `${API}/purchase-requests/${s.requestId}`,
      body: { buyerId: PARTY, title: 'Sample request', buyerWalletAddress: null, status: 'open' },
    }),
    expect: adminOnly(200),
    variants: [
      {
        name: 'service credential → 200',
        role: 'anonymous',
        request: (s) => ({
          method: 'PUT',
          path: `${API}/purchase-requests/${s.requestId}`,
          body: { buyerId: PARTY, title: 'Sample request', buyerWalletAddress: null, status: 'open' },
          authorization: serviceAuthorization(),
        }),
        status: 200,
      },
      {
        name: 'service key (X-Service-Key) → 200; the same key on an admin route is no credential → 401',
        role: 'anonymous',
        env: { SERVICE_API_KEYS: MATRIX_SERVICE_KEY.entry },
        request: (s) => ({
          method: 'PUT',
          path: `${API}/purchase-requests/${s.requestId}`,
          body: { buyerId: PARTY, title: 'Sample request', buyerWalletAddress: null, status: 'open' },
          headers: { 'X-Service-Key': MATRIX_SERVICE_KEY.key },
        }),
        status: 200,
      },
      {
        name: 'service key on an admin route → 401 (it opens the ingest routes only)',
        role: 'anonymous',
        env: { SERVICE_API_KEYS: MATRIX_SERVICE_KEY.entry },
        request: () => ({ method: 'GET', path: `${API}/shkeeper/webhook-stats`, headers: { 'X-Service-Key': MATRIX_SERVICE_KEY.key } }),
        status: 401,
      },
      {
        name: 'service credential (also claiming admin) on an admin route → 403',
        role: 'anonymous',
        request: () => ({ method: 'GET', path: `${API}/shkeeper/webhook-stats`, authorization: serviceAuthorization(['service', 'admin']) }),
        status: 403,
        code: 'admin_required',
      },
    ],
  },
  {
    route: `PUT ${API}/seller-offers/:id`,
    rule: "a service credential or an admin (the offer's seller gets 403 like anyone else); an identical repeat → 200",
    seed: marketplace,
    request: (s) => ({ method: 'PUT', path: `${API}/seller-offers/${s.offerId}`, body: sellerOfferBody(s) }),
    expect: adminOnly(200),
    variants: [
      {
        name: 'service credential → 200',
        role: 'anonymous',
        request: (s) => ({ method: 'PUT', path: `${API}/seller-offers/${s.offerId}`, body: sellerOfferBody(s), authorization: serviceAuthorization() }),
        status: 200,
      },
      {
        name: 'service credential on the admin debug route → 403',
        role: 'anonymous',
        request: () => ({ method: 'GET', path: `${API}/${newObjectId()}/debug`, authorization: serviceAuthorization() }),
        status: 403,
        code: 'admin_required',
      },
    ],
  },

  // Payment records.
  {
    route: `POST ${API}`,
    rule: 'bearer; a non-admin may only be the buyer (403 not_buyer)',
    seed: marketplace,
    request: (s) => ({
      method: 'POST',
      path: API,
      body: { purchaseRequestId: s.requestId, sellerOfferId: s.offerId, buyerId: PARTY, sellerId: SELLER, amount: { amount: s.amount, currency: 'USDT' } },
    }),
    expect: { anonymous: 401, party: 201, other: 403, admin: 201 },
  },
  { route: `GET ${API}`, rule: "bearer (the caller's own payments)", request: () => ({ method: 'GET', path: API }), expect: anyUser(200) },
  {
    route: `GET ${API}/user/:userId`,
    rule: 'bearer, self or admin',
    request: () => ({ method: 'GET', path: `${API}/user/${PARTY}` }),
    expect: selfOrAdmin(200),
  },
  { route: `GET ${API}/stats`, rule: "bearer (the caller's own)", request: () => ({ method: 'GET', path: `${API}/stats` }), expect: anyUser(200) },
  {
    route: `GET ${API}/stats/:userId`,
    rule: 'bearer, self or admin',
    request: () => ({ method: 'GET', path: `${API}/stats/${PARTY}` }),
    expect: selfOrAdmin(200),
  },
  {
    route: `GET ${API}/export`,
    rule: "bearer (the caller's own)",
    request: () => ({ method: 'GET', path: `${API}/export`, query: { format: 'csv' } }),
    expect: anyUser(200),
  },
  {
    route: `GET ${API}/export/:userId`,
    rule: 'bearer, self or admin',
    request: () => ({ method: 'GET', path: `${API}/export/${PARTY}` }),
    expect: selfOrAdmin(200),
  },
  {
    route: `GET ${API}/:id`,
    rule: 'bearer, party or admin (others 404)',
    seed: pendingPayment,
    request: (s) => ({ method: 'GET', path: `${API}/${s.paymentId}` }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
  },
  {
    route: `PUT ${API}/:id`,
    rule: 'bearer, party or admin (others 404); a party may cancel its own pending payment',
    seed: pendingPayment,
    request: (s) => ({ method: 'PUT', path: `${API}/${s.paymentId}`, body: { status: 'cancelled' } }),
    expect: partyOrAdmin(200),
    hides: unknownPayment,
  },
  {
    route: `GET ${API}/:id/debug`,
    rule: 'admin (403 before any lookup: it reveals no record)',
    seed: pendingPayment,
    request: (s) => ({ method: 'GET', path: `${API}/${s.paymentId}/debug` }),
    expect: adminOnly(200),
  },

  // The admin's work queue (issue 17).
  { route: `GET ${API}/admin/queue`, rule: 'admin', request: () => ({ method: 'GET', path: `${API}/admin/queue` }), expect: adminOnly(200) },
  { route: `GET ${API}/admin/queue/counts`, rule: 'admin', request: () => ({ method: 'GET', path: `${API}/admin/queue/counts` }), expect: adminOnly(200) },

  // Events out (issue 16): endpoints, deliveries and the event log are an admin's.
  {
    route: `POST ${API}/webhook-endpoints`,
    rule: 'admin',
    request: () => ({ method: 'POST', path: `${API}/webhook-endpoints`, body: { url: 'https://hooks.example.com/escrow' } }),
    expect: adminOnly(201),
  },
  { route: `GET ${API}/webhook-endpoints`, rule: 'admin', request: () => ({ method: 'GET', path: `${API}/webhook-endpoints` }), expect: adminOnly(200) },
  {
    route: `GET ${API}/webhook-endpoints/:id`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'GET', path: `${API}/webhook-endpoints/${s.endpointId}` }),
    expect: adminOnly(200),
  },
  {
    route: `PATCH ${API}/webhook-endpoints/:id`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'PATCH', path: `${API}/webhook-endpoints/${s.endpointId}`, body: { enabled: true } }),
    expect: adminOnly(200),
  },
  {
    route: `DELETE ${API}/webhook-endpoints/:id`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'DELETE', path: `${API}/webhook-endpoints/${s.endpointId}` }),
    expect: adminOnly(200),
  },
  {
    route: `POST ${API}/webhook-endpoints/:id/rotate-secret`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'POST', path: `${API}/webhook-endpoints/${s.endpointId}/rotate-secret`, body: {} }),
    expect: adminOnly(200),
  },
  {
    route: `GET ${API}/webhook-endpoints/:id/deliveries`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'GET', path: `${API}/webhook-endpoints/${s.endpointId}/deliveries` }),
    expect: adminOnly(200),
  },
  {
    route: `GET ${API}/webhook-endpoints/:id/deliveries/:deliveryId`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'GET', path: `${API}/webhook-endpoints/${s.endpointId}/deliveries/${s.deliveryId}` }),
    expect: adminOnly(200),
  },
  {
    route: `POST ${API}/webhook-endpoints/:id/deliveries/:deliveryId/redeliver`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'POST', path: `${API}/webhook-endpoints/${s.endpointId}/deliveries/${s.deliveryId}/redeliver` }),
    expect: adminOnly(202),
  },
  { route: `GET ${API}/events`, rule: 'admin', request: () => ({ method: 'GET', path: `${API}/events` }), expect: adminOnly(200) },
  {
    route: `GET ${API}/events/:id`,
    rule: 'admin',
    seed: endpointWithDelivery,
    request: (s) => ({ method: 'GET', path: `${API}/events/${s.eventId}` }),
    expect: adminOnly(200),
  },
];
