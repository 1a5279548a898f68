import { systemClock } from '../../src/platform/clock.js';
import { newObjectId } from '../../src/platform/ids.js';
import { InProcessKeyedLock } from '../../src/platform/keyedLock.js';
import { PaymentCoordinator } from '../../src/core/payments/paymentCoordinator.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { paidInvoiceCallback, payment, preparedDisbursement, seedMarketplace, unsignedPayerProof } from '../helpers/fixtures.js';
import { K, type Kind } from './hostileValues.js';
import { checkEndpointUrl } from '../../src/adapters/webhooks/endpointUrl.js';
import { EVENT_TYPES } from '../../src/core/events/paymentEventLog.js';
import { endpointWithDelivery } from '../helpers/eventFixtures.js';

/**
 * A valid request for every mounted route, and the kind of each of its inputs. The fuzz mutates
 * one input at a time; the baseline test proves the unmutated request is accepted, so a refusal
 * is about the one hostile value.
 *
 * Only validated positions are listed. Routes without any (health, monitors, metrics,
 * docs, the dev echo `callback-test`, …) take no input a caller controls beyond what they ignore:
 * unknown query parameters are ignored everywhere by design, and `callback-test` echoes anything
 * it is sent, so a 2xx there says nothing about validation. Headers (tokens, signatures, cron and
 * metrics secrets) are the authorisation matrix's business, not this suite's.
 */

export const PARTY = 'party-user';
export const SELLER = 'seller-user';
export const ADMIN = 'admin-user';
const WALLET = '0x1111111111111111111111111111111111111111';
const PAY_ADDRESS = '0x3333333333333333333333333333333333333333';
export const txHash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

export type Caller = 'anonymous' | 'party' | 'admin';

export interface ValidRequest {
  as: Caller;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** SHKeeper callbacks: the (mutated) body is signed, so the signature is never the reason for a refusal. */
  signed?: boolean;
}

export interface RouteFuzz {
  valid: (s: Seeded) => ValidRequest;
  /** The unmutated request's answer on a fresh app (503 = the documented `not_configured`: no chain / SHKeeper / hot wallet here). */
  baseline: number;
  params?: Record<string, Kind>;
  query?: Record<string, Kind>;
  /** Body fields by dotted path (`amount.currency`, `transactions.0.txid`). */
  body?: Record<string, Kind>;
  /** `strict`: unknown keys are refused (zod strictObject) — a poisoned extra key is hostile. `loose`: SHKeeper callbacks, extra fields allowed. */
  bodyShape?: 'strict' | 'loose';
  /** Errors in the route's own documented shape `{ success: false, message, data }` (payout webhook). */
  ownErrorShape?: boolean;
}

export interface Seeded {
  requestId: string;
  offerId: string;
  pendingId: string;
  updatableId: string;
  completedShkeeperId: string;
  completedShkeeperHash: string;
  pendingWeb3Id: string;
  completedWeb3Id: string;
  completedWeb3Ref: string;
  releasePreparedId: string;
  refundPreparedId: string;
  deletablePreparedId: string;
  releasedId: string;
  refundedId: string;
  triggerableId: string;
  taskId: string;
  payoutId: string;
  endpointId: string;
  eventId: string;
  deliveryId: string;
  eventPaymentId: string;
}

async function insert(store: Store, over: Partial<PaymentRecord>): Promise<PaymentRecord> {
  const p = payment({ buyerId: PARTY, sellerId: SELLER, ...over });
  await store.payments.insertOne(p);
  return p;
}

/**
 * Escrows in the ledger's terms (issue 10; was `providerData.escrowAction` and fixtures in released/refunded):
 * funded by a credit, then a release/refund prepared (in flight) or settled by the coordinator's named operations.
 */
