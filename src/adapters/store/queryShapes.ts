import type { CollectionName } from './indexPlan.js';
import { shapeOf } from './queryShape.js';

/**
 * Every query shape the services send to the store, as the MongoDB adapter sends it (`_id`,
 * `$type: 'string'` added on partial-index fields), with the index that serves it (names as
 * MongoDB gives them, from src/store/indexPlan.ts). `=` is an equality, `…` any operand.
 *
 * Checked twice: test/store/queryShapes.test.ts proves each listed index exists in the schemas
 * and can serve its shape (leading field constrained, partial filter implied); the driver test
 * tier (test/helpers/queryShapeCheck.ts) fails when a service sends a shape not listed here.
 * A filter on `_id` by equality is served by `_id_` whatever else it holds (every conditional
 * update of one record), so those are not listed one by one. Keyset pages of a stream are the
 * listed shape plus "after the last row" (`afterKey` in src/store/mongoDocuments.ts).
 */
export interface QueryShape {
  collection: CollectionName;
  filter: Record<string, unknown>;
  /** Index names; for an `$or`, one per branch, in branch order. */
  indexes: string[];
  /** Who sends it. */
  by: string;
}

const T = { $eq: '…', $type: 'string' } as const;
const IN = { $in: '…' } as const;
const BEFORE = { $lte: '…' } as const;
const PARTY = { $or: [{ buyerId: '=' }, { sellerId: '=' }] };
const PARTY_INDEXES = ['buyerId_1_createdAt_-1__id_-1', 'sellerId_1_createdAt_-1__id_-1'];
const WORK_LIST = 'status_1_provider_1_createdAt_1';
const IN_FLIGHT = 'escrow.inFlight.state_1';
const INBOX = 'job.state_1_job.runAt_1';
const OUTBOX_QUEUE = INBOX;
const EVENTS = 'createdAt_-1__id_-1';
const PAYMENT_EVENTS = 'paymentId_1_createdAt_-1__id_-1';
const ENDPOINT_LOG = 'endpointId_1_createdAt_-1__id_-1';
/** A keyset page's "after the cursor": older, or as old with a smaller id. */
const AFTER = { $or: [{ createdAt: { $lt: '…' } }, { _id: { $lt: '…' } }] };
/** The same, oldest first: newer, or as new with a larger id. */
const AFTER_ASC = { $or: [{ createdAt: { $gt: '…' } }, { _id: { $gt: '…' } }] };

/** An admin queue view's shapes: its filter with the first page's bound on createdAt, then with a cursor, and counted. */
function queueShapes(filter: Record<string, unknown>, index: string, view: string): QueryShape[] {
  return [
    { collection: 'payments', filter: { ...filter, createdAt: { $gte: '…' } }, indexes: [index], by: `admin queue: ${view}` },
    { collection: 'payments', filter: { ...filter, $and: [{ createdAt: { $gte: '…' } }, AFTER_ASC] }, indexes: [index], by: `admin queue: ${view}, next page` },
    { collection: 'payments', filter, indexes: [index], by: `admin queue counts: ${view}` },
  ];
}

