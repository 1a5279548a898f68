/**
 * The server side of the growth section (bench/sections/growth.ts): grows a MemoryStore to a given
 * number of payments with the records a real deployment accumulates, straight through the
 * store's `insertOne` (seeding is setup, not what is measured), and makes the fixtures the
 * measured requests use up.
 *
 * What one seeded payment brings (payment i, 0-based, never reused as the store grows):
 *   - its purchase request (buyer `gb-⌊i/20⌋`: every buyer ends with exactly 20 payments, so the
 *     measured user `gb-0` has 20 whatever the size) with three seller offers;
 *   - the payment itself, provider and status cycling over the shapes the app writes (funded ones
 *     with a ledger credit, released/refunded ones with their settled disbursement, unique hashes
 *     and keys where the store keeps them unique), sellers spread over 1,000 ids;
 *   - for a SHKeeper payment: the intent's idempotency record, and once funded the delivery that
 *     applied it (every fourth one delivered twice, the second counted as a duplicate).
 */
import { AppError } from '../src/platform/errors.js';
import { newObjectId } from '../src/platform/ids.js';
import { creditKey, emptyLedger } from '../src/core/payments/escrowLedger.js';
import type { ShkeeperClient } from '../src/adapters/shkeeper/shkeeperClient.js';
import type {
  Disbursement,
  EscrowLedger,
  HistoryEntry,
  IdempotencyRecord,
  PaymentRecord,
  PaymentStatus,
  Provider,
  PurchaseRequestRecord,
  SellerOfferRecord,
  WebhookDeliveryRecord,
} from '../src/core/store/records.js';
import type { Store } from '../src/core/store/store.js';
import type { GrowResult, GrowthCheck, IntentFixture, InvoiceFixture, StoreCounts } from './protocol.js';

export const LIST_USER = 'gb-0';
const PAYMENTS_PER_BUYER = 20;
const SELLERS = 1_000;
const INTENT_BUYER = 'gi-buyer';
const CRYPTO = 'BNB-USDT';
const ESCROW_ADDRESS = '0x4444444444444444444444444444444444444444';
const INTENT_ROUTE = 'POST /api/payment/shkeeper/intents';
const BASE_MS = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;

/** Ten payments in a row: mostly settled, some in flight, some dead, as a live store looks. */
const STATUS_CYCLE: PaymentStatus[] = [
  'completed',
  'released',
  'completed',
  'pending',
  'released',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'refunded',
];
const PROVIDER_CYCLE: Provider[] = ['shkeeper', 'decentralized', 'manual'];
const FUNDED = new Set<PaymentStatus>(['completed', 'released', 'refunded']);
const LIVE = new Set<PaymentStatus>(['pending', 'processing', 'completed', 'released', 'refunded']);

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
/** A distinct, valid-looking hash or address per (kind, n): kinds keep the unique keys apart. */
const hash = (kind: number, n: number) => `0x${hex(kind, 8)}${hex(n, 56)}`;
const address = (kind: number, n: number) => `0x${hex(kind, 8)}${hex(n, 32)}`;

interface Rows {
  request: PurchaseRequestRecord;
  offers: SellerOfferRecord[];
  payment: PaymentRecord;
  deliveries: WebhookDeliveryRecord[];
  idempotency: IdempotencyRecord | null;
}

function history(status: PaymentStatus, provider: Provider, buyer: string, at: Date): HistoryEntry[] {
  const entry = (
    fromStatus: PaymentStatus | null,
    toStatus: PaymentStatus,
    fromEscrow: HistoryEntry['fromEscrow'],
    toEscrow: HistoryEntry['toEscrow'],
    minutes: number,
    source: string,
    actor: string,
  ): HistoryEntry => ({
    fromStatus,
    toStatus,
    fromEscrow,
    toEscrow,
    source,
    actor,
    at: new Date(at.getTime() + minutes * 60_000),
    reason: null,
  });
  const out = [entry(null, 'pending', null, 'unfunded', 0, provider === 'shkeeper' ? 'shkeeper_intent' : 'api', buyer)];
  if (status === 'pending') return out;
  if (status === 'failed' || status === 'cancelled') return [...out, entry('pending', status, 'unfunded', 'unfunded', 30, 'api', buyer)];
  if (status === 'processing') return [...out, entry('pending', 'processing', 'unfunded', 'unfunded', 5, 'chain_verification', 'system')];
  out.push(entry('pending', 'completed', 'unfunded', 'funded', 8, provider === 'shkeeper' ? 'shkeeper_webhook' : 'chain_verification', 'system'));
  if (status === 'released') out.push(entry('completed', 'released', 'funded', 'released', 60 * 24, 'escrow_release', 'admin'));
  if (status === 'refunded') out.push(entry('completed', 'refunded', 'funded', 'refunded', 60 * 48, 'escrow_refund', 'admin'));
  return out;
}

