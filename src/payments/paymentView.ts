import type { PaymentRecord } from '../store/records.js';

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
    transactionHash: p.transactionHash,
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

export function paymentDebugView(p: PaymentRecord) {
  return {
    ...paymentView(p),
    providerData: p.providerData,
    history: p.history.map((h) => ({ ...h, at: h.at.toISOString() })),
  };
}