async function escrowAt(store: Store, stage: 'prepared' | 'settled', kind: 'release' | 'refund', n: number): Promise<string> {
  const coordinator = new PaymentCoordinator(store, new InProcessKeyedLock(), systemClock);
  const p = await insert(store, { provider: 'shkeeper' });
  const transfer = {
    txHash: txHash(100 + n),
    from: WALLET,
    to: PAY_ADDRESS,
    network: 'bsc',
    token: 'USDT',
    amount: '25.5',
    baseUnits: null,
    blockNumber: null,
  };
  await coordinator.credit(p.id, transfer, { source: 'fuzz', actor: 'fuzz', completionEffects: [] });
  const d = preparedDisbursement(kind, { recipient: WALLET, escrow: PAY_ADDRESS, createdBy: ADMIN });

  await coordinator.openDisbursement(p.id, d, { source: 'fuzz', actor: ADMIN });
  if (stage === 'settled') {
    await coordinator.settleDisbursement(p.id, d.id, {
      source: 'fuzz',
      actor: ADMIN,
      evidence: txHash(kind === 'release' ? 7 : 8),
      effects: [],
      hashField: kind === 'release' ? 'releaseTxHash' : 'refundTxHash',
    });
  }
  return p.id;
}

/** Everything the valid requests name. */
export async function seedAll(store: Store): Promise<Seeded> {
  const { request, offer } = await seedMarketplace(store, { buyerId: PARTY });
  await store.sellerOffers.updateOne({ id: offer.id }, { $set: { sellerId: SELLER } });
  const shkeeperId = newObjectId();
  const web3Id = newObjectId();
  const completedWeb3Id = newObjectId();
  const triggerId = newObjectId();
  const funded = { provider: 'shkeeper' as const, status: 'completed' as const, escrowState: 'funded' as const };
  return {
    requestId: request.id,
    offerId: offer.id,
    pendingId: (await insert(store, {})).id,
    updatableId: (await insert(store, {})).id,
    completedShkeeperId: (
      await insert(store, {
        id: shkeeperId,
        ...funded,
        externalId: `AMN_${shkeeperId}`,
        payAddress: PAY_ADDRESS,
        transactionHash: txHash(1),
      })
    ).id,
    completedShkeeperHash: txHash(1),
    pendingWeb3Id: (await insert(store, { id: web3Id, provider: 'decentralized', externalId: `DEPAY_${web3Id}` })).id,
    completedWeb3Id: (
      await insert(store, {
        id: completedWeb3Id,
        provider: 'decentralized',
        status: 'completed',
        escrowState: 'funded',
        externalId: `DEPAY_${completedWeb3Id}`,
        transactionHash: txHash(21),
      })
    ).id,
    completedWeb3Ref: `DEPAY_${completedWeb3Id}`,
    releasePreparedId: await escrowAt(store, 'prepared', 'release', 1),
    refundPreparedId: await escrowAt(store, 'prepared', 'refund', 2),
    deletablePreparedId: await escrowAt(store, 'prepared', 'release', 3),
    releasedId: await escrowAt(store, 'settled', 'release', 4),
    refundedId: await escrowAt(store, 'settled', 'refund', 5),
    triggerableId: (await insert(store, { id: triggerId, provider: 'shkeeper', externalId: `AMN_${triggerId}`, payAddress: PAY_ADDRESS })).id,
    ...(await insert(store, {
      provider: 'shkeeper',
      direction: 'out',
      status: 'processing',
      providerTaskId: 'fuzz-task-1',
      externalId: 'PAYOUT_fuzz',
      escrow: null,
    }).then((p) => ({ taskId: p.providerTaskId!, payoutId: p.id }))),
    ...(await endpointWithDelivery({ store })),
  };
}

const API = '/api/payment';
const PAYMENT_STATUS = K.oneOf('pending', 'processing', 'completed', 'failed', 'cancelled');
const listQuery = { status: K.statusList, limit: K.queryInt(1, 200), offset: K.queryInt(0, 1_000_000_000) };
const validList = { status: 'completed,pending', limit: '10', offset: '0' };
const noInput = (baseline: number, as: Caller = 'anonymous'): RouteFuzz => ({ valid: () => ({ as }), baseline });
// The ingest routes (issue 16): ids of records the fuzz creates, and the nullable fields' rules.
const INGEST_REQUEST_ID = 'f0220000000000000000a001';
const INGEST_OFFER_ID = 'f0220000000000000000b001';
const NULL_OR_TITLE: Kind = { name: 'title or null', legal: (v) => v === null || (typeof v === 'string' && v.length >= 1 && v.length <= 500) };
// The events-out routes (issue 16): what an endpoint body may hold, by the service's own rules.
const ENDPOINT_URL: Kind = {
  name: 'public http(s) URL',
  legal: (v) => typeof v === 'string' && v.length >= 1 && checkEndpointUrl(v, { httpsOnly: false, allowPrivate: false }).ok,
};
const NULL_OR_DESCRIPTION: Kind = { name: 'description or null', legal: (v) => v === null || (typeof v === 'string' && v.trim().length <= 300) };
const EVENT_TYPE_LIST: Kind = {
  name: 'event types',
  legal: (v) =>
    Array.isArray(v) &&
    ((v.length === 1 && v[0] === '*') || (v.length >= 1 && v.length <= EVENT_TYPES.length && v.every((t) => (EVENT_TYPES as readonly unknown[]).includes(t)))),
};
const endpointFields = { url: ENDPOINT_URL, description: NULL_OR_DESCRIPTION, enabled: K.bool, eventTypes: EVENT_TYPE_LIST };
const NULL_OR_ADDRESS: Kind = { name: 'address or null', legal: (v) => v === null || K.address.legal(v) };

