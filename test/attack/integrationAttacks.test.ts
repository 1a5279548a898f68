import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { publicLookup } from '../../src/adapters/webhooks/endpointUrl.js';
import { signEvent, verifyEventSignature } from '../../src/core/events/eventSignature.js';
import { ruleRecipient } from '../../src/core/escrow/escrowRecipients.js';
import { RELEASE_EFFECTS } from '../../src/core/payments/paymentEffects.js';
import type { Store } from '../../src/core/store/store.js';
import { systemClock } from '../../src/platform/clock.js';
import { newServiceKey } from '../../src/platform/auth/serviceKeys.js';
import { newObjectId } from '../../src/platform/ids.js';
import { preparedDisbursement } from '../helpers/fixtures.js';
import { ManualClock } from '../helpers/manualClock.js';
import { ESCROW, paymentOf, QUIET_MONITORS, startTestWorld, type ListeningWorld, type World } from '../helpers/testWorld.js';
import { addEndpoint, flush, waitFor } from '../helpers/eventsKit.js';
import { WebhookReceiver } from '../helpers/webhookReceiver.js';
import { invoiceCallback, postWebhook } from '../shkeeper/payinTestKit.js';

/**
 * Attacks on issue 16 (records in: the marketplace's upserts; events out: signed webhooks), as a
 * buyer, a seller, the marketplace's service credential, an admin's mistake and an outsider.
 * Each `it` states an invariant. `it.fails` marks a fault found today (see the comment above it):
 * it passes while the fault is there and starts failing once it is fixed.
 */

// ── worlds, receivers and shared steps ────────────────────────────────────────────────────────

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

const FAST = {
  WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'true',
  OUTBOUND_WEBHOOK_POLL_MS: '20',
  OUTBOUND_WEBHOOK_RETRY_BASE_MS: '20',
  OUTBOUND_WEBHOOK_RETRY_MAX_MS: '80',
  OUTBOUND_WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_INBOX_POLL_MS: '20',
};

async function listening(
  env: Record<string, string> = {},
  extra: { wrapStore?: (s: Store) => Store; store?: Store; captureLogs?: boolean; clock?: ManualClock; shkeeper?: { payoutCallbacks: boolean } } = {},
) {
  const w = await startTestWorld({ listen: true, env: { ...FAST, ...env }, ...extra, shkeeper: extra.shkeeper ?? true });
  stops.push(() => w.stop());
  return w;
}

async function inProcess(extra: { wrapStore?: (s: Store) => Store; clock?: ManualClock; env?: Record<string, string> } = {}) {
  const w = await startTestWorld(extra);
  stops.push(() => w.stop());
  return w;
}

async function receiver() {
  const r = await WebhookReceiver.start();
  stops.push(() => r.close());
  return r;
}

const MARKETPLACE = 'marketplace-backend';
const BUYER = 'buyer-1';
const SELLER = 'seller-1';
const WALLET = '0x1111111111111111111111111111111111111111';
const ATTACKER_WALLET = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

/** The marketplace's backend: a JWT with `role: "service"` (or several roles). */
const serviceAuth = (w: World, roles?: string[]) => `Bearer ${w.tokens.sign(roles ? { sub: MARKETPLACE, roles } : { sub: MARKETPLACE, role: 'service' }, 600)}`;
const service = (w: World, roles?: string[]) => w.as({ authorization: serviceAuth(w, roles) });

const requestBody = (over: Record<string, unknown> = {}) => ({ buyerId: BUYER, title: 'Vintage lamp', buyerWalletAddress: null, status: 'open', ...over });
const offerBody = (purchaseRequestId: string, over: Record<string, unknown> = {}) => ({
  purchaseRequestId,
  sellerId: SELLER,
  amount: '25.5',
  currency: 'USDT',
  walletAddress: WALLET,
  status: 'pending',
  ...over,
});

/** A request and one offer, sent in by the marketplace through the routes. */
async function market(w: World) {
  const requestId = newObjectId();
  const offerId = newObjectId();
  const r = await service(w).put(`/purchase-requests/${requestId}`, requestBody());
  expect(r.status, r.text).toBe(201);
  const o = await service(w).put(`/seller-offers/${offerId}`, offerBody(requestId));
  expect(o.status, o.text).toBe(201);
  return { requestId, offerId };
}
type Market = Awaited<ReturnType<typeof market>>;

const controllerBody = (m: Market) => ({
  purchaseRequestId: m.requestId,
  sellerOfferId: m.offerId,
  buyerId: BUYER,
  sellerId: SELLER,
  amount: { amount: '25.5', currency: 'USDT' },
});
const intentBody = (m: Market) => ({ purchaseRequestId: m.requestId, sellerOfferId: m.offerId, amount: '25.5', sellerId: SELLER });
const saveBody = (m: Market) => ({ purchaseRequestId: m.requestId, buyerId: BUYER, sellerId: SELLER, amount: '25.5' });

const cancelRequest = (w: World, requestId: string) => service(w).put(`/purchase-requests/${requestId}`, requestBody({ status: 'cancelled' }));

/** A SHKeeper intent of the buyer for the market's offer. */
async function intent(w: ListeningWorld, m: Market) {
  const r = await w.as(BUYER).post('/shkeeper/intents', intentBody(m));
  expect(r.status, r.text).toBe(200);
  return r.body.data as { paymentId: string; externalId: string; payAddress: string };
}

/** SHKeeper says the invoice is paid in full (25.5) by `txid`. */
async function payInvoice(w: ListeningWorld, i: { externalId: string; payAddress: string }, txid: string, amount = '25.5') {
  const r = await postWebhook(w, invoiceCallback(i, { balance_crypto: amount }, { amount_crypto: amount, txid }));
  expect(r.status, r.text).toBeLessThan(300);
}

const hash = (n: number) => `0x${n.toString(16).padStart(64, 'c')}`;

/** The event log of one payment, oldest first. */
async function eventTypesOf(w: World, paymentId: string): Promise<string[]> {
  await w.ctx.eventRelay.drain();
  return (await w.store.paymentEvents.find({ paymentId }, { sort: { createdAt: 1, id: 1 } })).map((e) => e.type);
}

const parse = (body: string) => JSON.parse(body) as { id: string; type: string; data: { payment: { id: string; status: string } } };

/**
 * The app's store with a gate a test can shut in front of one operation, to hold a request at an
 * exact point (as a real database's latency would leave it) while another request runs.
 */
class Gate {
  private open?: () => void;
  private reached?: () => void;
  armed = false;
  readonly hit: Promise<void>;
  private readonly opened: Promise<void>;
  constructor() {
    this.hit = new Promise((r) => (this.reached = r));
    this.opened = new Promise((r) => (this.open = r));
  }
  /** Called by the wrapped operation: the first call while armed waits until `release`. */
  async pass(): Promise<void> {
    if (!this.armed) return;
    this.armed = false;
    this.reached!();
    await this.opened;
  }
  release() {
    this.open!();
  }
}

/**
 * A store whose `<collection>[method]` passes `gate` (when `when` says so): before the call, or
 * after it with `after`. Default collection: payments.
 */
