/** The records every flow reads and writes. Field names are the API's; ids are 24-hex strings. */

export const PAYMENT_STATUSES = [
  'pending',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'released',
  'refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const ESCROW_STATES = ['unfunded', 'funded', 'released', 'refunded'] as const;
export type EscrowState = (typeof ESCROW_STATES)[number];

export const PROVIDERS = ['shkeeper', 'decentralized', 'manual', 'admin_wallet'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const DIRECTIONS = ['in', 'out'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface Money {
  /** Decimal string, normalised (no trailing zeros). */
  amount: string;
  currency: string;
}

export interface HistoryEntry {
  fromStatus: PaymentStatus | null;
  toStatus: PaymentStatus;
  fromEscrow: EscrowState | null;
  toEscrow: EscrowState;
  source: string;
  actor: string;
  at: Date;
  reason: string | null;
}

export interface PaymentRecord {
  id: string;
  provider: Provider;
  direction: Direction;
  status: PaymentStatus;
  escrowState: EscrowState;
  purchaseRequestId: string;
  sellerOfferId: string | null;
  buyerId: string;
  sellerId: string | null;
  amount: Money;
  blockchain: { network: string; token: string } | null;
  transactionHash: string | null;
  externalId: string | null;
  paymentUrl: string | null;
  payAddress: string | null;
  expiresAt: Date | null;
  providerTaskId: string | null;
  releaseTxHash: string | null;
  refundTxHash: string | null;
  /**
   * The offer id (`payout:<offer id>` for a payout) while this payment holds the offer (pending, processing, completed,
   * released, refunded); null once it failed or was cancelled. A unique key on it means one live
   * payment per offer, enforced by the store itself rather than by a lock.
   */
  liveOfferKey: string | null;
  /**
   * Side effects of the last transition not yet carried out (an outbox): written in the same
   * atomic update as the transition, each removed once done, finished by the sweeper after a crash.
   */
  pendingEffects: string[];
  /** Provider-specific facts (amounts received, invoice quotes…) kept apart from the core fields. */
  providerData: Record<string, unknown>;
  metadata: Record<string, unknown>;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

export const PURCHASE_REQUEST_STATUSES = [
  'open',
  'payment_processing',
  'seller_paid',
  'refunded',
  'closed',
] as const;
export type PurchaseRequestStatus = (typeof PURCHASE_REQUEST_STATUSES)[number];

export interface PurchaseRequestRecord {
  id: string;
  buyerId: string;
  title: string | null;
  /** Where a refund goes when the paying wallet is not known from the chain. */
  buyerWalletAddress: string | null;
  status: PurchaseRequestStatus;
  createdAt: Date;
  updatedAt: Date;
}

export const SELLER_OFFER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type SellerOfferStatus = (typeof SELLER_OFFER_STATUSES)[number];

export interface SellerOfferRecord {
  id: string;
  purchaseRequestId: string;
  sellerId: string;
  amount: string;
  currency: string;
  walletAddress: string | null;
  status: SellerOfferStatus;
  createdAt: Date;
  updatedAt: Date;
}

export const DELIVERY_OUTCOMES = [
  'received',
  'applied',
  'duplicate',
  'stale',
  'late_payment',
  'unknown_invoice',
  'bad_signature',
  'malformed',
  'error',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** One row per webhook delivery, whatever became of it: what an operator reads to see what arrived. */
export interface WebhookDeliveryRecord {
  id: string;
  provider: 'shkeeper';
  kind: 'invoice' | 'payout';
  receivedAt: Date;
  /** How the delivery proved it came from SHKeeper, or null when it did not. */
  verification: 'hmac_timestamp' | 'hmac_body' | 'legacy_api_key' | null;
  verificationError: string | null;
  externalId: string | null;
  status: string | null;
  txids: string[];
  outcome: DeliveryOutcome;
  /** Set on the one delivery that applied an (external id, txid, crypto); unique. */
  dedupeKey: string | null;
  paymentId: string | null;
  detail: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A stored answer to a request that carried an Idempotency-Key. */
export interface IdempotencyRecord {
  id: string;
  /** route + caller + key; unique. */
  scopeKey: string;
  requestHash: string;
  state: 'in_progress' | 'done';
  statusCode: number | null;
  responseBody: unknown;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}
