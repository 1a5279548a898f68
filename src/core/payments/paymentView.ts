import { LRUCache } from 'lru-cache';
import type { Disbursement, PaymentRecord } from '../store/records.js';
import { available, excessAmount, ledgerOf } from './escrowLedger.js';

/** The one place that decides how a payment looks at the API. History is shown only in debug. */
export function paymentView(p: PaymentRecord) {
  return {
    id: p.id,
    provider: p.provider,
    direction: p.direction,
    status: p.status,
    escrowState: p.escrowState,
    purchaseRequestId: p.purchaseRequestId,
    sellerOfferId: p.sellerOfferId,
    buyerId: p.buyerId,
    sellerId: p.sellerId,
    amount: { amount: p.amount.amount, currency: p.amount.currency },
    blockchain: p.blockchain,
    /** The hash of the transfer that funded the escrow; while unproven, the latest claim. */
    transactionHash: p.transactionHash ?? p.claim?.txHash ?? null,
    claim: p.claim ? { transactionHash: p.claim.txHash, at: new Date(p.claim.at).toISOString() } : null,
    escrow: p.direction === 'in' ? escrowView(p) : null,
    escrowPaymentId: p.escrowPaymentId ?? null,
    externalId: p.externalId,
    paymentUrl: p.paymentUrl,
    payAddress: p.payAddress,
    expiresAt: p.expiresAt?.toISOString() ?? null,
    providerTaskId: p.providerTaskId,
    releaseTxHash: p.releaseTxHash,
    refundTxHash: p.refundTxHash,
    metadata: p.metadata,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export type PaymentView = ReturnType<typeof paymentView>;

/**
 * Views of read-only records, by record identity. Shaping a record's ledger (decimal sums through
 * ethers' FixedNumber) was ~8% of the CPU of `GET /api/payment/:id` in the bench profile, and a
 * frozen record (what the memory store hands out) can never change under its view. Bounded, so an
 * export walking every record does not keep a view of each.
 */
const frozenViews = new LRUCache<PaymentRecord, PaymentView>({ max: 1_000 });

/**
 * `paymentView`, remembered for a frozen record and itself frozen (one view serves every reader).
 * A record that can still change (a Mongo read, a write's result) is shaped afresh each time.
 */
export function readOnlyPaymentView(p: PaymentRecord): PaymentView {
  if (!Object.isFrozen(p)) return paymentView(p);
  let view = frozenViews.get(p);
  if (!view) {
    view = freezeDeep(paymentView(p));
    frozenViews.set(p, view);
  }
  return view;
}

function freezeDeep<V>(value: V): V {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) freezeDeep(child);
  return Object.freeze(value);
}

export function paymentDebugView(p: PaymentRecord) {
  return {
    ...paymentView(p),
    providerData: p.providerData,
    history: p.history.map((h) => ({ ...h, at: h.at.toISOString() })),
  };
}

/**
 * What an unauthenticated caller (a Web3 save, a payer proof) sees: the payment's state and money,
 * not the parties' data — no metadata, no wallets, no senders. The external id stays: the old SDK's
 * callback presents it, and it grants nothing (every claim is proven on chain).
 */
export function publicPaymentView(p: PaymentRecord) {
  const { metadata: _metadata, buyerId: _buyer, sellerId: _seller, escrow, ...rest } = paymentView(p);
  if (!escrow) return { ...rest, escrow };
  const { payer: _payer, provenWallets, credits, ...money } = escrow;
  return {
    ...rest,
    escrow: { ...money, walletProven: provenWallets.length > 0, credits: credits.map(({ from: _from, ...c }) => c) },
  };
}

/** The escrow ledger as the API shows it: what arrived, from whom, and where it went. */
export function escrowView(p: PaymentRecord) {
  const l = ledgerOf(p);
  return {
    received: l.received,
    excess: excessAmount(p),
    shortfall: l.shortfall,
    available: available(l),
    disbursed: l.disbursed,
    payer: l.payer,
    provenWallets: l.payers.map((w) => ({ wallet: w.wallet, provenAt: new Date(w.provenAt).toISOString(), provenAtBlock: w.provenAtBlock })),
    credits: l.credits.map((c) => ({
      kind: c.kind,
      reason: c.reason,
      transactionHash: c.txHash,
      from: c.from,
      to: c.to,
      amount: c.amount,
      baseUnits: c.baseUnits,
      blockNumber: c.blockNumber,
      source: c.source,
      at: new Date(c.at).toISOString(),
    })),
    inFlight: l.inFlight ? disbursementView(l.inFlight) : null,
    disbursements: l.disbursements.map(disbursementView),
  };
}

/** A disbursement as the API shows it (the payment view, and the events that announce one). */
export function disbursementView(d: Disbursement) {
  return {
    id: d.id,
    kind: d.kind,
    method: d.method,
    recipient: d.recipient,
    amount: d.amount,
    state: d.state,
    override: d.override,
    payoutId: d.payoutId,
    evidence: d.evidence,
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
  };
}