function gated(
  gate: Gate,
  method: 'insertOne' | 'findOne' | 'findById',
  when: (args: unknown[]) => boolean,
  after = false,
  collection: 'payments' | 'webhookEndpoints' = 'payments',
) {
  return (store: Store): Store => {
    const wrapped = new Proxy(store[collection], {
      get(target, key) {
        const v = Reflect.get(target, key, target) as unknown;
        if (key !== method || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: unknown[]) => {
          const mine = when(args);
          if (mine && !after) await gate.pass();
          const result = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (mine && after) await gate.pass();
          return result;
        };
      },
    });
    return new Proxy(store, {
      get(target, key) {
        if (key === collection) return wrapped;
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
}

// ═════════════════════════════════════════════════════════════════════════════════════════════
// Records in
// ═════════════════════════════════════════════════════════════════════════════════════════════

describe('records in: who may write', () => {
  it('a buyer, a seller or no token cannot upsert requests or offers; nothing is written', async () => {
    const w = await inProcess();
    const id = newObjectId();
    for (const who of [w.as(BUYER), w.as(SELLER), w.as('someone')]) {
      const r = await who.put(`/purchase-requests/${id}`, requestBody());
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('admin_required');
      const o = await who.put(`/seller-offers/${id}`, offerBody(id));
      expect(o.status).toBe(403);
    }
    expect((await w.anonymous.put(`/purchase-requests/${id}`, requestBody())).status).toBe(401);
    // A token signed with another secret claiming the service role.
    const forged = `Bearer ${w.tokens.sign({ sub: MARKETPLACE, role: 'service' }, 600).replace(/\.[^.]+$/, '.AAAA')}`;
    expect((await w.as({ authorization: forged }).put(`/purchase-requests/${id}`, requestBody())).status).toBe(401);
    expect(await w.store.purchaseRequests.count({})).toBe(0);
    expect(await w.store.sellerOffers.count({})).toBe(0);
  });

  it('a service credential is never an admin, even when it also claims admin: 403 on every admin route', async () => {
    const w = await inProcess();
    const m = await market(w);
    const id = newObjectId();
    for (const roles of [undefined, ['service', 'admin']]) {
      const s = service(w, roles);
      const tries = [
        s.get('/events'),
        s.get(`/events/${id}`),
        s.get('/webhook-endpoints'),
        s.post('/webhook-endpoints', { url: 'https://hooks.example.com/x' }),
        s.get(`/webhook-endpoints/${id}/deliveries`),
        s.post(`/webhook-endpoints/${id}/rotate-secret`, {}),
        s.post(`/webhook-endpoints/${id}/deliveries/${id}/redeliver`, {}),
        s.post(`/shkeeper/${id}/release`, {}),
        s.post(`/shkeeper/${id}/refund`, {}),
        s.get(`/${id}/debug`),
      ];
      for (const [n, r] of (await Promise.all(tries)).entries()) {
        expect(r.status, `try ${n} ${r.text}`).toBe(403);
        expect(r.body.error.code).toBe('admin_required');
      }
    }
    expect(await w.store.webhookEndpoints.count({})).toBe(0);
    // Elsewhere it is only the user named by sub: another user's payment does not exist for it.
    const created = await w.as(BUYER).post('/', controllerBody(m));
    expect(created.status, created.text).toBe(201);
    const pid = created.body.data.id as string;
    expect((await service(w).get(`/${pid}`)).status).toBe(404);
    expect((await service(w).put(`/${pid}`, { status: 'cancelled' })).status).toBe(404);
    expect((await paymentOf(w, pid)).status).toBe('pending');
  });
});

describe('records in: the service key (X-Service-Key)', () => {
  it('opens the two ingest routes only, is never an admin or a party, only its exact bytes match, and never shows up in answers or logs', async () => {
    const { key, entry } = newServiceKey('marketplace');
    const w = await listening({ SERVICE_API_KEYS: entry }, { captureLogs: true });
    const send = (method: 'get' | 'put' | 'post' | 'patch', path: string, k: string | string[], body?: unknown, bearer?: string) => {
      const root = w.http();
      let r = root[method](`/api/payment${path}`).set('X-Service-Key', k as string);
      if (bearer) r = r.set('Authorization', bearer);
      return body === undefined ? r : r.set('Content-Type', 'application/json').send(JSON.stringify(body));
    };
    const id = newObjectId();
    expect((await send('put', `/purchase-requests/${id}`, key, requestBody())).status).toBe(201);
    const m = { requestId: id, offerId: newObjectId() };
    expect((await send('put', `/seller-offers/${m.offerId}`, key, offerBody(id))).status).toBe(201);
    const created = await w.as(BUYER).post('/', controllerBody(m));
    expect(created.status, created.text).toBe(201);
    const pid = created.body.data.id as string;
    const answers = [
      // Near misses of the key, and the key twice (HTTP itself trims surrounding spaces).
      await send('put', `/purchase-requests/${id}`, key.toUpperCase(), requestBody({ title: 'x' })),
      await send('put', `/purchase-requests/${id}`, key.slice(0, -1), requestBody({ title: 'x' })),
      await send('put', `/purchase-requests/${id}`, [key, key], requestBody({ title: 'x' })),
      await send('put', `/purchase-requests/${id}`, '', requestBody({ title: 'x' })),
      // A wrong key is 401 even beside an admin's token.
      await send('put', `/purchase-requests/${id}`, 'svc_wrong', requestBody({ title: 'x' }), w.bearer('admin-1', { admin: true })),
      // The right key opens nothing else.
      await send('get', '/events', key),
      await send('get', '/webhook-endpoints', key),
      await send('post', '/webhook-endpoints', key, { url: 'https://hooks.example.com/x' }),
      await send('get', `/${pid}`, key),
      await send('get', `/${pid}/debug`, key),
      await send('put', `/${pid}`, key, { status: 'cancelled' }),
      await send('post', `/shkeeper/${pid}/refund`, key, {}),
      await send('post', '/', key, controllerBody(m)),
    ];
    for (const [n, r] of answers.entries()) {
      expect([401, 403], `try ${n} ${r.text}`).toContain(r.status);
      expect(r.text).not.toContain(key);
    }
    // Beside a buyer's token it adds nothing: the buyer is still only the buyer.
    const asBuyer = await send('get', `/${pid}/debug`, key, undefined, w.bearer(BUYER));
    expect([401, 403]).toContain(asBuyer.status);
    expect(await w.store.purchaseRequests.findById(id)).toMatchObject({ title: 'Vintage lamp', status: 'open' });
    expect(await paymentOf(w, pid)).toMatchObject({ status: 'pending' });
    expect(await w.store.webhookEndpoints.count({})).toBe(0);
    expect(w.logs.join('\n')).not.toContain(key);
  });
});

describe('records in: hostile ids and bodies', () => {
  it('refuses malformed ids and bodies with 400 and writes nothing', async () => {
    const w = await inProcess();
    const good = newObjectId();
    const ids = ['abc', `${good}0`, good.slice(1), '%24gt', 'zzzzzzzzzzzzzzzzzzzzzzzz', '__proto__', '..%2F..%2Fetc'];
    for (const id of ids) {
      const r = await service(w).put(`/purchase-requests/${id}`, requestBody());
      expect([400, 404], id).toContain(r.status);
    }
    const bodies: unknown[] = [
      { ...requestBody(), extra: 1 },
      { ...requestBody(), status: 'seller_paid' },
      { ...requestBody(), status: 'closed' },
      { ...requestBody(), buyerId: { $ne: null } },
      { ...requestBody(), buyerId: '' },
      { ...requestBody(), buyerWalletAddress: '0x123' },
      JSON.parse('{"buyerId":"buyer-1","status":"open","__proto__":{"status":"cancelled"}}'),
      { ...requestBody(), title: 'x'.repeat(501) },
      [requestBody()],
      'open',
    ];
    for (const body of bodies) {
      const r = await service(w).put(`/purchase-requests/${good}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect(await w.store.purchaseRequests.count({})).toBe(0);
    const req = await service(w).put(`/purchase-requests/${good}`, requestBody());
    expect(req.status).toBe(201);
    const offerBodies: unknown[] = [
      offerBody(good, { amount: '-1' }),
      offerBody(good, { amount: '1e3' }),
      offerBody(good, { amount: 0.1 + 0.2 }),
      offerBody(good, { amount: 'NaN' }),
      offerBody(good, { status: 'accepted' }),
      offerBody(good, { walletAddress: 'not-an-address' }),
      offerBody(good, { currency: 'usdt; drop' }),
      { ...offerBody(good), sellerOfferId: good },
    ];
    for (const body of offerBodies) {
      const r = await service(w).put(`/seller-offers/${newObjectId()}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    // An offer naming a request that does not exist.
    expect((await service(w).put(`/seller-offers/${newObjectId()}`, offerBody(newObjectId()))).status).toBe(404);
    expect(await w.store.sellerOffers.count({})).toBe(0);
    expect((await w.store.purchaseRequests.findById(good))?.status).toBe('open');
  });
});

describe('records in: the cancellation rules', () => {
  it('a cancelled request cannot be re-opened, in any spelling, and stays cancelled', async () => {
    const w = await inProcess();
    const m = await market(w);
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    for (const status of ['open', 'payment_processing', 'OPEN']) {
      const r = await service(w).put(`/purchase-requests/${m.requestId}`, requestBody({ status }));
      expect(r.status, status).toBeGreaterThanOrEqual(400);
    }
    // An admin cannot re-open it either.
    expect((await w.admin.put(`/purchase-requests/${m.requestId}`, requestBody())).status).toBe(409);
    expect((await w.store.purchaseRequests.findById(m.requestId))?.status).toBe('cancelled');
  });

  it('the request cannot be reassigned to another buyer (or its refund wallet swapped) once a payment exists', async () => {
    const w = await inProcess();
    const m = await market(w);
    await service(w).put(`/purchase-requests/${m.requestId}`, requestBody({ buyerWalletAddress: WALLET }));
    const created = await w.as(BUYER).post('/', controllerBody(m));
    expect(created.status, created.text).toBe(201);
    // Even after the payment is cancelled (a refund of a late payment may still need the fallback wallet).
    expect((await w.as(BUYER).put(`/${created.body.data.id}`, { status: 'cancelled' })).status).toBe(200);
    for (const over of [{ buyerId: 'attacker' }, { buyerWalletAddress: ATTACKER_WALLET }, { buyerWalletAddress: null }]) {
      const r = await service(w).put(`/purchase-requests/${m.requestId}`, requestBody({ buyerWalletAddress: WALLET, ...over }));
      expect(r.status, JSON.stringify(over)).toBe(409);
      expect(r.body.error.code).toBe('purchase_request_in_use');
    }
    expect(await w.store.purchaseRequests.findById(m.requestId)).toMatchObject({ buyerId: BUYER, buyerWalletAddress: WALLET });
    // The attacker named as buyer cannot pay or see the payment either.
    expect((await w.as('attacker').get(`/${created.body.data.id}`)).status).toBe(404);
  });

  // Found by this suite as a fault (the request upsert checked "no payment exists" before its
  // write, so a payment created in between kept a request whose buyer or refund fallback wallet then
  // changed); fixed in 3f322b7 (the upsert takes its write back when a payment appears; creation
  // reads the buyer again).
  for (const [what, change] of [
    ['refund wallet', { buyerWalletAddress: ATTACKER_WALLET }],
    ['buyer', { buyerId: 'attacker' }],
  ] as const) {
    it(`a request update racing a payment creation never changes the ${what} under the new payment`, async () => {
      const gate = new Gate();
      const inUseCheck = (args: unknown[]) => {
        const f = args[0] as Record<string, unknown>;
        return Object.keys(f).length === 1 && 'purchaseRequestId' in f;
      };
      const w = await inProcess({ wrapStore: gated(gate, 'findOne', inUseCheck, true) });
      const m = await market(w);
      expect((await service(w).put(`/purchase-requests/${m.requestId}`, requestBody({ buyerWalletAddress: WALLET }))).status).toBe(200);
      gate.armed = true;
      const updating = service(w).put(`/purchase-requests/${m.requestId}`, requestBody(Object.assign({ buyerWalletAddress: WALLET }, change)));
      await gate.hit; // the update found no payment of the request
      const created = await w.as(BUYER).post('/', controllerBody(m));
      gate.release();
      await updating;
      const request = await w.store.purchaseRequests.findById(m.requestId);
      const live = (await w.store.payments.find({ purchaseRequestId: m.requestId })).filter((p) => p.status !== 'cancelled' && p.status !== 'failed');
      if (created.status === 201) expect(live).toHaveLength(1);
      for (const p of live) {
        expect({ buyerId: request?.buyerId, buyerWalletAddress: request?.buyerWalletAddress }).toEqual({ buyerId: p.buyerId, buyerWalletAddress: WALLET });
      }
    });
  }

  it('a cancel sent with another change, racing a payment creation, still leaves no pending payment on the cancelled request', async () => {
    const gate = new Gate();
    const inUseCheck = (args: unknown[]) => {
      const f = args[0] as Record<string, unknown>;
      return Object.keys(f).length === 1 && 'purchaseRequestId' in f;
    };
    const w = await inProcess({ wrapStore: gated(gate, 'findOne', inUseCheck, true) });
    const m = await market(w);
    gate.armed = true;
    const cancelling = service(w).put(`/purchase-requests/${m.requestId}`, requestBody({ status: 'cancelled', buyerId: 'buyer-2' }));
    await gate.hit; // the upsert found no payment of the request
    await w.as(BUYER).post('/', controllerBody(m));
    gate.release();
    await cancelling;
    const request = await w.store.purchaseRequests.findById(m.requestId);
    const pending = (await w.store.payments.find({ purchaseRequestId: m.requestId })).filter((p) => p.status === 'pending');
    if (request?.status === 'cancelled') expect(pending.map((p) => p.id)).toEqual([]);
  });

  it('cancelling a request with a funded escrow moves no money: payment and escrow unchanged, one flag, one event', async () => {
    const w = await listening();
    const m = await market(w);
    const i = await intent(w, m);
    await payInvoice(w, i, hash(1));
    const before = await paymentOf(w, i.paymentId);
    expect(before).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    const after = await paymentOf(w, i.paymentId);
    expect(after.status).toBe('completed');
    expect(after.escrowState).toBe('funded');
    expect(after.escrow).toEqual(before.escrow);
    expect(after.liveOfferKey).toBe(before.liveOfferKey);
    expect(after.attention?.map((a) => a.reason)).toEqual(['request_cancelled_with_funded_escrow']);
    expect(await eventTypesOf(w, i.paymentId)).toEqual(['payment.created', 'escrow.funded', 'payment.attention_required']);
    // The offer stays fixed under the funded escrow: no new release wallet.
    const swap = await service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, { walletAddress: ATTACKER_WALLET }));
    expect(swap.status).toBe(409);
  });

  it('cancelling a request cancels its pending payment with exactly one payment.cancelled event, and frees the offer', async () => {
    const w = await inProcess();
    const m = await market(w);
    const created = await w.as(BUYER).post('/', controllerBody(m));
    const pid = created.body.data.id as string;
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    expect(await paymentOf(w, pid)).toMatchObject({ status: 'cancelled', liveOfferKey: null });
    expect(await eventTypesOf(w, pid)).toEqual(['payment.created', 'payment.cancelled']);
  });

  it('no creation path makes a payment on a cancelled request', async () => {
    const w = await listening();
    const m = await market(w);
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    const tries = [
      await w.as(BUYER).post('/', controllerBody(m)),
      await w.admin.post('/', controllerBody(m)),
      await w.as(BUYER).post('/shkeeper/intents', intentBody(m)),
      await w.anonymous.post('/decentralized/save', saveBody(m)),
      await w.anonymous.post('/configuration', { purchaseRequestId: m.requestId }),
    ];
    for (const [n, r] of tries.entries()) expect(r.status, `try ${n} ${r.text}`).toBe(409);
    expect(await w.store.payments.count({ purchaseRequestId: m.requestId })).toBe(0);
  });

  // Found by this suite as a fault (a payment inserted between a creation's `open` check and the
  // cancel's pass stayed pending on the cancelled request, payable, and once funded unflagged);
  // fixed in 2fac550 (PaymentCoordinator.create reads the request again after its insert).
  for (const path of ['controller POST /', 'POST /shkeeper/intents', 'POST /decentralized/save'] as const) {
    it(`a cancel that answered 200 leaves no pending payment on the request, even racing ${path}`, async () => {
      const gate = new Gate();
      const w = await listening({}, { wrapStore: gated(gate, 'insertOne', () => true) });
      const m = await market(w);
      gate.armed = true;
      const creating =
        path === 'controller POST /'
          ? w.as(BUYER).post('/', controllerBody(m))
          : path === 'POST /shkeeper/intents'
            ? w.as(BUYER).post('/shkeeper/intents', intentBody(m))
            : w.anonymous.post('/decentralized/save', saveBody(m));
      await gate.hit; // the creation checked the request (open) and is about to insert
      const cancelled = await cancelRequest(w, m.requestId);
      expect(cancelled.status).toBe(200);
      gate.release();
      await creating;
      const live = (await w.store.payments.find({ purchaseRequestId: m.requestId })).filter((p) => p.status === 'pending');
      expect(live.map((p) => p.id)).toEqual([]);
    });
  }

  it('an escrow funded on a request the marketplace cancelled (cancel raced the intent) is flagged for an admin', async () => {
    const gate = new Gate();
    const w = await listening({}, { wrapStore: gated(gate, 'insertOne', () => true) });
    const m = await market(w);
    gate.armed = true;
    const creating = w.as(BUYER).post('/shkeeper/intents', intentBody(m));
    await gate.hit;
    expect((await cancelRequest(w, m.requestId)).status).toBe(200);
    gate.release();
    const r = await creating;
    // The buyer pays the invoice if one was issued (a fix may refuse the intent instead: then nothing can be paid).
    if (r.status === 200) await payInvoice(w, r.body.data as { paymentId: string; externalId: string; payAddress: string }, hash(2));
    expect((await w.store.purchaseRequests.findById(m.requestId))?.status).toBe('cancelled');
    for (const p of await w.store.payments.find({ purchaseRequestId: m.requestId })) {
      if (p.escrowState === 'funded')
        expect(
          p.attention?.map((a) => a.reason),
          p.id,
        ).toContain('request_cancelled_with_funded_escrow');
      else expect(p.status, p.id).not.toBe('pending');
    }
  });
});

describe('records in: the offer under a payment (price, currency, release wallet)', () => {
  it('a pending SHKeeper or manual payment fixes every money field of its offer, and it cannot be rejected', async () => {
    const w = await listening();
    const m = await market(w);
    await intent(w, m);
    for (const over of [
      { amount: '0.01' },
      { currency: 'USDC' },
      { walletAddress: ATTACKER_WALLET },
      { walletAddress: null },
      { sellerId: 'seller-9' },
      { status: 'rejected' },
    ]) {
      const r = await service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, over));
      expect(r.status, JSON.stringify(over)).toBe(409);
      expect(r.body.error.code).toBe('offer_in_use');
    }
    expect(await w.store.sellerOffers.findById(m.offerId)).toMatchObject({ amount: '25.5', walletAddress: WALLET, status: 'pending' });
  });

  // Found by this suite as a fault (the ingest's holder check ran before its write, so a payment
  // created in between kept the old price while the offer's price and release wallet changed
  // under it; the release pays the offer's wallet as it is then); fixed in 2fac550 (the ingest
  // takes a write back when a holder appears, and creation reads the offer again).
  for (const [what, change] of [
    ['price and release wallet', { amount: '0.01', walletAddress: ATTACKER_WALLET }],
    ['release wallet alone', { walletAddress: ATTACKER_WALLET }],
  ] as const) {
    it(`an offer update racing a payment creation never changes the ${what} under the new payment`, async () => {
      const gate = new Gate();
      // The ingest's look for a payment holding the offer (any query naming the offer's hold).
      const holderCheck = (args: unknown[]) => JSON.stringify(args[0]).includes('"liveOfferKey"');
      const w = await inProcess({ wrapStore: gated(gate, 'findOne', holderCheck, true) });
      const m = await market(w);
      gate.armed = true;
      const updating = service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, change));
      await gate.hit; // the update found no holder
      const created = await w.as(BUYER).post('/', controllerBody(m));
      gate.release();
      await updating;
      const offer = await w.store.sellerOffers.findById(m.offerId);
      const live = (await w.store.payments.find({ sellerOfferId: m.offerId })).filter((p) => p.liveOfferKey === m.offerId);
      if (created.status === 201) expect(live.map((p) => p.id)).toEqual([created.body.data.id]);
      // Whichever side won, a live payment holding the offer was created for the offer as it is now.
      for (const p of live) {
        expect({ amount: offer?.amount, walletAddress: offer?.walletAddress }).toEqual({ amount: p.amount.amount, walletAddress: WALLET });
      }
      expect(live.length + (created.status === 201 ? 0 : 1)).toBe(1);
    });
  }

  // Found here (fixed): a Web3 payment never held its offer (`liveOfferKey` stays null), so the
  // marketplace could change the release wallet while its transfer was on chain, or reject the offer
  // and change the wallet of a funded escrow. The ingest now asks `offerHolders`
  // (src/core/payments/transitions.ts), the one definition creation uses too: a Web3 payment holds
  // its offer once the chain saw its transfer.
  it('a Web3 payment that saw its transfer fixes the release wallet of its offer', async () => {
    const w = await listening();
    const m = await market(w);
    const saved = await w.anonymous.post('/decentralized/save', saveBody(m));
    expect(saved.status, saved.text).toBe(200);
    const pid = saved.body.data.id as string;
    // The chain shows a transfer that is not deep enough yet (what the verifier then writes).
    await w.ctx.settlement.markProcessing(pid, { source: 'chain_verification', actor: 'chain' });
    expect((await paymentOf(w, pid)).status).toBe('processing');
    const swap = await service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, { walletAddress: ATTACKER_WALLET }));
    expect(swap.status).toBe(409);
  });

  it('a funded Web3 escrow is released to the wallet its offer had when it was funded, never one set afterwards', async () => {
    const w = await listening();
    const m = await market(w);
    const saved = await w.anonymous.post('/decentralized/save', saveBody(m));
    expect(saved.status, saved.text).toBe(200);
    const pid = saved.body.data.id as string;
    // Allowed today (a Web3 save does not hold the offer): the marketplace rejects the offer meanwhile.
    // (Whether a fix refuses this or not, what follows must hold.)
    await service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, { status: 'rejected' }));
    // The buyer's transfer arrives: the credit the chain verifier hands to settlement once it has
    // checked the transfer (and the payer's proof); the offer lock does not depend on those checks.
    const funded = await w.ctx.settlement.credit(
      pid,
      {
        txHash: hash(3),
        from: '0x7e5f4552091a69125d5dfcb7b8c2659029395bdf',
        to: ESCROW,
        network: 'bsc',
        token: 'USDT',
        amount: '25.5',
        baseUnits: null,
        blockNumber: 1,
      },
      { source: 'chain_verification', actor: 'chain' },
    );
    expect(funded.payment).toMatchObject({ status: 'completed', escrowState: 'funded' });
    const swap = await service(w).put(`/seller-offers/${m.offerId}`, offerBody(m.requestId, { status: 'rejected', walletAddress: ATTACKER_WALLET }));
    // Who a release of this escrow pays (the rule every release and payout path uses).
    const recipient = await ruleRecipient(w.store, await paymentOf(w, pid), 'release');
    expect(swap.status).toBe(409);
    expect(recipient.toLowerCase()).toBe(WALLET.toLowerCase());
  });
});