export const QUERY_SHAPES: readonly QueryShape[] = [
  // payments: one record named from outside
  { collection: 'payments', filter: { transactionHash: T }, indexes: ['transactionHash_1'], by: 'web3 save, confirm-transaction, fetch-tx' },
  {
    collection: 'payments',
    filter: { $or: [{ transactionHash: T }, { releaseTxHash: T }, { refundTxHash: T }] },
    indexes: ['transactionHash_1', 'releaseTxHash_1', 'refundTxHash_1'],
    by: 'escrow: who owns a hash',
  },
  { collection: 'payments', filter: { fundedRequestKey: T, direction: '=' }, indexes: ['fundedRequestKey_1'], by: 'escrowRecipients.fundedEscrowOf' },
  { collection: 'payments', filter: { creditKeys: T }, indexes: ['creditKeys_1'], by: 'wallet monitor' },
  { collection: 'payments', filter: { provider: '=', externalId: T }, indexes: ['externalId_1'], by: 'SHKeeper invoice callback' },
  { collection: 'payments', filter: { externalId: T, direction: '=' }, indexes: ['externalId_1'], by: 'SHKeeper payout callback' },
  { collection: 'payments', filter: { providerTaskId: T, direction: '=' }, indexes: ['providerTaskId_1'], by: 'payout status by task' },
  { collection: 'payments', filter: { liveOfferKey: T }, indexes: ['liveOfferKey_1'], by: 'SHKeeper intent' },
  {
    collection: 'payments',
    filter: { $or: [{ liveOfferKey: T }, { sellerOfferId: T, status: IN, provider: { $ne: '…' } }, { sellerOfferId: T, status: IN, provider: '=' }] },
    indexes: ['liveOfferKey_1', 'sellerOfferId_1', 'sellerOfferId_1'],
    by: 'create payment: is the offer already being paid',
  },
  {
    collection: 'payments',
    filter: { provider: '=', purchaseRequestId: '=', sellerOfferId: T, status: IN },
    indexes: ['purchaseRequestId_1_sellerOfferId_1'],
    by: 'web3 save',
  },
  // payments: a user's own
  { collection: 'payments', filter: { ...PARTY, status: IN }, indexes: PARTY_INDEXES, by: 'list, count, export by status' },
  { collection: 'payments', filter: PARTY, indexes: PARTY_INDEXES, by: 'stats, export' },
  { collection: 'payments', filter: { provider: '=', ...PARTY }, indexes: PARTY_INDEXES, by: 'web3 list' },
  // payments: work lists of monitors, crons and sweepers
  { collection: 'payments', filter: { provider: '=', status: IN, 'claim.txHash': { $type: 'string' } }, indexes: [WORK_LIST], by: 'verify-all-pending' },
  {
    collection: 'payments',
    filter: { provider: '=', status: IN, externalId: { $ne: '…' }, createdAt: BEFORE },
    indexes: [WORK_LIST],
    by: 'auto-webhook monitor',
  },
  {
    collection: 'payments',
    filter: { provider: '=', status: IN, payAddress: { $ne: '…' }, 'blockchain.network': '=' },
    indexes: [WORK_LIST],
    by: 'wallet monitor',
  },
  { collection: 'payments', filter: { provider: '=', direction: '=', status: IN, updatedAt: BEFORE }, indexes: [WORK_LIST], by: 'payout reconciler' },
  { collection: 'payments', filter: { status: IN, transactionHash: null }, indexes: [WORK_LIST], by: 'legacy fetch-missing-tx' },
  {
    collection: 'payments',
    filter: { direction: '=', status: IN, 'escrow.credits.0': { $exists: false } },
    indexes: [WORK_LIST],
    by: 'effects sweeper: legacy ledgers',
  },
  {
    collection: 'payments',
    filter: {
      status: '=',
      direction: '=',
      transactionHash: null,
      payAddress: null,
      createdAt: { $lt: '…' },
      claim: null,
      'creditKeys.0': { $exists: false },
      'escrow.payers.0': { $exists: false },
    },
    indexes: [WORK_LIST],
    by: 'purge of abandoned payments',
  },
  {
    collection: 'payments',
    filter: { pendingEffects: { $type: 'string' }, updatedAt: BEFORE },
    indexes: ['pendingEffects_1'],
    by: 'effects sweeper: the outbox',
  },
  {
    collection: 'payments',
    filter: { 'escrow.inFlight.state': T, 'escrow.inFlight.method': IN, updatedAt: BEFORE },
    indexes: [IN_FLIGHT],
    by: 'effects sweeper: orphan payouts',
  },
  { collection: 'payments', filter: { 'escrow.inFlight.method': '=', 'escrow.inFlight.state': T }, indexes: [IN_FLIGHT], by: 'hot-wallet receipt monitor' },
  { collection: 'payments', filter: { 'escrow.inFlight.state': T }, indexes: [IN_FLIGHT], by: 'metrics: payouts in doubt' },
  { collection: 'payments', filter: { direction: '=', escrowState: '=' }, indexes: ['escrowState_1_direction_1'], by: 'metrics: funded escrows' },
  // seller offers
  { collection: 'sellerOffers', filter: { purchaseRequestId: '=' }, indexes: ['purchaseRequestId_1_sellerId_1'], by: 'completion announcement' },
  { collection: 'sellerOffers', filter: { purchaseRequestId: '=', status: '=' }, indexes: ['purchaseRequestId_1_sellerId_1'], by: 'web3 offers' },
  {
    collection: 'sellerOffers',
    filter: { purchaseRequestId: '=', status: '=', sellerId: '=' },
    indexes: ['purchaseRequestId_1_sellerId_1'],
    by: 'web3 offers of one seller',
  },
  { collection: 'sellerOffers', filter: { purchaseRequestId: '=', sellerId: '=' }, indexes: ['purchaseRequestId_1_sellerId_1'], by: 'socket room check' },
  {
    collection: 'sellerOffers',
    filter: { purchaseRequestId: '=', _id: { $ne: '…' }, status: '=' },
    indexes: ['purchaseRequestId_1_sellerId_1'],
    by: 'reject sibling offers',
  },
  // webhook delivery log
  { collection: 'webhookDeliveries', filter: { dedupeKey: T }, indexes: ['dedupeKey_1'], by: 'callback dedupe' },
  { collection: 'webhookDeliveries', filter: { replayKey: T }, indexes: ['replayKey_1'], by: 'untimestamped replay' },
  { collection: 'webhookDeliveries', filter: { kind: '=', outcome: '=' }, indexes: ['kind_1_outcome_1'], by: 'webhook stats' },
  { collection: 'webhookDeliveries', filter: { kind: '=', outcome: IN }, indexes: ['kind_1_outcome_1'], by: 'webhook stats' },
  { collection: 'webhookDeliveries', filter: { kind: '=' }, indexes: ['kind_1_outcome_1'], by: 'webhook stats' },
  {
    collection: 'webhookDeliveries',
    filter: { externalId: '=' },
    indexes: ['externalId_1_receivedAt_-1'],
    by: "operators (and tests) reading one invoice's deliveries",
  },
  { collection: 'webhookDeliveries', filter: { outcome: '=' }, indexes: ['outcome_1_receivedAt_-1'], by: 'bad-signature sample cap' },
  { collection: 'webhookDeliveries', filter: { outcome: '=', expiresAt: BEFORE }, indexes: ['outcome_1_receivedAt_-1'], by: 'bad-signature sample expiry' },
  { collection: 'webhookDeliveries', filter: { expiresAt: BEFORE }, indexes: ['expiresAt_1'], by: 'retention sweep (in-process store)' },
  // the webhook inbox (src/core/jobs/durableQueue.ts over the delivery log)
  { collection: 'webhookDeliveries', filter: { 'job.state': '=', 'job.runAt': BEFORE }, indexes: [INBOX], by: 'inbox: due deliveries' },
  {
    collection: 'webhookDeliveries',
    filter: { 'job.state': '=', 'job.runAt': BEFORE, 'job.key': { $nin: '…' } },
    indexes: [INBOX],
    by: 'inbox: due, busy keys left out',
  },
  { collection: 'webhookDeliveries', filter: { 'job.state': '=', 'job.leaseUntil': BEFORE }, indexes: [INBOX], by: 'inbox: expired leases' },
  { collection: 'webhookDeliveries', filter: { 'job.key': T }, indexes: ['job.key_1_createdAt_1__id_1'], by: "inbox: a key's oldest unfinished delivery" },
  {
    collection: 'webhookDeliveries',
    filter: { externalId: '=', kind: '=', 'job.state': '=' },
    indexes: ['externalId_1_receivedAt_-1'],
    by: "inbox: an open payment's given-up deliveries, queued again",
  },
  { collection: 'webhookDeliveries', filter: { kind: '=', 'job.state': IN }, indexes: [INBOX], by: 'webhook stats: inbox depth and lag' },
  { collection: 'webhookDeliveries', filter: { kind: '=', 'job.state': '=' }, indexes: [INBOX], by: 'webhook stats: running and dead' },
  // records in (src/features/ingest): a request's payments, when it is cancelled or its buyer would change
  { collection: 'payments', filter: { purchaseRequestId: '=' }, indexes: ['purchaseRequestId_1_sellerOfferId_1'], by: "ingest: a request's payments" },
  // the admin's work queue, oldest first (src/features/adminConsole/adminQueue.ts): each view's first and next pages
  ...queueShapes({ escrowState: '=', direction: '=', 'escrow.inFlight': null }, 'escrowState_1_direction_1', 'decisions'),
  ...queueShapes({ 'escrow.inFlight.state': { $in: '…', $type: 'string' } }, IN_FLIGHT, 'in flight'),
  ...queueShapes({ 'escrow.inFlight.state': T }, IN_FLIGHT, 'in doubt'),
  ...queueShapes({ 'attention.reason': { $type: 'string' } }, 'attention.reason_1', 'attention'),
  ...queueShapes({ 'escrow.credits.reason': { $in: '…', $type: 'string' } }, 'escrow.credits.reason_1', 'excess'),
  ...queueShapes({ 'escrow.shortfall': { $type: 'string' } }, 'escrow.shortfall_1', 'short'),
  // the event outbox and log (src/core/events/eventRelay.ts, src/features/webhookEndpoints/eventLog.ts)
  { collection: 'payments', filter: { 'pendingEvents.id': { $type: 'string' } }, indexes: ['pendingEvents.id_1'], by: 'event relay: unrecorded events' },
  { collection: 'paymentEvents', filter: { createdAt: BEFORE }, indexes: [EVENTS], by: 'GET /events: first page' },
  { collection: 'paymentEvents', filter: { $and: [{ createdAt: BEFORE }, AFTER] }, indexes: [EVENTS], by: 'GET /events: next page' },
  { collection: 'paymentEvents', filter: { type: '=', createdAt: BEFORE }, indexes: ['type_1_createdAt_-1__id_-1'], by: 'GET /events?type' },
  {
    collection: 'paymentEvents',
    filter: { type: '=', $and: [{ createdAt: BEFORE }, AFTER] },
    indexes: ['type_1_createdAt_-1__id_-1'],
    by: 'GET /events?type: next page',
  },
  { collection: 'paymentEvents', filter: { paymentId: '=', createdAt: BEFORE }, indexes: [PAYMENT_EVENTS], by: 'GET /events?paymentId' },
  {
    collection: 'paymentEvents',
    filter: { paymentId: '=', $and: [{ createdAt: BEFORE }, AFTER] },
    indexes: [PAYMENT_EVENTS],
    by: 'GET /events?paymentId: next page',
  },
  { collection: 'paymentEvents', filter: { type: '=', paymentId: '=', createdAt: BEFORE }, indexes: [PAYMENT_EVENTS], by: 'GET /events?type&paymentId' },
  {
    collection: 'paymentEvents',
    filter: { type: '=', paymentId: '=', $and: [{ createdAt: BEFORE }, AFTER] },
    indexes: [PAYMENT_EVENTS],
    by: 'GET /events?type&paymentId: next page',
  },
  { collection: 'paymentEvents', filter: { expiresAt: BEFORE }, indexes: ['expiresAt_1'], by: 'retention sweep (in-process store)' },
  // outbound deliveries: the operator's log and the durable queue (as on the inbox)
  { collection: 'eventDeliveries', filter: { endpointId: '=', createdAt: BEFORE }, indexes: [ENDPOINT_LOG], by: "an endpoint's deliveries" },
  {
    collection: 'eventDeliveries',
    filter: { endpointId: '=', $and: [{ createdAt: BEFORE }, AFTER] },
    indexes: [ENDPOINT_LOG],
    by: "an endpoint's deliveries: next page",
  },
  { collection: 'eventDeliveries', filter: { endpointId: '=' }, indexes: [ENDPOINT_LOG], by: 'one delivery of an endpoint (with _id)' },
  { collection: 'eventDeliveries', filter: { eventId: '=' }, indexes: ['eventId_1'], by: "an event's deliveries" },
  { collection: 'eventDeliveries', filter: { 'job.state': '=', 'job.runAt': BEFORE }, indexes: [OUTBOX_QUEUE], by: 'deliveries: due' },
  {
    collection: 'eventDeliveries',
    filter: { 'job.state': '=', 'job.runAt': BEFORE, 'job.key': { $nin: '…' } },
    indexes: [OUTBOX_QUEUE],
    by: 'deliveries: due, busy keys left out',
  },
  { collection: 'eventDeliveries', filter: { 'job.state': '=', 'job.leaseUntil': BEFORE }, indexes: [OUTBOX_QUEUE], by: 'deliveries: expired leases' },
  { collection: 'eventDeliveries', filter: { 'job.key': T }, indexes: ['job.key_1_createdAt_1__id_1'], by: "deliveries: a key's oldest unfinished" },
  { collection: 'eventDeliveries', filter: { expiresAt: BEFORE }, indexes: ['expiresAt_1'], by: 'retention sweep (in-process store)' },
  // idempotency records
  { collection: 'idempotencyKeys', filter: { scopeKey: '=' }, indexes: ['scopeKey_1'], by: 'Idempotency-Key' },
  { collection: 'idempotencyKeys', filter: { scopeKey: '=', expiresAt: BEFORE }, indexes: ['scopeKey_1'], by: 'Idempotency-Key: expired record' },
  { collection: 'idempotencyKeys', filter: { expiresAt: BEFORE }, indexes: ['expiresAt_1'], by: 'retention sweep (in-process store)' },
];

/** The listed shape a sent filter has, or undefined. */
export function listedShape(collection: CollectionName, filter: Record<string, unknown>): QueryShape | undefined {
  const shape = shapeOf(filter);
  return SHAPE_INDEX.get(`${collection} ${shape}`);
}

const SHAPE_INDEX = new Map(QUERY_SHAPES.map((q) => [`${q.collection} ${shapeOf(q.filter)}`, q]));