function ledger(
  i: number,
  status: PaymentStatus,
  provider: Provider,
  amount: string,
  seller: string,
  at: Date,
): { ledger: EscrowLedger; key: string | null; txHash: string | null } {
  if (!FUNDED.has(status)) return { ledger: emptyLedger(), key: null, txHash: null };
  const txHash = hash(1, i);
  const payer = address(2, i);
  const to = provider === 'shkeeper' ? address(3, i) : ESCROW_ADDRESS;
  const key = provider === 'shkeeper' ? `${CRYPTO}:${txHash}:${to}` : creditKey('bsc', txHash, to);
  const disbursed =
    status === 'completed' ? [] : [disbursement(i, status === 'released' ? 'release' : 'refund', status === 'released' ? seller : payer, amount, at)];
  return {
    key,
    txHash,
    ledger: {
      received: amount,
      credits: [
        {
          key,
          kind: 'funding',
          reason: null,
          txHash,
          from: payer,
          to,
          network: 'bsc',
          token: 'USDT',
          amount,
          baseUnits: null,
          blockNumber: 40_000_000 + i,
          source: provider === 'shkeeper' ? 'shkeeper_webhook' : 'chain_verification',
          at: new Date(at.getTime() + 8 * 60_000),
        },
      ],
      shortfall: null,
      payers: [],
      payer,
      inFlight: null,
      disbursements: disbursed,
      disbursed: disbursed.length > 0 ? amount : '0',
    },
  };
}

function disbursement(i: number, kind: 'release' | 'refund', recipient: string, amount: string, at: Date): Disbursement {
  const settled = new Date(at.getTime() + 24 * HOUR);
  return {
    id: newObjectId(settled),
    kind,
    method: 'escrow_tx',
    recipient,
    amount,
    state: 'settled',
    override: null,
    payoutId: null,
    evidence: hash(kind === 'release' ? 4 : 5, i),
    payload: null,
    createdBy: 'admin',
    createdAt: settled,
    updatedAt: settled,
  };
}

/** Every record that payment i brings with it. */
function rowsFor(i: number): Rows {
  const createdAt = new Date(BASE_MS + i * 53_000);
  const updatedAt = new Date(createdAt.getTime() + HOUR);
  const status = STATUS_CYCLE[i % STATUS_CYCLE.length]!;
  const provider = PROVIDER_CYCLE[Math.floor(i / STATUS_CYCLE.length) % PROVIDER_CYCLE.length]!;
  const buyerId = `gb-${Math.floor(i / PAYMENTS_PER_BUYER)}`;
  const amount = `${10 + (i % 490)}.25`;
  const funded = FUNDED.has(status);

  const requestedAt = new Date(createdAt.getTime() - HOUR);
  const request: PurchaseRequestRecord = {
    id: newObjectId(requestedAt),
    buyerId,
    title: `Request ${i}`,
    buyerWalletAddress: i % 2 === 0 ? address(2, i) : null,
    status: status === 'released' ? 'seller_paid' : status === 'refunded' ? 'refunded' : status === 'completed' ? 'payment_processing' : 'open',
    createdAt: requestedAt,
    updatedAt,
  };
  const offers = [0, 1, 2].map((k): SellerOfferRecord => ({
    id: newObjectId(createdAt),
    purchaseRequestId: request.id,
    sellerId: `gs-${(i + k * 7) % SELLERS}`,
    amount: k === 0 ? amount : `${11 + (i % 490) + k}.5`,
    currency: 'USDT',
    walletAddress: address(6, i * 3 + k),
    status: funded ? (k === 0 ? 'accepted' : 'rejected') : 'pending',
    createdAt,
    updatedAt,
  }));
  const sellerId = offers[0]!.sellerId;
  const l = ledger(i, status, provider, amount, sellerId, createdAt);
  const id = newObjectId(createdAt);
  const shk = provider === 'shkeeper';
  const externalId = shk ? `AMN_${id}` : null;
  const payment: PaymentRecord = {
    id,
    provider,
    direction: 'in',
    status,
    escrowState: status === 'released' ? 'released' : status === 'refunded' ? 'refunded' : funded ? 'funded' : 'unfunded',
    purchaseRequestId: request.id,
    sellerOfferId: offers[0]!.id,
    buyerId,
    sellerId,
    amount: { amount, currency: 'USDT' },
    blockchain: { network: 'bsc', token: 'USDT' },
    transactionHash: l.txHash,
    externalId,
    paymentUrl: shk ? `https://shkeeper.example.com/invoice/${externalId}` : null,
    payAddress: shk ? address(3, i) : provider === 'decentralized' ? ESCROW_ADDRESS : null,
    expiresAt: shk ? new Date(createdAt.getTime() + HOUR) : null,
    providerTaskId: null,
    releaseTxHash: status === 'released' ? hash(4, i) : null,
    refundTxHash: status === 'refunded' ? hash(5, i) : null,
    liveOfferKey: LIVE.has(status) ? offers[0]!.id : null,
    escrow: l.ledger,
    creditKeys: l.key ? [l.key] : [],
    fundedRequestKey: funded ? request.id : null,
    claim: null,
    escrowPaymentId: null,
    revision: funded ? 3 : 1,
    pendingEffects: [],
    providerData: shk ? { shkeeper: { invoiceId: i, crypto: CRYPTO, amountCrypto: amount, exchangeRate: '1', displayName: 'USDT (BEP-20)' } } : {},
    metadata: { orderRef: `ORD-${hex(i, 8)}`, channel: i % 2 === 0 ? 'web' : 'app' },
    history: history(status, provider, buyerId, createdAt),
    createdAt,
    updatedAt,
  };

  const deliveries: WebhookDeliveryRecord[] = [];
  if (shk && funded) {
    const delivery = (outcome: 'applied' | 'duplicate', minutes: number): WebhookDeliveryRecord => {
      const at = new Date(createdAt.getTime() + minutes * 60_000);
      return {
        id: newObjectId(at),
        provider: 'shkeeper',
        kind: 'invoice',
        receivedAt: at,
        verification: 'hmac_timestamp',
        verificationError: null,
        externalId,
        status: 'PAID',
        txids: [l.txHash!],
        outcome,
        dedupeKey: outcome === 'applied' ? `${externalId}:${l.txHash}:${CRYPTO}` : null,
        paymentId: id,
        detail: null,
        createdAt: at,
        updatedAt: at,
      };
    };
    deliveries.push(delivery('applied', 8));
    if (i % 4 === 0) deliveries.push(delivery('duplicate', 9));
  }
  const idempotency: IdempotencyRecord | null = shk
    ? {
        id: newObjectId(createdAt),
        scopeKey: `${INTENT_ROUTE} ${buyerId} intent-${hex(i, 8)}`,
        requestHash: hex(i, 64),
        state: 'done',
        statusCode: 200,
        responseBody: { success: true, data: { paymentId: id, paymentUrl: payment.paymentUrl, externalId, payAddress: payment.payAddress } },
        // Kept unexpired, so no measured request's clean-up deletes seeded rows.
        expiresAt: new Date(Date.now() + 24 * HOUR),
        createdAt,
        updatedAt: createdAt,
      }
    : null;
  return { request, offers, payment, deliveries, idempotency };
}