// ═════════════════════════════════════════════════════════════════════════════════════════════
// Events out
// ═════════════════════════════════════════════════════════════════════════════════════════════

describe('events out: who may see events and secrets', () => {
  it('nobody but an admin lists, reads, redelivers or rotates; no answer to anyone, admin included, shows a secret after creation', async () => {
    const w = await listening({}, { captureLogs: true });
    const r = await receiver();
    const { id, secret } = await addEndpoint(w, r.url);
    const m = await market(w);
    const i = await intent(w, m);
    await flush(w);
    await waitFor(() => r.delivered.length >= 1, 'a delivery');
    const [delivery] = await w.store.eventDeliveries.find({});
    const [event] = await w.store.paymentEvents.find({});
    const paths = {
      get: [
        '/events',
        `/events/${event!.id}`,
        '/webhook-endpoints',
        `/webhook-endpoints/${id}`,
        `/webhook-endpoints/${id}/deliveries`,
        `/webhook-endpoints/${id}/deliveries/${delivery!.id}`,
      ],
      post: [`/webhook-endpoints/${id}/rotate-secret`, `/webhook-endpoints/${id}/deliveries/${delivery!.id}/redeliver`],
    };
    for (const who of [w.as(BUYER), w.as(SELLER), service(w), service(w, ['service', 'admin']), w.anonymous]) {
      for (const p of paths.get) {
        const res = await who.get(p);
        expect([401, 403], p).toContain(res.status);
        expect(res.text).not.toContain(secret);
        expect(res.text).not.toContain(i.paymentId);
      }
      for (const p of paths.post) expect([401, 403], p).toContain((await who.post(p, {})).status);
      expect([401, 403]).toContain((await who.patch(`/webhook-endpoints/${id}`, { url: 'https://evil.example.com/x' })).status);
      expect([401, 403]).toContain((await who.delete(`/webhook-endpoints/${id}`)).status);
    }
    expect((await w.store.webhookEndpoints.findById(id))?.url).toBe(r.url);
    expect(await w.store.eventDeliveries.count({})).toBeGreaterThanOrEqual(1);
    // The admin's own reads never carry a secret either, nor do a rotation's later reads or the logs.
    const rotated = await w.admin.post(`/webhook-endpoints/${id}/rotate-secret`, { overlapHours: 1 });
    const fresh = rotated.body.data.secret as string;
    expect(rotated.text).not.toContain(secret);
    const patched = await w.admin.patch(`/webhook-endpoints/${id}`, { description: 'x' });
    for (const p of paths.get) {
      const res = await w.admin.get(p);
      expect(res.status, p).toBe(200);
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain(fresh);
    }
    expect(patched.text).not.toContain(fresh);
    const bad = await w.admin.post('/webhook-endpoints', { url: 'ftp://x', description: secret });
    expect(bad.text).not.toContain(fresh);
    expect(w.logs.join('\n')).not.toContain(secret.slice(6));
    expect(w.logs.join('\n')).not.toContain(fresh.slice(6));
  });

  it("an admin cannot redeliver or read one endpoint's delivery through another endpoint", async () => {
    const w = await listening();
    const a = await receiver();
    const b = await receiver();
    const ea = await addEndpoint(w, a.url);
    const eb = await addEndpoint(w, b.url, { enabled: false });
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(() => a.delivered.length >= 1, 'delivery to a');
    const [d] = await w.store.eventDeliveries.find({ endpointId: ea.id });
    expect((await w.admin.get(`/webhook-endpoints/${eb.id}/deliveries/${d!.id}`)).status).toBe(404);
    const moved = await w.admin.post(`/webhook-endpoints/${eb.id}/deliveries/${d!.id}/redeliver`, {});
    expect(moved.status).toBe(404);
    // Enabled now, still not: a delivery belongs to its endpoint.
    await w.admin.patch(`/webhook-endpoints/${eb.id}`, { enabled: true });
    expect((await w.admin.post(`/webhook-endpoints/${eb.id}/deliveries/${d!.id}/redeliver`, {})).status).toBe(404);
    await flush(w);
    expect(b.received).toHaveLength(0);
  });

  it('endpoint bodies are strict: no chosen secret, no owner, no unknown type, nothing written', async () => {
    const w = await listening();
    const url = 'https://hooks.example.com/x';
    for (const body of [
      { url, secret: 'whsec_mine' },
      { url, secrets: [{ secret: 'whsec_mine' }] },
      { url, createdBy: 'someone' },
      { url, eventTypes: [] },
      { url, eventTypes: ['*', 'payment.created'] },
      { url, eventTypes: ['payment.*'] },
      { url, eventTypes: ['constructor'] },
      { url, enabled: 'true' },
      { url: `https://hooks.example.com/${'a'.repeat(2048)}` },
      { url: ['https://a.example.com'] },
      JSON.parse('{"url":"https://hooks.example.com/x","__proto__":{"enabled":false}}'),
    ]) {
      const r = await w.admin.post('/webhook-endpoints', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect(await w.store.webhookEndpoints.count({})).toBe(0);
    const { id } = await addEndpoint(w, url);
    for (const body of [
      { secrets: [] },
      { id: newObjectId() },
      { eventTypes: ['nope'] },
      { url: 'ftp://hooks.example.com/' },
      { url: 'https://u:p@hooks.example.com/' },
    ]) {
      const r = await w.admin.patch(`/webhook-endpoints/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    for (const bad of ['abc', '__proto__', `${id}0`]) expect([400, 404]).toContain((await w.admin.get(`/webhook-endpoints/${bad}`)).status);
    expect((await w.store.webhookEndpoints.findById(id))!.secrets).toHaveLength(1);
  });

  it('hostile cursors and limits are refused, and a cursor of another list never pages this one', async () => {
    const w = await listening();
    const r = await receiver();
    const e1 = await addEndpoint(w, r.url);
    const e2 = await addEndpoint(w, r.url);
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(async () => (await w.store.eventDeliveries.count({ status: 'succeeded' })) === 2, 'deliveries');
    const [d1] = await w.store.eventDeliveries.find({ endpointId: e1.id });
    const [ev] = await w.store.paymentEvents.find({});
    const q = (p: string) => w.admin.get(p);
    for (const p of [
      '/events?limit=0',
      '/events?limit=101',
      '/events?limit=-1',
      '/events?limit=1e2',
      '/events?limit=abc',
      '/events?starting_after=abc',
      '/events?starting_after[$gt]=',
      `/events?starting_after=${ev!.id}&starting_after=${ev!.id}`,
      '/events?type=payment.*',
      '/events?paymentId[$ne]=x',
      `/events?starting_after=${d1!.id}`,
      `/events?type=escrow.funded&starting_after=${ev!.id}`,
      `/webhook-endpoints/${e2.id}/deliveries?starting_after=${d1!.id}`,
      `/webhook-endpoints/${e1.id}/deliveries?starting_after=${ev!.id}`,
    ]) {
      const res = await q(p);
      expect(res.status, `${p} ${res.text}`).toBe(400);
    }
  });
});

describe('events out: endpoint URLs (WEBHOOK_ENDPOINTS_ALLOW_PRIVATE off)', () => {
  it('refuses every spelling of a loopback, private, link-local, metadata or reserved address when saved or changed', async () => {
    const w = await listening({ WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false' });
    const refused = [
      'http://2130706433/',
      'http://127.0.0.1./',
      'http://127%2e0.0.1/',
      'http://127\u30020\u30020\u30021/',
      'http://0x7f000001/',
      'http://0177.0.0.1/',
      'http://0x7f.1/',
      'http://127.1/',
      'http://0/',
      'http://0.0.0.0:3000/',
      'http://[::]/',
      'http://[::1]:80/',
      'http://[0:0:0:0:0:0:0:1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]/',
      'http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/meta-data',
      'http://[::ffff:10.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/',
      'http://100.64.0.1/',
      'http://172.16.0.1/',
      'http://192.168.0.1/',
      'http://LOCALHOST/',
      'http://foo.localhost/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://printer.local/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_INFO',
      'http://hooks.example.com/#frag',
    ];
    for (const url of refused) {
      const r = await w.admin.post('/webhook-endpoints', { url });
      expect(r.status, url).toBe(400);
      expect(r.body.error.code, url).toBe('endpoint_url_refused');
    }
    const ok = await addEndpoint(w, 'https://hooks.example.com/escrow');
    for (const url of ['http://[::ffff:7f00:1]/', 'http://2130706433/', 'http://169.254.169.254/']) {
      const r = await w.admin.patch(`/webhook-endpoints/${ok.id}`, { url });
      expect(r.status, url).toBe(400);
    }
    expect(await w.store.webhookEndpoints.count({})).toBe(1);
    expect((await w.store.webhookEndpoints.findById(ok.id))?.url).toBe('https://hooks.example.com/escrow');
  });

  // Also found by the unit suite of a387f35 (it.fails there); fixed in the working tree at the
  // time of writing (hostMayBePublic strips one trailing dot). Kept as the invariant.
  it('the fully-qualified name localhost. is refused when saved', async () => {
    const w = await listening({ WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false' });
    for (const url of ['http://localhost./hooks', 'http://localhost%2e/hooks', 'http://foo.localhost./']) {
      const r = await w.admin.post('/webhook-endpoints', { url });
      expect(r.status, url).toBe(400);
    }
  });

  it('a name that resolves to loopback is refused at send time (DNS), never connected to', async () => {
    const lookup = publicLookup(false);
    await expect(lookup('localhost')).rejects.toThrow(/loopback, private/);
    await expect(publicLookup(true)('localhost')).resolves.toEqual([[{ address: '127.0.0.1', family: 4 }]]);
  });

  it('an endpoint stored with a private address in another spelling is never called when the setting is off', async () => {
    const store = new MemoryStore(systemClock);
    const r = await receiver();
    const now = new Date();
    await store.webhookEndpoints.insertOne({
      id: newObjectId(),
      // IPv4-mapped IPv6 for 127.0.0.1, in URL-normalised hex.
      url: `http://[::ffff:7f00:1]:${r.port}/hooks`,
      description: null,
      enabled: true,
      eventTypes: ['*'],
      secrets: [{ secret: 'whsec_x', createdAt: now, expiresAt: null }],
      createdBy: 'admin-1',
      createdAt: now,
      updatedAt: now,
    });
    const w = await listening({ WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000' }, { store });
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(async () => (await store.eventDeliveries.count({ 'job.attempts': { $gte: 1 } })) >= 1, 'one try');
    expect(r.received).toHaveLength(0);
    expect((await store.eventDeliveries.find({}))[0]!.error).toMatch(/refused URL/);
  });

  it('a redirect is never followed: a receiver pointing at another (private) address gets it, the target does not', async () => {
    const w = await listening({ OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000' });
    const target = await receiver();
    const redirector = createServer((_req, res) => res.writeHead(307, { location: target.url }).end());
    await new Promise<void>((ok) => redirector.listen(0, '127.0.0.1', () => ok()));
    stops.push(() => new Promise<void>((ok) => redirector.close(() => ok())));
    const port = (redirector.address() as { port: number }).port;
    await addEndpoint(w, `http://127.0.0.1:${port}/hooks`);
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(async () => (await w.store.eventDeliveries.count({ responseCode: 307 })) >= 1, 'the redirect answer');
    expect(target.received).toHaveLength(0);
    expect(await w.store.eventDeliveries.count({ status: 'succeeded' })).toBe(0);
  });
});

describe('events out: secret rotation', () => {
  it('with no overlap the old secret stops signing at once; the new one signs every later delivery', async () => {
    const w = await listening();
    const r = await receiver();
    const { id, secret: old } = await addEndpoint(w, r.url);
    const rotated = await w.admin.post(`/webhook-endpoints/${id}/rotate-secret`, { overlapHours: 0 });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.data.secret as string;
    await intent(w, await market(w));
    await flush(w);
    await waitFor(() => r.delivered.length >= 1, 'a delivery');
    const got = r.delivered[0]!;
    const header = got.headers['escrow-signature'] as string;
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(1);
    expect(verifyEventSignature({ body: got.body, header, secret: fresh }).ok).toBe(true);
    expect(verifyEventSignature({ body: got.body, header, secret: old }).ok).toBe(false);
    for (const bad of [{ overlapHours: -1 }, { overlapHours: 169 }, { overlapHours: 1.5 }, { overlapHours: '24' }, { secret: 'whsec_mine' }]) {
      expect((await w.admin.post(`/webhook-endpoints/${id}/rotate-secret`, bad)).status, JSON.stringify(bad)).toBe(400);
    }
  });

  // Found here (fixed): a rotation was conditional on `updatedAt` only, so two in the same
  // millisecond both succeeded and the first admin's new secret never signed. It is now
  // conditional on the very secrets read.
  it('two racing rotations never answer a secret that does not sign', async () => {
    const gate = new Gate();
    const clock = new ManualClock(Date.now());
    const w = await listening({}, { clock, wrapStore: gated(gate, 'findById', () => true, true, 'webhookEndpoints') });
    const r = await receiver();
    const { id } = await addEndpoint(w, r.url);
    gate.armed = true;
    const first = w.admin.post(`/webhook-endpoints/${id}/rotate-secret`, { overlapHours: 1 });
    await gate.hit; // the first rotation read the endpoint
    const second = await w.admin.post(`/webhook-endpoints/${id}/rotate-secret`, { overlapHours: 1 });
    gate.release();
    const answered = [await first, second].filter((x) => x.status === 200).map((x) => x.body.data.secret as string);
    const live = (await w.store.webhookEndpoints.findById(id))!.secrets.map((s) => s.secret);
    for (const secret of answered) expect(live).toContain(secret);
  });
});

describe('events out: signatures', () => {
  it('verify only over the exact bytes, with the right secret, within the tolerance; a captured delivery cannot be replayed later', async () => {
    const w = await listening();
    const r = await receiver();
    const { secret } = await addEndpoint(w, r.url);
    const other = await addEndpoint(w, r.url);
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(() => r.delivered.length >= 2, 'deliveries to both endpoints');
    const got = r.delivered.find((x) => verifyEventSignature({ body: x.body, header: x.headers['escrow-signature'] as string, secret }).ok)!;
    expect(got).toBeDefined();
    const header = got.headers['escrow-signature'] as string;
    const t = Number(/t=(\d+)/.exec(header)![1]);
    const check = (o: Partial<Parameters<typeof verifyEventSignature>[0]>) => verifyEventSignature({ body: got.body, header, secret, ...o }).ok;
    expect(check({})).toBe(true);
    expect(check({ body: Buffer.from(got.body) })).toBe(true);
    // Re-serialised, re-spaced, re-ordered or one byte changed: refused.
    const parsed = JSON.parse(got.body) as Record<string, unknown>;
    expect(check({ body: JSON.stringify(parsed, null, 1) })).toBe(false);
    expect(check({ body: JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse())) })).toBe(false);
    expect(check({ body: got.body.replace('payment.created', 'escrow.funded') })).toBe(false);
    expect(check({ body: `${got.body}\n` })).toBe(false);
    // Another endpoint's secret (both were sent the same event).
    expect(check({ secret: other.secret })).toBe(false);
    // Replayed after the tolerance, or with a forged timestamp.
    expect(check({ nowSeconds: t + 301 })).toBe(false);
    expect(check({ nowSeconds: t - 301 })).toBe(false);
    expect(check({ header: header.replace(`t=${t}`, `t=${t + 1}`) })).toBe(false);
    expect(check({ header: `t=${t + 400},${header}`, nowSeconds: t + 400 })).toBe(false);
    // Hostile headers never throw.
    for (const h of [
      '',
      't=',
      'v1=',
      `t=${t}`,
      `t=${t},v1=zz`,
      `t=${t},v1=${'0'.repeat(64)}`,
      't=1e9,v1=',
      `t=-1,v1=${'a'.repeat(64)}`,
      ',,,,',
      '='.repeat(10_000),
    ]) {
      expect(check({ header: h })).toBe(false);
    }
  });

  it('non-ASCII text in a payment (buyer metadata) is signed over the bytes actually sent', async () => {
    const w = await listening();
    const r = await receiver();
    const { secret } = await addEndpoint(w, r.url, { eventTypes: ['payment.created'] });
    const m = await market(w);
    const res = await w.as(BUYER).post('/shkeeper/intents', { ...intentBody(m), metadata: { note: 'café ☕ \u2028 𝄞 "quoted" \\ </script>' } });
    expect(res.status, res.text).toBe(200);
    await flush(w);
    await waitFor(() => r.delivered.length >= 1, 'a delivery');
    const got = r.delivered[0]!;
    expect(verifyEventSignature({ body: Buffer.from(got.body, 'utf8'), header: got.headers['escrow-signature'] as string, secret }).ok).toBe(true);
    expect(JSON.parse(got.body).data.payment.metadata.note).toContain('𝄞');
  });

  // A NaN tolerance (a receiver's Number() of an unset setting) once turned the timestamp check
  // off; found by a387f35 too and fixed in the working tree at the time of writing. The invariant:
  it('a replay years later is refused whatever tolerance a receiver passes (NaN included)', () => {
    const body = '{"id":"x"}';
    const header = signEvent(body, ['whsec_a'], 1_000_000_000);
    expect(verifyEventSignature({ body, header, secret: 'whsec_a', toleranceSeconds: Number(undefined), nowSeconds: 1_900_000_000 }).ok).toBe(false);
  });
});

describe('events out: exactly one event per change, of the right type, only for changes that happened', () => {
  it('a payment created, seen short, funded, credited excess, released: one event each, in order, matching its history', async () => {
    const w = await listening();
    const r = await receiver();
    await addEndpoint(w, r.url);
    const m = await market(w);
    const i = await intent(w, m);
    await payInvoice(w, i, hash(10), '10');
    await payInvoice(w, i, hash(10), '10'); // SHKeeper repeats itself
    const full = invoiceCallback(i, { balance_crypto: '25.5' }, { amount_crypto: '15.5', txid: hash(11) });
    full.transactions.unshift({ ...full.transactions[0]!, txid: hash(10), amount_crypto: '10', trigger: false });
    expect((await postWebhook(w, full)).status).toBeLessThan(300);
    const extra = invoiceCallback(i, { balance_crypto: '30.5' }, { amount_crypto: '5', txid: hash(12) });
    expect((await postWebhook(w, extra)).status).toBeLessThan(300);
    const funded = await paymentOf(w, i.paymentId);
    expect(funded).toMatchObject({ status: 'completed', escrowState: 'funded' });
    const d = preparedDisbursement('release', { recipient: WALLET, createdBy: 'admin-1' }, { amount: '25.5' });
    await w.ctx.coordinator.openDisbursement(i.paymentId, d, { source: 'test', actor: 'admin-1' });
    await w.ctx.coordinator.settleDisbursement(i.paymentId, d.id, {
      source: 'test',
      actor: 'admin-1',
      evidence: hash(13),
      effects: RELEASE_EFFECTS,
      hashField: 'releaseTxHash',
    });
    const types = await eventTypesOf(w, i.paymentId);
    const p = await paymentOf(w, i.paymentId);
    const excess = p.escrow!.credits.filter((c) => c.kind === 'excess').length;
    expect(excess).toBeGreaterThanOrEqual(1);
    expect(types).toEqual(['payment.created', 'payment.processing', 'escrow.funded', ...Array(excess).fill('escrow.excess_received'), 'escrow.released']);
    // One status event per status move of the history.
    const moves = p.history.filter((h) => h.fromStatus !== null && h.fromStatus !== h.toStatus).length;
    expect(types.filter((t) => t !== 'payment.created' && t !== 'escrow.excess_received')).toHaveLength(moves);
    await flush(w);
    await waitFor(() => r.delivered.length === types.length, 'every event delivered');
    await flush(w);
    expect(r.delivered.map((x) => parse(x.body).type)).toEqual(types);
    expect(new Set(r.delivered.map((x) => parse(x.body).id)).size).toBe(types.length);
  });

  it('a SHKeeper payout: payout.created and payout.completed on the payout, escrow.released on the escrow, once each despite repeated callbacks', async () => {
    const w = await listening(QUIET_MONITORS, { shkeeper: { payoutCallbacks: true } });
    const r = await receiver();
    await addEndpoint(w, r.url);
    const m = await market(w);
    const i = await intent(w, m);
    await payInvoice(w, i, hash(50));
    const created = await w.admin.post('/shkeeper/payout', {
      purchaseRequestId: m.requestId,
      sellerOfferId: m.offerId,
      buyerId: BUYER,
      sellerId: SELLER,
      amount: 25.5,
      recipientAddress: WALLET,
    });
    expect(created.status, created.text).toBe(200);
    const { payoutId, taskId } = created.body.data as { payoutId: string; taskId: string };
    w.fake.completePayoutTask(taskId, { txids: [hash(51)], callback: { duplicates: 2 } });
    await w.fake.callbacksSettled();
    expect(await paymentOf(w, payoutId)).toMatchObject({ status: 'completed' });
    expect(await paymentOf(w, i.paymentId)).toMatchObject({ status: 'released' });
    expect(await eventTypesOf(w, payoutId)).toEqual(['payout.created', 'payout.completed']);
    expect(await eventTypesOf(w, i.paymentId)).toEqual(['payment.created', 'escrow.funded', 'escrow.released']);
    await flush(w);
    await waitFor(() => r.delivered.length >= 5, 'every event delivered');
    await flush(w);
    expect(r.delivered).toHaveLength(5);
  });

  it('refused writes (a party completing, an admin cancelling a funded escrow, a stranger, a bad hash) produce no event', async () => {
    const w = await listening();
    const m = await market(w);
    const i = await intent(w, m);
    await payInvoice(w, i, hash(20));
    await w.ctx.eventRelay.drain();
    const before = await w.store.paymentEvents.count({});
    const refusals = [
      await w.as(BUYER).put(`/${i.paymentId}`, { status: 'cancelled' }),
      await w.as(SELLER).put(`/${i.paymentId}`, { status: 'completed' }),
      await w.admin.put(`/${i.paymentId}`, { status: 'cancelled' }),
      await w.admin.put(`/${i.paymentId}`, { status: 'failed' }),
      await w.admin.put(`/${i.paymentId}`, { status: 'pending' }),
      await w.as('stranger').put(`/${i.paymentId}`, { status: 'cancelled' }),
      await service(w).put(`/${i.paymentId}`, { status: 'failed' }),
      await w.admin.post(`/shkeeper/${i.paymentId}/release/confirm`, { txHash: hash(21) }),
      await cancelRequest(w, m.requestId).then(() => w.as(BUYER).put(`/${i.paymentId}`, { metadata: { a: 1 } })),
    ];
    for (const [n, r] of refusals.entries()) expect(r.status, `try ${n} ${r.text}`).toBeGreaterThanOrEqual(400);
    await w.ctx.eventRelay.drain();
    // Only the cancellation's admin flag was a real change.
    const after = await w.store.paymentEvents.find({}, { sort: { createdAt: 1, id: 1 } });
    expect(after.slice(before).map((e) => e.type)).toEqual(['payment.attention_required']);
    expect((await paymentOf(w, i.paymentId)).status).toBe('completed');
  });

  it('an admin failing, or the buyer cancelling, a pending payment: exactly one payment.failed / payment.cancelled', async () => {
    const w = await inProcess();
    const a = await market(w);
    const failed = (await w.as(BUYER).post('/', controllerBody(a))).body.data.id as string;
    expect((await w.admin.put(`/${failed}`, { status: 'failed' })).status).toBe(200);
    expect((await w.admin.put(`/${failed}`, { status: 'failed' })).status).toBeLessThan(500);
    const b = await market(w);
    const cancelled = (await w.as(BUYER).post('/', controllerBody(b))).body.data.id as string;
    const both = await Promise.all([w.as(BUYER).put(`/${cancelled}`, { status: 'cancelled' }), w.as(BUYER).put(`/${cancelled}`, { status: 'cancelled' })]);
    expect(both.map((r) => r.status)).toContain(200);
    expect(await eventTypesOf(w, failed)).toEqual(['payment.created', 'payment.failed']);
    expect(await eventTypesOf(w, cancelled)).toEqual(['payment.created', 'payment.cancelled']);
  });

  // Found here (fixed): the legacy cleanup deleted abandoned pending payments with a bare
  // deleteMany, outside the outbox, so the marketplace never heard they ended. They are now
  // cancelled through the coordinator (payment.cancelled), and deleted once the relay recorded it.
  it('a pending payment removed by the admin cleanup is announced as ended to the marketplace', async () => {
    const clock = new ManualClock(Date.now());
    const w = await inProcess({ clock });
    const m = await market(w);
    const pid = (await w.as(BUYER).post('/', controllerBody(m))).body.data.id as string;
    expect(await eventTypesOf(w, pid)).toEqual(['payment.created']);
    clock.advance(10 * 60_000);
    const r = await w.admin.post('/payments/cleanup-pending', { olderThanMinutes: 1 });
    expect(r.status, r.text).toBe(200);
    const left = await w.store.payments.findById(pid);
    const ends = (await eventTypesOf(w, pid)).filter((t) => t === 'payment.cancelled' || t === 'payment.failed');
    // Either the payment is still there and still pending (nothing to announce), or its end was announced once.
    if (left?.status === 'pending') expect(ends).toEqual([]);
    else expect(ends).toHaveLength(1);
  });

  it('relays racing each other and two endpoints: every event is logged once and sent once to each endpoint', async () => {
    const w = await listening();
    const a = await receiver();
    const b = await receiver();
    await addEndpoint(w, a.url);
    await addEndpoint(w, b.url);
    const payments: string[] = [];
    for (let n = 0; n < 3; n++) {
      const m = await market(w);
      const i = await intent(w, m);
      await payInvoice(w, i, hash(30 + n));
      payments.push(i.paymentId);
    }
    await Promise.all([w.ctx.eventRelay.drain(), w.ctx.eventRelay.drain(), w.ctx.eventRelay.drain()]);
    await Promise.all([w.ctx.eventDeliveries.drain(), w.ctx.eventDeliveries.drain()]);
    await waitFor(() => a.delivered.length >= 6 && b.delivered.length >= 6, 'all deliveries');
    await flush(w);
    expect(await w.store.paymentEvents.count({})).toBe(6);
    for (const rec of [a, b]) {
      const got = rec.received.map((x) => parse(x.body));
      expect(got).toHaveLength(6);
      expect(new Set(got.map((e) => e.id)).size).toBe(6);
      for (const pid of payments) expect(got.filter((e) => e.data.payment.id === pid).map((e) => e.type)).toEqual(['payment.created', 'escrow.funded']);
    }
    expect((await w.store.payments.find({})).every((p) => (p.pendingEvents ?? []).length === 0)).toBe(true);
  });
});

describe('events out: receivers that misbehave', () => {
  /** A receiver that answers 200 at once and then sends its body one byte every `everyMs`, never ending. */
  async function trickler(everyMs: number) {
    const timers = new Set<NodeJS.Timeout>();
    let requests = 0;
    const server: Server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), everyMs);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    stops.push(async () => {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    });
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, requests: () => requests };
  }

  it('a receiver that accepts and never answers holds a slot only for the timeout: others are delivered', async () => {
    const w = await listening({ OUTBOUND_WEBHOOK_CONCURRENCY: '1', OUTBOUND_WEBHOOK_TIMEOUT_MS: '300', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000' });
    const silent = createServer(() => undefined);
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', () => ok()));
    stops.push(async () => {
      silent.closeAllConnections();
      await new Promise<void>((ok) => silent.close(() => ok()));
    });
    const healthy = await receiver();
    await addEndpoint(w, `http://127.0.0.1:${(silent.address() as { port: number }).port}/hooks`);
    await addEndpoint(w, healthy.url);
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(() => healthy.delivered.length >= 1, 'the healthy endpoint', 5_000);
    const stuck = await w.store.eventDeliveries.find({ status: 'pending' });
    expect(stuck.some((d) => /timed out/.test(d.error ?? ''))).toBe(true);
  });

  // Found here (fixed): axios' timeout stops at the response headers, so a receiver trickling its
  // body held a delivery slot for hours. A try now has one deadline (AbortSignal), body included.
  it('a receiver that trickles its answer is cut off at the timeout and holds back no other endpoint', async () => {
    const w = await listening({ OUTBOUND_WEBHOOK_CONCURRENCY: '1', OUTBOUND_WEBHOOK_TIMEOUT_MS: '300', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000' });
    const slow = await trickler(100);
    const healthy = await receiver();
    await addEndpoint(w, slow.url);
    await addEndpoint(w, healthy.url);
    await intent(w, await market(w));
    await w.ctx.eventRelay.drain();
    await waitFor(() => slow.requests() >= 1, 'the trickling receiver being called');
    // While that try trickles, another payment's event is queued for both endpoints.
    const second = await intent(w, await market(w));
    await w.ctx.eventRelay.drain();
    // Ten times the timeout: the trickled try must be over and the healthy endpoint served.
    await new Promise((ok) => setTimeout(ok, 3_000));
    expect(healthy.delivered.map((x) => parse(x.body).data.payment.id)).toContain(second.paymentId);
  });

  // Found here (fixed): a 2xx with a body over 64 KiB made axios throw, so the event was sent again
  // for three days. The status decides now; only the body's first KiB is read.
  it('a 2xx with a large body is delivered, once', async () => {
    const w = await listening();
    const big = 'x'.repeat(200 * 1024);
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/html' }).end(big));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    stops.push(() => new Promise<void>((ok) => server.close(() => ok())));
    await addEndpoint(w, `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, { eventTypes: ['payment.created'] });
    const m = await market(w);
    await intent(w, m);
    await flush(w);
    await waitFor(() => requests >= 1, 'a try');
    await new Promise((ok) => setTimeout(ok, 500));
    await flush(w);
    expect(requests).toBe(1);
    expect(await w.store.eventDeliveries.count({ status: 'succeeded' })).toBe(1);
  });

  // Found by this suite as a fault (EVENT_RETENTION_DAYS=1 with the default 72 h of retries let
  // the retention sweep delete deliveries still queued); fixed in d57cb66 (the config refuses it).
  it('a delivery still being retried is never deleted by retention', async () => {
    const clock = new ManualClock(Date.now());
    let w: World;
    try {
      w = await inProcess({
        clock,
        env: { ...FAST, EVENT_RETENTION_DAYS: '1', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '600000', OUTBOUND_WEBHOOK_RETRY_MAX_MS: '3600000' },
      });
    } catch (err) {
      // Refusing the setting at start keeps the invariant too.
      expect(String(err)).toMatch(/EVENT_RETENTION_DAYS/);
      return;
    }
    const r = await receiver();
    r.status = 503;
    await addEndpoint(w, r.url, { eventTypes: ['payment.created'] });
    await w.as(BUYER).post('/', controllerBody(await market(w)));
    await flush(w);
    expect(r.received).toHaveLength(1);
    const [queued] = await w.store.eventDeliveries.find({});
    expect(queued).toMatchObject({ status: 'pending', job: { state: 'queued' } });
    // A day and an hour later the receiver is still down; its retries have two more days to go.
    clock.advance(25 * 3_600_000);
    await w.monitor('retentionSweep').tick();
    expect(await w.store.eventDeliveries.findById(queued!.id)).not.toBeNull();
  });

  it('a receiver down, then up, gets each payment’s events once and in order (no loss, no duplicate)', async () => {
    const w = await listening();
    const r = await receiver();
    await addEndpoint(w, r.url);
    await r.down();
    const ids: string[] = [];
    for (let n = 0; n < 2; n++) {
      const m = await market(w);
      const i = await intent(w, m);
      await payInvoice(w, i, hash(40 + n));
      await cancelRequest(w, m.requestId);
      ids.push(i.paymentId);
    }
    await w.ctx.eventRelay.drain();
    await waitFor(async () => (await w.store.eventDeliveries.count({ 'job.attempts': { $gte: 2 } })) >= 2, 'failed tries');
    await r.up();
    await waitFor(async () => (await w.store.eventDeliveries.count({ status: 'succeeded' })) === 6, 'all delivered');
    const got = r.delivered.map((x) => parse(x.body));
    expect(got).toHaveLength(6);
    for (const pid of ids) {
      expect(got.filter((e) => e.data.payment.id === pid).map((e) => e.type)).toEqual(['payment.created', 'escrow.funded', 'payment.attention_required']);
    }
  });
});
