import type { JobState } from '../jobs/jobState.js';
/** The records every flow reads and writes. Field names are the API's; ids are 24-hex strings. */

export const PAYMENT_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled', 'released', 'refunded'] as const;
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

/**
 * One transfer that arrived for an escrow, proven by the chain or reported by SHKeeper for the
 * invoice's own address and crypto. `key` names the transfer across every payment (a unique key
 * of the store), so one transfer is credited once, whatever path saw it first.
 */
export interface Credit {
  /** `<network>:<tx hash>:<receiver>` for an EVM transfer; `<crypto>:<txid>:<address>` otherwise. */
  key: string;
  /** `funding` counts toward the price; `excess` is money that arrived beyond it or too late. */
  kind: 'funding' | 'excess';
  /** Why an excess credit is excess: `overpaid`, `second_payment`, `late_payment`, `request_already_funded`… */
  reason: string | null;
  txHash: string;
  from: string | null;
  to: string | null;
  network: string;
  token: string;
  /** Decimal string in the payment's currency. */
  amount: string;
  /** Base units on chain as a decimal integer string, when the chain was read. */
  baseUnits: string | null;
  blockNumber: number | null;
  /** What saw it: `chain_verification`, `shkeeper_webhook`, `confirm_transaction`, `wallet_monitor`, … */
  source: string;
  at: Date;
}

/** A wallet that signed the payer-proof message for this payment (EIP-712), and when. */
export interface ProvenPayer {
  wallet: string;
  provenAt: Date;
  /** The chain head when the proof was accepted: only transfers mined after it credit the payment. */
  provenAtBlock: number;
  method: 'eip712';
}

export const DISBURSEMENT_KINDS = ['release', 'refund', 'payout'] as const;
export type DisbursementKind = (typeof DISBURSEMENT_KINDS)[number];
export const DISBURSEMENT_METHODS = ['escrow_tx', 'shkeeper', 'hot_wallet'] as const;
export type DisbursementMethod = (typeof DISBURSEMENT_METHODS)[number];
export const DISBURSEMENT_STATES = ['prepared', 'submitted', 'in_doubt', 'settled', 'failed', 'withdrawn'] as const;
export type DisbursementState = (typeof DISBURSEMENT_STATES)[number];

/** Money leaving one escrow: a release or payout to the seller, or a refund to the payer. */
export interface Disbursement {
  id: string;
  kind: DisbursementKind;
  method: DisbursementMethod;
  recipient: string;
  /** Decimal string in the payment's currency. */
  amount: string;
  state: DisbursementState;
  /** Set when an admin paid someone other than the rule's recipient: who, and why. */
  override: { by: string; reason: string } | null;
  /** The outbound Payment row (SHKeeper or hot-wallet payout), when there is one. */
  payoutId: string | null;
  /** Chain tx hash or provider task / txid that settled or failed it. */
  evidence: string | null;
  /** For an escrow_tx release or refund: the EIP-1193 transaction to sign. */
  payload: unknown;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What an inbound payment's escrow holds and where it went: the ledger of
 * ../shared/design/escrow-ledger.md. `received` is the sum of every credit (funding and excess);
 * `disbursed` the sum of settled disbursements; at most one disbursement is in flight.
 */
export interface EscrowLedger {
  received: string;
  credits: Credit[];
  /** Set when the payment settled below its price, within UNDERPAYMENT_TOLERANCE. */
  shortfall: string | null;
  payers: ProvenPayer[];
  /** The sender of the funding credit: where a refund goes. */
  payer: string | null;
  inFlight: Disbursement | null;
  disbursements: Disbursement[];
  disbursed: string;
}

/**
 * A transaction hash someone says pays this payment, not yet proven. It reserves nothing: only a
 * verified credit takes a hash. `from` and `nonce` are read from the chain when it is seen, so a
 * sped-up replacement (same sender and nonce) can be found.
 */
export interface Claim {
  txHash: string;
  from: string | null;
  nonce: number | null;
  source: string;
  actor: string;
  at: Date;
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
  /** Inbound: the escrow's ledger. Outbound (payouts): null. */
  escrow: EscrowLedger | null;
  /** Every credit key of this payment (unique across payments: one transfer credits once). */
  creditKeys: string[];
  /** The purchase request id once this payment's escrow is funded (unique: one funded escrow per request). */
  fundedRequestKey: string | null;
  /** The latest unproven claim of a transaction hash, if any. */
  claim: Claim | null;
  /** Outbound rows: the inbound payment whose escrow this payout disburses. */
  escrowPaymentId: string | null;
  /** Bumped by every write of the coordinator: its writes are conditional on the revision they read. */
  revision?: number;
  /**
   * Side effects of the last transition not yet carried out (an outbox): written in the same
   * atomic update as the transition, each removed once done, finished by the sweeper after a crash.
   */
  pendingEffects: string[];
  /**
   * Reasons an admin must look at this payment (a cancelled request whose escrow is funded…),
   * oldest first; never cleared by the service itself. Absent on records written before it existed.
   */
  attention?: AttentionFlag[];
  /**
   * Events of this payment's changes not yet handed to the event log (an outbox): pushed in the
   * same atomic update as the change they announce, removed by the relay once recorded
   * (src/core/events/eventRelay.ts). Absent on records written before it existed.
   */
  pendingEvents?: PendingEvent[];
  /** The time of this payment's latest event: the next one is later (see `eventsOfChange`). */
  lastEventAt?: Date | null;
  /** Provider-specific facts (amounts received, invoice quotes…) kept apart from the core fields. */
  providerData: Record<string, unknown>;
  metadata: Record<string, unknown>;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

/** `cancelled`: the marketplace withdrew the request (PUT purchase-requests); no payment may start. */
/** Why an admin must look at a payment; raised by the service, answered by people. */
export interface AttentionFlag {
  /** Machine-readable: `request_cancelled_with_funded_escrow`, `request_cancelled_while_processing`, … */
  reason: string;
  source: string;
  actor: string;
  at: Date;
}

/** One event of a payment's change, as written with the change (see `PaymentRecord.pendingEvents`). */
export interface PendingEvent {
  /** 24-hex id, minted with the change: the event's id for good (the relay's inserts are idempotent on it). */
  id: string;
  type: string;
  at: Date;
  /** What the event says: the payment's state after the change and the change's own facts. */
  data: Record<string, unknown>;
}

export const PURCHASE_REQUEST_STATUSES = ['open', 'payment_processing', 'seller_paid', 'refunded', 'closed', 'cancelled'] as const;
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
  /** Money beyond what the payment takes (a second or over-payment after completion): recorded as an excess credit. */
  'excess',
  /** Signed, but not for this invoice's crypto or pay address (or its transfer is credited elsewhere): nothing funded. */
  'refused',
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
  /**
   * Set on a delivery whose proof carries no timestamp (`hmac_body`, `legacy_api_key`): its kind and
   * the SHA-256 of its body; unique. Such a proof can be replayed for ever by anyone who saw it, so
   * the same bytes again are answered from the first row instead of being stored and queued again.
   */
  replayKey?: string | null;
  paymentId: string | null;
  detail: string | null;
  /** When the row is dropped (MongoDB TTL index; swept in process): the retention, or a day for a bad-signature sample. */
  expiresAt?: Date | null;
  /** The signed body as it arrived (UTF-8), kept for the inbox worker that applies it; null on rows not applied from the inbox. */
  body?: string | null;
  /** The inbox's work on this delivery (src/core/jobs/durableQueue.ts); null on rows never queued (refused, malformed). */
  job?: JobState | null;
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