/** What SHKeeper's payment_request answers, in process: the bench measures the app, not a socket to a fake. */
export function stubShkeeper(): ShkeeperClient {
  let invoices = 0;
  const unused = () => Promise.reject(new AppError('provider_error', 'not used by the bench', { code: 'shkeeper_error' }));
  return {
    listCryptos: async () => [{ name: CRYPTO, displayName: 'USDT (BEP-20)' }],
    async createPaymentRequest(_crypto, req) {
      invoices++;
      return { id: invoices, amount: req.amount, exchangeRate: '1', wallet: address(7, invoices), displayName: 'USDT (BEP-20)', recalculateAfterHours: 0 };
    },
    getInvoices: unused,
    createPayout: unused,
    getTask: unused,
    payoutStatus: unused,
  };
}

/** Grows one store step by step (1k → 10k → 100k) and hands out fresh fixtures at each step. */
export class GrowthSeeder {
  private next = 0;
  private fixtures = 0;

  constructor(
    private readonly store: Store,
    private readonly sign: (userId: string) => string,
  ) {}

  /** Bulk rows until, with `fixtures` pending invoices added, the store holds `payments` payments. */
  async growTo(payments: number, fixtures: number): Promise<GrowResult> {
    const started = performance.now();
    const { store } = this;
    const missing = payments - fixtures - (await store.payments.count({}));
    for (let n = 0; n < missing; n++) {
      const r = rowsFor(this.next++);
      await store.purchaseRequests.insertOne(r.request);
      for (const o of r.offers) await store.sellerOffers.insertOne(o);
      await store.payments.insertOne(r.payment);
      for (const d of r.deliveries) await store.webhookDeliveries.insertOne(d);
      if (r.idempotency) await store.idempotencyKeys.insertOne(r.idempotency);
    }
    const invoices: InvoiceFixture[] = [];
    const intents: IntentFixture[] = [];
    for (let n = 0; n < fixtures; n++) {
      invoices.push(await this.pendingInvoice());
      intents.push(await this.openOffer());
    }
    return {
      counts: await this.counts(),
      ms: performance.now() - started,
      invoices,
      intents,
      listUser: { authorization: this.sign(LIST_USER), payments: PAYMENTS_PER_BUYER },
      intentBuyer: { authorization: this.sign(INTENT_BUYER) },
    };
  }