export const ROUTES: Record<string, RouteFuzz> = {
  // No validated input (see the note above).
  'GET /metrics': noInput(200),
  [`OPTIONS ${API}/shkeeper/config`]: noInput(204),
  [`GET ${API}/shkeeper/config`]: noInput(200),
  [`GET ${API}/health`]: noInput(200),
  [`GET ${API}/openapi.json`]: noInput(200),
  [`GET ${API}/docs`]: noInput(200),
  [`GET ${API}/decentralized/receiver`]: { valid: () => ({ as: 'anonymous', query: { network: 'bsc' } }), baseline: 200, query: { network: K.bsc } },
  [`POST ${API}/decentralized/verify-all-pending`]: noInput(200),
  [`GET ${API}/shkeeper/wallet-monitor/status`]: noInput(200),
  [`GET ${API}/shkeeper/auto-webhook/status`]: noInput(200),
  [`GET ${API}/shkeeper/webhook-stats`]: noInput(200, 'admin'),
  [`POST ${API}/shkeeper/test`]: noInput(503),
  [`POST ${API}/shkeeper/callback-test`]: noInput(200),
  [`GET ${API}/shkeeper/callback-test`]: noInput(200),
  [`GET ${API}/stats`]: noInput(200, 'party'),

  // SHKeeper callbacks (signed).
  [`POST ${API}/shkeeper/webhook`]: {
    valid: () => ({
      as: 'anonymous',
      signed: true,
      body: paidInvoiceCallback({ externalId: 'AMN_fuzz_unknown', addr: PAY_ADDRESS, txid: txHash(9) }),
    }),
    baseline: 202,
    bodyShape: 'loose',
    body: {
      external_id: K.externalId,
      crypto: K.freeString(1, 64),
      addr: K.freeString(1, 256),
      fiat: K.freeString(1, 16),
      balance_fiat: K.decimalText,
      balance_crypto: K.decimalText,
      paid: K.bool,
      status: K.oneOf('PARTIAL', 'PAID', 'OVERPAID'),
      transactions: K.transactions,
      'transactions.0.txid': K.freeString(1, 256),
      'transactions.0.crypto': K.freeString(1, 64),
      'transactions.0.amount_crypto': K.decimalText,
      'transactions.0.trigger': K.bool,
    },
  },
  [`POST ${API}/shkeeper/payout/webhook`]: {
    valid: () => ({
      as: 'anonymous',
      signed: true,
      body: { payout_id: 17, external_id: 'PAYOUT_fuzz_unknown', tx_hash: txHash(10), status: 'SUCCESS', amount: '10', crypto: 'BNB-USDT' },
    }),
    baseline: 202,
    bodyShape: 'loose',
    ownErrorShape: true,
    body: {
      payout_id: K.payoutId,
      external_id: K.freeString(1, 128),
      tx_hash: K.freeString(1, 256),
      status: K.freeString(1, 32),
      amount: K.decimalText,
      crypto: K.freeString(1, 64),
    },
  },

  [`POST ${API}/configuration`]: {
    valid: (s) => ({ as: 'anonymous', body: { amount: '25.5', currency: 'USDT', purchaseRequestId: s.requestId } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { amount: K.amount, currency: K.currency, purchaseRequestId: K.objectId },
  },

  // Web3.
  [`POST ${API}/decentralized/save`]: {
    valid: (s) => ({
      as: 'anonymous',
      body: {
        purchaseRequestId: s.requestId,
        buyerId: PARTY,
        sellerId: SELLER,
        amount: '25.5',
        currency: 'USDT',
        transactionHash: txHash(20),
        network: 'bsc',
        token: 'USDT',
        walletAddress: WALLET,
        metadata: { order: 'fuzz' },
      },
    }),
    baseline: 200,
    bodyShape: 'strict',
    body: {
      purchaseRequestId: K.objectId,
      buyerId: K.userId,
      sellerId: K.userId,
      amount: K.amount,
      currency: K.usdt,
      transactionHash: K.txHash,
      network: K.bsc,
      token: K.usdt,
      walletAddress: K.address,
      metadata: K.metadata,
    },
  },
  // The payer proof (issue 10): no chain here, so a valid request ends at 503 not_configured.
  [`POST ${API}/decentralized/payer-proof/challenge`]: {
    valid: (s) => ({ as: 'anonymous', body: { purchaseRequestId: s.requestId, sellerOfferId: s.offerId, walletAddress: WALLET } }),
    baseline: 503,
    bodyShape: 'strict',
    body: { purchaseRequestId: K.objectId, sellerOfferId: K.objectId, walletAddress: K.address },
  },
  [`POST ${API}/decentralized/payer-proof`]: {
    valid: (s) => ({
      as: 'anonymous',
      body: {
        paymentId: s.pendingWeb3Id,
        payerProof: unsignedPayerProof({ requestId: s.requestId, offerId: s.offerId, wallet: WALLET, receiver: PAY_ADDRESS }),
      },
    }),
    baseline: 503,
    bodyShape: 'strict',
    body: {
      paymentId: K.objectId,
      'payerProof.signature': K.signature,
      'payerProof.message.purchaseRequestId': K.objectId,
      'payerProof.message.sellerOfferId': K.objectId,
      'payerProof.message.wallet': K.address,
      'payerProof.message.receiver': K.address,
      'payerProof.message.amount': K.freeString(0, 64),
      'payerProof.message.token': K.freeString(0, 16),
      'payerProof.message.nonce': K.freeString(0, 200),
    },
  },
  [`GET ${API}/decentralized/status/:paymentId`]: {
    valid: (s) => ({ as: 'anonymous', params: { paymentId: s.pendingWeb3Id } }),
    baseline: 200,
    params: { paymentId: K.objectId },
  },
  [`PUT ${API}/decentralized/update`]: {
    valid: (s) => ({ as: 'party', body: { paymentId: s.pendingWeb3Id, status: 'cancelled', confirmations: 3 } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { paymentId: K.objectId, status: PAYMENT_STATUS, confirmations: K.int(0, 1_000_000) },
  },
  [`GET ${API}/decentralized/history/:userId`]: {
    valid: () => ({ as: 'party', params: { userId: PARTY } }),
    baseline: 200,
    params: { userId: K.userId },
  },
  [`POST ${API}/decentralized/verify/:paymentId`]: {
    valid: (s) => ({ as: 'anonymous', params: { paymentId: s.completedWeb3Id } }),
    baseline: 200,
    params: { paymentId: K.objectId },
  },
  [`POST ${API}/decentralized/admin-payout`]: {
    valid: (s) => ({
      as: 'admin',
      body: { purchaseRequestId: s.requestId, receiverWalletAddress: WALLET, amount: '25.5', currency: 'USDT', network: 'bsc', force: false },
    }),
    baseline: 503,
    bodyShape: 'strict',
    body: { purchaseRequestId: K.objectId, receiverWalletAddress: K.address, amount: K.amount, currency: K.usdt, network: K.bsc, force: K.bool },
  },

  // Legacy.
  [`POST ${API}/payments/cleanup-pending`]: {
    valid: () => ({ as: 'admin', body: { olderThanMinutes: 60 } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { olderThanMinutes: K.int(1, 365 * 24 * 60) },
  },
  [`POST ${API}/payments/:id/fetch-tx`]: {
    valid: (s) => ({ as: 'party', params: { id: s.completedShkeeperId } }),
    baseline: 200,
    params: { id: K.objectId },
  },
  [`POST ${API}/payments/auto-fetch-missing`]: {
    valid: () => ({ as: 'admin', body: { limit: 5 } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { limit: K.int(1, 50) },
  },
  [`POST ${API}/callback`]: {
    valid: (s) => ({
      as: 'anonymous',
      // The recorded hash: answered from the record. Another hash on a settled payment is proven on chain now, as possible
      // excess (issue 10), which needs the chain this app does not have (503).
      body: { paymentId: s.completedWeb3Id, transactionHash: txHash(21), status: 'PAID', data: { reference: s.completedWeb3Ref } },
    }),
    baseline: 200,
    bodyShape: 'strict',
    body: { paymentId: K.objectId, transactionHash: K.txHash, status: K.freeString(0, 32), data: K.looseObject, 'data.reference': K.freeString(0, 128) },
  },
  [`POST ${API}/verify`]: {
    // The recorded hash (was txHash(22)): another one would be proven on chain as possible excess (issue 10).
    valid: (s) => ({ as: 'party', body: { paymentId: s.completedWeb3Id, transactionHash: txHash(21) } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { paymentId: K.objectId, transactionHash: K.txHash },
  },

  // SHKeeper pay-in (no SHKeeper here: a valid intent ends at 503 not_configured).
  [`POST ${API}/shkeeper/intents`]: {
    valid: (s) => ({
      as: 'party',
      body: {
        purchaseRequestId: s.requestId,
        sellerOfferId: s.offerId,
        amount: '25.5',
        sellerId: SELLER,
        token: 'USDT',
        network: 'bsc',
        metadata: { order: 'fuzz' },
      },
    }),
    baseline: 503,
    bodyShape: 'strict',
    body: {
      purchaseRequestId: K.objectId,
      sellerOfferId: K.objectId,
      amount: K.amount,
      sellerId: K.userId,
      token: K.tokenSymbol,
      network: K.network,
      metadata: K.metadata,
    },
  },
  [`POST ${API}/shkeeper/confirm-transaction`]: {
    valid: (s) => ({ as: 'party', body: { paymentId: s.completedShkeeperId, transactionHash: s.completedShkeeperHash, network: 'bsc' } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { paymentId: K.objectId, transactionHash: K.txHash, network: K.network },
  },

  // Dev tools.
  [`POST ${API}/shkeeper/create-test-payment`]: {
    valid: () => ({ as: 'anonymous', body: { amount: '10', buyerId: 'fuzz-buyer', sellerId: 'fuzz-seller' } }),
    baseline: 201,
    bodyShape: 'strict',
    body: { amount: K.amount, buyerId: K.userId, sellerId: K.userId },
  },
  [`POST ${API}/shkeeper/trigger-webhook`]: {
    valid: (s) => ({ as: 'admin', body: { paymentId: s.triggerableId, status: 'PAID', txid: txHash(23) } }),
    baseline: 200,
    bodyShape: 'strict',
    body: { paymentId: K.objectId, status: K.oneOf('PAID', 'OVERPAID', 'PARTIAL'), txid: K.txHash },
  },

  // Payouts (no SHKeeper here: 503 not_configured once valid).
  [`POST ${API}/shkeeper/payout`]: {
    valid: (s) => ({
      as: 'admin',
      body: {
        purchaseRequestId: s.requestId,
        sellerOfferId: s.offerId,
        buyerId: PARTY,
        sellerId: SELLER,
        amount: '25.5',
        recipientAddress: WALLET,
        token: 'USDT',
        network: 'bsc',
        metadata: { order: 'fuzz' },
        force: false,
      },
    }),
    baseline: 503,
    bodyShape: 'strict',
    body: {
      purchaseRequestId: K.objectId,
      sellerOfferId: K.objectId,
      buyerId: K.userId,
      sellerId: K.userId,
      amount: K.amount,
      recipientAddress: K.address,
      token: K.tokenSymbol,
      network: K.network,
      metadata: K.metadata,
      force: K.bool,
    },
  },
  [`POST ${API}/shkeeper/payout/:payoutId/abandon`]: {
    valid: (s) => ({ as: 'admin', params: { payoutId: s.payoutId } }),
    baseline: 503,
    params: { payoutId: K.objectId },
  },
  [`GET ${API}/shkeeper/payout/status/:taskId`]: {
    valid: (s) => ({ as: 'party', params: { taskId: s.taskId } }),
    baseline: 503,
    params: { taskId: K.taskId },
  },

  // Escrow.
  [`POST ${API}/shkeeper/:id/release`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.releasePreparedId } }),
    baseline: 200,
    params: { id: K.objectId },
  },
  [`POST ${API}/shkeeper/:id/refund`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.refundPreparedId } }),
    baseline: 200,
    params: { id: K.objectId },
  },
  [`POST ${API}/shkeeper/:id/release/confirm`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.releasedId }, body: { txHash: txHash(7) } }),
    baseline: 200,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: { txHash: K.txHash },
  },
  [`POST ${API}/shkeeper/:id/refund/confirm`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.refundedId }, body: { txHash: txHash(8) } }),
    baseline: 200,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: { txHash: K.txHash },
  },
  [`DELETE ${API}/shkeeper/:id/prepared`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.deletablePreparedId } }),
    baseline: 200,
    params: { id: K.objectId },
  },

  // Records in (issue 16): a new request and a new offer on the seeded request, as an admin (a service credential is the same guard).
  [`PUT ${API}/purchase-requests/:id`]: {
    valid: () => ({
      as: 'admin',
      params: { id: INGEST_REQUEST_ID },
      body: { buyerId: PARTY, title: 'Fuzzed request', buyerWalletAddress: WALLET, status: 'open' },
    }),
    baseline: 201,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: { buyerId: K.userId, title: NULL_OR_TITLE, buyerWalletAddress: NULL_OR_ADDRESS, status: K.oneOf('open', 'cancelled') },
  },
  [`PUT ${API}/seller-offers/:id`]: {
    valid: (s) => ({
      as: 'admin',
      params: { id: INGEST_OFFER_ID },
      body: { purchaseRequestId: s.requestId, sellerId: SELLER, amount: '25.5', currency: 'USDT', walletAddress: WALLET, status: 'pending' },
    }),
    baseline: 201,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: {
      purchaseRequestId: K.objectId,
      sellerId: K.userId,
      amount: K.amount,
      currency: K.currency,
      walletAddress: NULL_OR_ADDRESS,
      status: K.oneOf('pending', 'rejected'),
    },
  },

  // The admin's work queue.
  [`GET ${API}/admin/queue`]: {
    valid: (s) => ({ as: 'admin', query: { view: 'decisions', limit: '10', starting_after: s.completedShkeeperId } }),
    baseline: 200,
    query: { view: K.oneOf('decisions', 'in_flight', 'in_doubt', 'attention', 'excess', 'short'), limit: K.queryInt(1, 100), starting_after: K.objectId },
  },
  [`GET ${API}/admin/queue/counts`]: noInput(200, 'admin'),

  // Events out: webhook endpoints, deliveries, the event log (admin).
  [`POST ${API}/webhook-endpoints`]: {
    valid: () => ({ as: 'admin', body: { url: 'https://hooks.example.com/escrow', eventTypes: ['escrow.funded'], description: 'fuzz', enabled: true } }),
    baseline: 201,
    bodyShape: 'strict',
    body: endpointFields,
  },
  [`GET ${API}/webhook-endpoints`]: noInput(200, 'admin'),
  [`GET ${API}/webhook-endpoints/:id`]: { valid: (s) => ({ as: 'admin', params: { id: s.endpointId } }), baseline: 200, params: { id: K.objectId } },
  [`PATCH ${API}/webhook-endpoints/:id`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.endpointId }, body: { url: 'https://hooks.example.com/other', enabled: true } }),
    baseline: 200,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: endpointFields,
  },
  [`DELETE ${API}/webhook-endpoints/:id`]: { valid: (s) => ({ as: 'admin', params: { id: s.endpointId } }), baseline: 200, params: { id: K.objectId } },
  [`POST ${API}/webhook-endpoints/:id/rotate-secret`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.endpointId }, body: { overlapHours: 2 } }),
    baseline: 200,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: { overlapHours: K.int(0, 168) },
  },
  [`GET ${API}/webhook-endpoints/:id/deliveries`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.endpointId }, query: { limit: '10', starting_after: s.deliveryId } }),
    baseline: 200,
    params: { id: K.objectId },
    query: { limit: K.queryInt(1, 100), starting_after: K.objectId },
  },
  [`GET ${API}/webhook-endpoints/:id/deliveries/:deliveryId`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.endpointId, deliveryId: s.deliveryId } }),
    baseline: 200,
    params: { id: K.objectId, deliveryId: K.objectId },
  },
  [`POST ${API}/webhook-endpoints/:id/deliveries/:deliveryId/redeliver`]: {
    valid: (s) => ({ as: 'admin', params: { id: s.endpointId, deliveryId: s.deliveryId } }),
    baseline: 202,
    params: { id: K.objectId, deliveryId: K.objectId },
  },
  [`GET ${API}/events`]: {
    valid: (s) => ({ as: 'admin', query: { limit: '10', type: 'payment.created', paymentId: s.eventPaymentId, starting_after: s.eventId } }),
    baseline: 200,
    query: { limit: K.queryInt(1, 100), starting_after: K.objectId, type: K.oneOf(...EVENT_TYPES), paymentId: K.objectId },
  },
  [`GET ${API}/events/:id`]: { valid: (s) => ({ as: 'admin', params: { id: s.eventId } }), baseline: 200, params: { id: K.objectId } },

  // Payment records.
  [`POST ${API}`]: {
    valid: (s) => ({
      as: 'party',
      body: {
        purchaseRequestId: s.requestId,
        sellerOfferId: s.offerId,
        buyerId: PARTY,
        sellerId: SELLER,
        amount: { amount: '25.5', currency: 'USDT' },
        blockchain: { network: 'bsc', token: 'USDT' },
        metadata: { order: 'fuzz' },
      },
    }),
    baseline: 201,
    bodyShape: 'strict',
    body: {
      purchaseRequestId: K.objectId,
      sellerOfferId: K.objectId,
      buyerId: K.userId,
      sellerId: K.userId,
      amount: K.money,
      'amount.amount': K.amount,
      'amount.currency': K.currency,
      blockchain: K.blockchain,
      'blockchain.network': K.network,
      'blockchain.token': K.token,
      metadata: K.metadata,
    },
  },
  [`GET ${API}`]: { valid: () => ({ as: 'party', query: validList }), baseline: 200, query: listQuery },
  [`GET ${API}/user/:userId`]: {
    valid: () => ({ as: 'party', params: { userId: PARTY }, query: validList }),
    baseline: 200,
    params: { userId: K.userId },
    query: listQuery,
  },
  [`GET ${API}/stats/:userId`]: { valid: () => ({ as: 'party', params: { userId: PARTY } }), baseline: 200, params: { userId: K.userId } },
  [`GET ${API}/export`]: {
    valid: () => ({ as: 'party', query: { format: 'csv', status: 'pending' } }),
    baseline: 200,
    query: { format: K.format, status: K.statusList },
  },
  [`GET ${API}/export/:userId`]: {
    valid: () => ({ as: 'party', params: { userId: PARTY }, query: { format: 'json', status: 'pending' } }),
    baseline: 200,
    params: { userId: K.userId },
    query: { format: K.format, status: K.statusList },
  },
  [`GET ${API}/:id`]: { valid: (s) => ({ as: 'party', params: { id: s.pendingId } }), baseline: 200, params: { id: K.objectId } },
  [`PUT ${API}/:id`]: {
    valid: (s) => ({
      as: 'party',
      params: { id: s.updatableId },
      // (A move to cancelled takes no hash or network any more: 400 conflicting_fields; the baseline has no status.)
      body: { transactionHash: txHash(24), blockchain: { network: 'bsc', token: 'USDT' }, metadata: { note: 'fuzz' } },
    }),
    baseline: 200,
    params: { id: K.objectId },
    bodyShape: 'strict',
    body: {
      status: PAYMENT_STATUS,
      transactionHash: K.txHash,
      blockchain: K.blockchain,
      'blockchain.network': K.network,
      'blockchain.token': K.token,
      metadata: K.metadata,
    },
  },
  [`GET ${API}/:id/debug`]: { valid: (s) => ({ as: 'admin', params: { id: s.pendingId } }), baseline: 200, params: { id: K.objectId } },
};
