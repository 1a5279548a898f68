import { AppError } from '../common/errors.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

export type EscrowAction = 'release' | 'refund';

/**
 * Who escrow pays. A release pays the seller's wallet recorded on the offer. A refund pays the
 * wallet the buyer paid from (known when the pay-in was verified on chain), else the buyer wallet
 * recorded on the purchase request. Without one, nothing can be prepared: 409, never a guess.
 */
export async function escrowRecipient(store: Store, p: PaymentRecord, action: EscrowAction): Promise<string> {
  if (action === 'release') {
    const offer = p.sellerOfferId ? await store.sellerOffers.findById(p.sellerOfferId) : null;
    if (!offer?.walletAddress) {
      throw new AppError('conflict', "the seller's offer has no wallet address to release to", { code: 'seller_wallet_missing' });
    }
    return offer.walletAddress;
  }
  const payer = p.providerData.payerAddress;
  if (typeof payer === 'string') return payer;
  const request = await store.purchaseRequests.findById(p.purchaseRequestId);
  if (!request?.buyerWalletAddress) {
    throw new AppError('conflict', 'no buyer wallet is known for this payment to refund to', { code: 'buyer_wallet_missing' });
  }
  return request.buyerWalletAddress;
}

export const TARGET_STATUS = { release: 'released', refund: 'refunded' } as const;
export const HASH_FIELD = { release: 'releaseTxHash', refund: 'refundTxHash' } as const;
