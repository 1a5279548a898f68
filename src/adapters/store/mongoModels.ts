import { Schema, type Connection } from 'mongoose';
import {
  DELIVERY_OUTCOMES,
  DIRECTIONS,
  ESCROW_STATES,
  PAYMENT_STATUSES,
  PROVIDERS,
  PURCHASE_REQUEST_STATUSES,
  SELLER_OFFER_STATUSES,
} from '../../core/store/records.js';
import { INDEXES, type CollectionName, type IndexSpec } from './indexPlan.js';
import { EVENT_DELIVERY_STATUSES } from '../../core/store/eventRecords.js';

/**
 * Mongoose schemas for the production store. Ids are ObjectIds in `_id`; references to other
 * records and user ids are plain strings so the same filter documents work in both stores.
 * `strict: 'throw'` makes a write to a path the schema does not know fail loudly instead of being
 * dropped. Timestamps are set by the store, not by Mongoose, so both stores stamp them alike.
 */
const common = { versionKey: false, strict: 'throw', timestamps: false, minimize: false } as const;
const nullableString = { type: String, default: null };

const historySchema = new Schema(
  {
    fromStatus: { type: String, enum: [...PAYMENT_STATUSES, null], default: null },
    toStatus: { type: String, enum: PAYMENT_STATUSES, required: true },
    fromEscrow: { type: String, enum: [...ESCROW_STATES, null], default: null },
    toEscrow: { type: String, enum: ESCROW_STATES, required: true },
    source: { type: String, required: true },
    actor: { type: String, required: true },
    at: { type: Date, required: true },
    reason: nullableString,
  },
  { _id: false, ...common },
);