  async check(externalIds: string[]): Promise<GrowthCheck> {
    const completed = await this.store.payments.count({ externalId: { $in: externalIds }, status: 'completed' });
    return { completed, counts: await this.counts() };
  }

  /** A fresh pending SHKeeper invoice with its own address, as an intent leaves it, for one callback. */
  private async pendingInvoice(): Promise<InvoiceFixture> {
    const k = this.fixtures++;
    const now = new Date();
    const request: PurchaseRequestRecord = {
      id: newObjectId(now),
      buyerId: `gw-buyer-${k}`,
      title: `Webhook fixture ${k}`,
      buyerWalletAddress: null,
      status: 'open',
      createdAt: now,
      updatedAt: now,
    };
    const offers = [0, 1, 2].map((j): SellerOfferRecord => ({
      id: newObjectId(now),
      purchaseRequestId: request.id,
      sellerId: `gs-${(k + j * 7) % SELLERS}`,
      amount: j === 0 ? '10' : `${10 + j}`,
      currency: 'USDT',
      walletAddress: address(6, 0xf000000 + k * 3 + j),
      status: 'pending',
      createdAt: now,
      updatedAt: now,
    }));
    const id = newObjectId(now);
    const externalId = `AMN_${id}`;
    const payAddress = address(8, k);
    await this.store.purchaseRequests.insertOne(request);
    for (const o of offers) await this.store.sellerOffers.insertOne(o);
    await this.store.payments.insertOne({
      id,
      provider: 'shkeeper',
      direction: 'in',
      status: 'pending',
      escrowState: 'unfunded',
      purchaseRequestId: request.id,
      sellerOfferId: offers[0]!.id,
      buyerId: request.buyerId,
      sellerId: offers[0]!.sellerId,
      amount: { amount: '10', currency: 'USDT' },
      blockchain: { network: 'bsc', token: 'USDT' },
      transactionHash: null,
      externalId,
      paymentUrl: `https://shkeeper.example.com/invoice/${externalId}`,
      payAddress,
      expiresAt: new Date(now.getTime() + HOUR),
      providerTaskId: null,
      releaseTxHash: null,
      refundTxHash: null,
      liveOfferKey: offers[0]!.id,
      escrow: emptyLedger(),
      creditKeys: [],
      fundedRequestKey: null,
      claim: null,
      escrowPaymentId: null,
      revision: 1,
      pendingEffects: [],
      // The invoice's own address and crypto: a callback is credited only for them.
      providerData: { shkeeper: { invoiceId: 0xf000000 + k, crypto: CRYPTO, amountCrypto: '10', exchangeRate: '1', displayName: 'USDT (BEP-20)' } },
      metadata: {},
      history: history('pending', 'shkeeper', request.buyerId, now),
      createdAt: now,
      updatedAt: now,
    });
    return { externalId, address: payAddress };
  }

  /** An open request of the intent buyer with three pending offers; the intent pays the first. */
  private async openOffer(): Promise<IntentFixture> {
    const k = this.fixtures++;
    const now = new Date();
    const request: PurchaseRequestRecord = {
      id: newObjectId(now),
      buyerId: INTENT_BUYER,
      title: `Intent fixture ${k}`,
      buyerWalletAddress: null,
      status: 'open',
      createdAt: now,
      updatedAt: now,
    };
    const offers = [0, 1, 2].map((j): SellerOfferRecord => ({
      id: newObjectId(now),
      purchaseRequestId: request.id,
      sellerId: `gs-${(k + j * 7) % SELLERS}`,
      amount: `${25 + j}.5`,
      currency: 'USDT',
      walletAddress: address(6, 0xf000000 + k * 3 + j),
      status: 'pending',
      createdAt: now,
      updatedAt: now,
    }));
    await this.store.purchaseRequests.insertOne(request);
    for (const o of offers) await this.store.sellerOffers.insertOne(o);
    return { purchaseRequestId: request.id, sellerOfferId: offers[0]!.id, sellerId: offers[0]!.sellerId, amount: offers[0]!.amount };
  }

  private async counts(): Promise<StoreCounts> {
    const { store } = this;
    const [payments, purchaseRequests, sellerOffers, webhookDeliveries, idempotencyKeys] = await Promise.all([
      store.payments.count({}),
      store.purchaseRequests.count({}),
      store.sellerOffers.count({}),
      store.webhookDeliveries.count({}),
      store.idempotencyKeys.count({}),
    ]);
    return { payments, purchaseRequests, sellerOffers, webhookDeliveries, idempotencyKeys };
  }
}
