import { newObjectId } from '../../src/platform/ids.js';
import { emptyLedger } from '../../src/core/payments/escrowLedger.js';
import { UNSET_AT_CREATION } from '../../src/core/payments/paymentCoordinator.js';
import type { Disbursement, PaymentRecord, PurchaseRequestRecord, SellerOfferRecord, WebhookDeliveryRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';

/** Builders for records, with sensible defaults a test overrides where it matters. */

export function purchaseRequest(over: Partial<PurchaseRequestRecord> = {}): PurchaseRequestRecord {
  const now = new Date();
  return {
    id: newObjectId(),
    buyerId: 'buyer-1',
    title: 'Sample request',
    buyerWalletAddress: null,
    status: 'open',
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export function sellerOffer(over: Partial<SellerOfferRecord> = {}): SellerOfferRecord {
  const now = new Date();
  return {
    id: newObjectId(),
    purchaseRequestId: newObjectId(),
    sellerId: 'seller-1',
    amount: '25.5',
    currency: 'USDT',
    walletAddress: '0x1111111111111111111111111111111111111111',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export function payment(over: Partial<PaymentRecord> = {}): PaymentRecord {
  const now = new Date();
  return {
    id: newObjectId(),
    provider: 'manual',
    direction: 'in',
    status: 'pending',
    escrowState: 'unfunded',
    purchaseRequestId: newObjectId(),
    sellerOfferId: newObjectId(),
    buyerId: 'buyer-1',
    sellerId: 'seller-1',
    amount: { amount: '25.5', currency: 'USDT' },
    blockchain: { network: 'bsc', token: 'USDT' },
    ...UNSET_AT_CREATION,
    escrow: (over.direction ?? 'in') === 'in' ? emptyLedger() : null,
    creditKeys: [],
    fundedRequestKey: null,
    revision: 0,
    pendingEffects: [],
    attention: [],
    pendingEvents: [],
    lastEventAt: null,
    providerData: {},
    metadata: {},
    history: [],
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

/** A purchase request by `buyerId` with two offers (sellers `seller-1` and `seller-2`). */
export async function seedMarketplace(store: Store, opts: { buyerId?: string } = {}) {
  const request = purchaseRequest({ buyerId: opts.buyerId ?? 'buyer-1' });
  const offer = sellerOffer({ purchaseRequestId: request.id, sellerId: 'seller-1' });
  const otherOffer = sellerOffer({
    purchaseRequestId: request.id,
    sellerId: 'seller-2',
    amount: '30',
    walletAddress: '0x2222222222222222222222222222222222222222',
  });
  await store.purchaseRequests.insertOne(request);
  await store.sellerOffers.insertOne(offer);
  await store.sellerOffers.insertOne(otherOffer);
  return { request, offer, otherOffer };
}

/**
 * A snapshot of everything in the store, to assert that a refused request changed nothing. A
 * payment's events are shown as the ids it announced, wherever they are (its outbox, or the event
 * log once the relay moved them): the relay may run between two snapshots without changing one.
 */
export async function snapshot(store: Store) {
  // Payments first, the log after: an event the relay moves in between is then seen in one or both.
  const payments = await store.payments.find({}, { sort: { id: 1 } });
  const logged = await store.paymentEvents.find({}, { sort: { id: 1 } });
  const announced = (p: PaymentRecord) =>
    [...new Set([...(p.pendingEvents ?? []).map((e) => e.id), ...logged.filter((e) => e.paymentId === p.id).map((e) => e.id)])].sort();
  return {
    payments: payments.map((p) => {
      const { pendingEvents: _outbox, ...rest } = p;
      return { ...rest, announced: announced(p) };
    }),
    purchaseRequests: await store.purchaseRequests.find({}, { sort: { id: 1 } }),
    sellerOffers: await store.sellerOffers.find({}, { sort: { id: 1 } }),
  };
}

/**
 * A release or refund as an admin prepared it (issue 10's ledger terms): 25.5 to `recipient`, with
 * the payload the escrow at `escrow` would sign (none without `escrow`), and whatever `over` sets
 * (say a fixed `id`). For tests that need an escrow in that state.
 */
export function preparedDisbursement(
  kind: 'release' | 'refund',
  o: { recipient: string; escrow?: string; createdBy: string },
  over: Partial<Omit<Disbursement, 'createdAt' | 'updatedAt'>> = {},
) {
  return {
    id: newObjectId(),
    kind,
    method: 'escrow_tx' as const,
    recipient: o.recipient,
    amount: '25.5',
    state: 'prepared' as const,
    override: null,
    payoutId: null,
    evidence: null,
    createdBy: o.createdBy,
    payload: o.escrow === undefined ? null : { from: o.escrow, to: o.recipient, data: '0x', value: '0x0', gas: '0x1', chainId: '0x38' },
    ...over,
  } satisfies Partial<Disbursement>;
}

/**
 * A payer proof of the right shape whose signature proves nothing (65 bytes of 0x11): for tests of
 * who may call a route and of hostile input, not of the proof itself.
 */
export function unsignedPayerProof(o: { requestId?: string; offerId?: string; wallet: string; receiver: string }) {
  return {
    message: {
      purpose: 'I will pay this escrow from this wallet',
      purchaseRequestId: o.requestId,
      sellerOfferId: o.offerId,
      wallet: o.wallet,
      receiver: o.receiver,
      amount: '25.5',
      token: 'USDT',
      issuedAtBlock: 1,
      expiresAt: 4102444800,
      nonce: 'aa.bb',
    },
    signature: `0x${'1'.repeat(130)}`,
  };
}

/**
 * An SHKeeper invoice callback body, before signing: invoice `externalId` paid in full (10 BNB-USDT)
 * to `addr` by the one transaction `txid`. For tests of who may deliver a callback and of hostile
 * input, not of crediting.
 */
export function paidInvoiceCallback(o: { externalId: string; addr: string; txid: string }) {
  return {
    external_id: o.externalId,
    crypto: 'BNB-USDT',
    addr: o.addr,
    fiat: 'USD',
    balance_fiat: '10',
    balance_crypto: '10',
    paid: true,
    status: 'PAID',
    transactions: [{ txid: o.txid, crypto: 'BNB-USDT', amount_crypto: '10', trigger: true }],
  };
}

/** What the delivery log records of a verified invoice callback (`DeliveryLog.received`/`queued`): invoice AMN_1, PAID, one txid. */
export const signedDeliveryFields = {
  kind: 'invoice',
  verification: 'hmac_timestamp',
  verificationError: null,
  externalId: 'AMN_1',
  status: 'PAID',
  txids: ['0x1'],
} as const satisfies Omit<
  WebhookDeliveryRecord,
  'id' | 'provider' | 'receivedAt' | 'outcome' | 'dedupeKey' | 'paymentId' | 'detail' | 'createdAt' | 'updatedAt'
>;