export const paymentSchema = new Schema(
  {
    provider: { type: String, enum: PROVIDERS, required: true },
    direction: { type: String, enum: DIRECTIONS, required: true },
    status: { type: String, enum: PAYMENT_STATUSES, required: true },
    escrowState: { type: String, enum: ESCROW_STATES, required: true },
    purchaseRequestId: { type: String, required: true },
    sellerOfferId: nullableString,
    buyerId: { type: String, required: true },
    sellerId: nullableString,
    amount: {
      // A decimal string: exact, and summed with $toDecimal in aggregations.
      amount: { type: String, required: true },
      currency: { type: String, required: true },
    },
    blockchain: {
      type: new Schema({ network: String, token: String }, { _id: false, ...common }),
      default: null,
    },
    transactionHash: nullableString,
    externalId: nullableString,
    paymentUrl: nullableString,
    payAddress: nullableString,
    expiresAt: { type: Date, default: null },
    providerTaskId: nullableString,
    releaseTxHash: nullableString,
    refundTxHash: nullableString,
    liveOfferKey: nullableString,
    // The escrow ledger (credits, payers, disbursements): written whole by the coordinator.
    escrow: { type: Schema.Types.Mixed, default: null },
    creditKeys: { type: [String], default: [] },
    fundedRequestKey: nullableString,
    claim: { type: Schema.Types.Mixed, default: null },
    escrowPaymentId: nullableString,
    revision: { type: Number, default: 0 },
    pendingEffects: { type: [String], default: [] },
    // Written whole by the coordinator (flags) and pushed with each change (events): kept as sent.
    attention: { type: [Schema.Types.Mixed], default: [] },
    pendingEvents: { type: [Schema.Types.Mixed], default: [] },
    lastEventAt: { type: Date, default: null },
    providerData: { type: Schema.Types.Mixed, default: {} },
    metadata: { type: Schema.Types.Mixed, default: {} },
    history: { type: [historySchema], default: [] },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const purchaseRequestSchema = new Schema(
  {
    buyerId: { type: String, required: true },
    title: nullableString,
    buyerWalletAddress: nullableString,
    status: { type: String, enum: PURCHASE_REQUEST_STATUSES, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const sellerOfferSchema = new Schema(
  {
    purchaseRequestId: { type: String, required: true },
    sellerId: { type: String, required: true },
    amount: { type: String, required: true },
    currency: { type: String, required: true },
    walletAddress: nullableString,
    status: { type: String, enum: SELLER_OFFER_STATUSES, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

/** A record's queued work (src/core/jobs/durableQueue.ts `JobState`). */
const jobSchema = new Schema(
  {
    state: { type: String, enum: ['queued', 'running', 'dead', null], default: null },
    key: nullableString,
    attempts: { type: Number, required: true },
    runAt: { type: Date, required: true },
    leaseOwner: nullableString,
    leaseUntil: { type: Date, default: null },
    lastError: nullableString,
    finishedAt: { type: Date, default: null },
  },
  { _id: false, ...common },
);

export const webhookDeliverySchema = new Schema(
  {
    provider: { type: String, required: true },
    kind: { type: String, enum: ['invoice', 'payout'], required: true },
    receivedAt: { type: Date, required: true },
    verification: nullableString,
    verificationError: nullableString,
    externalId: nullableString,
    status: nullableString,
    txids: { type: [String], default: [] },
    outcome: { type: String, enum: DELIVERY_OUTCOMES, required: true },
    dedupeKey: nullableString,
    replayKey: nullableString,
    paymentId: nullableString,
    detail: nullableString,
    expiresAt: { type: Date, default: null },
    body: nullableString,
    job: { type: jobSchema, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const idempotencySchema = new Schema(
  {
    scopeKey: { type: String, required: true },
    requestHash: { type: String, required: true },
    state: { type: String, enum: ['in_progress', 'done'], required: true },
    statusCode: { type: Number, default: null },
    responseBody: { type: Schema.Types.Mixed, default: null },
    expiresAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const paymentEventSchema = new Schema(
  {
    type: { type: String, required: true },
    paymentId: { type: String, required: true },
    data: { type: Schema.Types.Mixed, default: {} },
    expiresAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const webhookEndpointSchema = new Schema(
  {
    url: { type: String, required: true },
    description: nullableString,
    enabled: { type: Boolean, required: true },
    eventTypes: { type: [String], default: [] },
    // Kept whole: the current secret and, during a rotation, the one it replaces.
    secrets: { type: [Schema.Types.Mixed], default: [] },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

export const eventDeliverySchema = new Schema(
  {
    endpointId: { type: String, required: true },
    eventId: { type: String, required: true },
    eventType: { type: String, required: true },
    paymentId: { type: String, required: true },
    requestBody: { type: String, required: true },
    status: { type: String, enum: EVENT_DELIVERY_STATUSES, required: true },
    attemptLog: { type: [Schema.Types.Mixed], default: [] },
    responseCode: { type: Number, default: null },
    responseBody: nullableString,
    error: nullableString,
    deliveredAt: { type: Date, default: null },
    redeliveryOf: nullableString,
    requestedBy: nullableString,
    job: { type: jobSchema, default: null },
    expiresAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  common,
);

/**
 * Declares the indexes of src/store/indexPlan.ts on a schema, as MongoDB options: a partial
 * filter `{ field: { $type: 'string' } }` for `partialString`, `expireAfterSeconds: 0` for a TTL
 * field (the record goes once the date in it has passed).
 */
function declareIndexes(schema: Schema, specs: readonly IndexSpec[]): void {
  for (const spec of specs) {
    const field = Object.keys(spec.keys)[0]!;
    schema.index(spec.keys, {
      ...(spec.unique ? { unique: true } : {}),
      ...(spec.partialString ? { partialFilterExpression: { [field]: { $type: 'string' } } } : {}),
      ...(spec.expireAtField ? { expireAfterSeconds: 0 } : {}),
    });
  }
}
declareIndexes(paymentSchema, INDEXES.payments);
declareIndexes(purchaseRequestSchema, INDEXES.purchaseRequests);
declareIndexes(sellerOfferSchema, INDEXES.sellerOffers);
declareIndexes(webhookDeliverySchema, INDEXES.webhookDeliveries);
declareIndexes(idempotencySchema, INDEXES.idempotencyKeys);
declareIndexes(paymentEventSchema, INDEXES.paymentEvents);
declareIndexes(webhookEndpointSchema, INDEXES.webhookEndpoints);
declareIndexes(eventDeliverySchema, INDEXES.eventDeliveries);

/** Each collection's schema, by the name the stores and the index plan use. */
export const SCHEMAS: Record<CollectionName, Schema> = {
  payments: paymentSchema,
  purchaseRequests: purchaseRequestSchema,
  sellerOffers: sellerOfferSchema,
  webhookDeliveries: webhookDeliverySchema,
  idempotencyKeys: idempotencySchema,
  paymentEvents: paymentEventSchema,
  webhookEndpoints: webhookEndpointSchema,
  eventDeliveries: eventDeliverySchema,
};

export function registerModels(conn: Connection) {
  return {
    Payment: conn.model('Payment', paymentSchema, 'payments'),
    PurchaseRequest: conn.model('PurchaseRequest', purchaseRequestSchema, 'purchaserequests'),
    SellerOffer: conn.model('SellerOffer', sellerOfferSchema, 'selleroffers'),
    WebhookDelivery: conn.model('WebhookDelivery', webhookDeliverySchema, 'webhookdeliveries'),
    IdempotencyKey: conn.model('IdempotencyKey', idempotencySchema, 'idempotencykeys'),
    PaymentEvent: conn.model('PaymentEvent', paymentEventSchema, 'paymentevents'),
    WebhookEndpoint: conn.model('WebhookEndpoint', webhookEndpointSchema, 'webhookendpoints'),
    EventDelivery: conn.model('EventDelivery', eventDeliverySchema, 'eventdeliveries'),
  };
}
