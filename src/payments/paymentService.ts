import type { Principal } from '../auth/tokens.js';
import { AppError } from '../common/errors.js';
import { newObjectId } from '../common/ids.js';
import type { PaymentEvents } from '../events/paymentEvents.js';
import { announcePaymentCreated, announcePaymentUpdate } from './paymentAnnouncements.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { assertSelfOrAdmin, isPartyTo, partyFilter, visiblePayment } from './paymentAccess.js';
import type { PaymentCoordinator } from './paymentCoordinator.js';
import type { CreatePaymentInput, UpdatePaymentInput } from './paymentSchemas.js';
import type { PaymentStatus } from '../store/records.js';
import { compareDecimals } from '../common/money.js';

/** A payment in one of these still holds (or may soon hold) the buyer's money for its offer. */
const LIVE_STATUSES: PaymentStatus[] = ['pending', 'processing', 'completed', 'released', 'refunded'];
/** Settlement may still arrive: claims (tx hashes) can be attached. */
const OPEN_STATUSES: PaymentStatus[] = ['pending', 'processing'];

/** Manual payment records: create, amend, read and list. State changes go through the coordinator. */
export class PaymentService {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
  ) {}

  async create(who: Principal, input: CreatePaymentInput): Promise<PaymentRecord> {
    if (!who.isAdmin && input.buyerId !== who.userId) {
      throw new AppError('forbidden', 'you may only create payments where you are the buyer', { code: 'not_buyer' });
    }
    const request = await this.store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw new AppError('not_found', 'purchase request not found', { code: 'purchase_request_not_found' });
    const offer = await this.store.sellerOffers.findById(input.sellerOfferId);
    if (!offer) throw new AppError('not_found', 'seller offer not found', { code: 'seller_offer_not_found' });
    const mismatch =
      offer.purchaseRequestId !== request.id
        ? 'the offer does not belong to this purchase request'
        : request.buyerId !== input.buyerId
          ? 'buyerId is not the buyer of this purchase request'
          : offer.sellerId !== input.sellerId
            ? 'sellerId is not the seller of this offer'
            : offer.currency !== input.amount.currency
              ? `the offer is priced in ${offer.currency}`
              : compareDecimals(offer.amount, input.amount.amount) !== 0
                ? `the offer's amount is ${offer.amount} ${offer.currency}`
                : undefined;
    if (mismatch) throw new AppError('conflict', mismatch, { code: 'records_do_not_match' });
    if (request.status !== 'open') {
      throw new AppError('invalid_state', 'the purchase request is no longer open', { code: 'purchase_request_not_open' });
    }
    if (offer.status !== 'pending') {
      throw new AppError('invalid_state', `the offer is already ${offer.status}`, { code: 'offer_not_pending' });
    }
    await this.assertNoLivePayment(offer.id);
    let payment: PaymentRecord;
    try {
      payment = await this.insertManual(who, input, request.id, offer.id);
    } catch (err) {
      // Two creates passed the check at once: the store's unique live-offer key let one win.
      if ((err as AppError).code === 'duplicate_key' && duplicateKeys(err).includes('liveOfferKey')) {
        await this.assertNoLivePayment(offer.id);
      }
      throw err;
    }
    announcePaymentCreated(this.events, payment);
    return payment;
  }

  private async assertNoLivePayment(offerId: string): Promise<void> {
    const live = await this.store.payments.findOne({
      $or: [
        { liveOfferKey: offerId },
        { sellerOfferId: offerId, status: { $in: LIVE_STATUSES }, provider: { $ne: 'decentralized' } },
        // A Web3 save is only a claim until the chain has seen its transfer.
        { sellerOfferId: offerId, status: { $in: LIVE_STATUSES.filter((s) => s !== 'pending') }, provider: 'decentralized' },
      ],
    });
    if (live) {
      throw new AppError('conflict', 'this offer already has a live payment', {
        code: 'payment_exists',
        details: { paymentId: live.id, status: live.status },
      });
    }
  }

  private insertManual(who: Principal, input: CreatePaymentInput, requestId: string, offerId: string) {
    return this.coordinator.create(
      {
        id: newObjectId(),
        provider: 'manual',
        direction: 'in',
        status: 'pending',
        escrowState: 'unfunded',
        purchaseRequestId: requestId,
        sellerOfferId: offerId,
        buyerId: input.buyerId,
        sellerId: input.sellerId,
        amount: input.amount,
        blockchain: input.blockchain ?? null,
        transactionHash: null,
        externalId: null,
        paymentUrl: null,
        payAddress: null,
        expiresAt: null,
        providerTaskId: null,
        releaseTxHash: null,
        refundTxHash: null,
        liveOfferKey: offerId,
        providerData: {},
        metadata: input.metadata ?? {},
      },
      'api',
      who.userId,
    );
  }

  /**
   * Admins move status along the coordinator's table. A party may cancel its own pending payment
   * and attach metadata or a transaction hash (recorded as a claim; status is unchanged until the
   * hash is verified). Nobody may mark their own payment completed. Every check runs before the
   * single atomic write, so a refused request changes nothing.
   */
  async update(who: Principal, id: string, input: UpdatePaymentInput): Promise<PaymentRecord> {
    const current = await visiblePayment(this.store, who, id);
    const statusChange = input.status !== undefined && input.status !== current.status ? input.status : undefined;
    if (statusChange) this.assertMayChangeStatus(who, current, statusChange);

    const set: Record<string, unknown> = {};
    const where: Record<string, unknown> = {};
    if (input.transactionHash !== undefined && input.transactionHash !== current.transactionHash) {
      if (current.transactionHash) {
        throw new AppError('conflict', 'this payment already has a different transaction hash', {
          code: 'transaction_hash_already_set',
        });
      }
      if (!OPEN_STATUSES.includes(current.status)) {
        throw new AppError('invalid_state', `a transaction hash cannot be attached to a ${current.status} payment`, {
          code: 'payment_not_open',
        });
      }
      set.transactionHash = input.transactionHash;
      where.transactionHash = null;
    }
    if (input.blockchain) {
      if (current.status !== 'pending') {
        throw new AppError('invalid_state', 'the network and token can only change while the payment is pending', {
          code: 'payment_not_pending',
        });
      }
      set.blockchain = input.blockchain;
    }
    for (const [k, v] of Object.entries(input.metadata ?? {})) set[`metadata.${k}`] = v;
    // Rules checked against the status read above must still hold at the moment of the write.
    const mustBePending = input.blockchain !== undefined || (statusChange === 'cancelled' && !who.isAdmin);
    if (mustBePending) where.status = 'pending';
    else if (set.transactionHash !== undefined) where.status = { $in: OPEN_STATUSES };

    try {
      if (statusChange) {
        const { payment, changed } = await this.coordinator.transition(id, {
          to: statusChange,
          source: 'api',
          actor: who.userId,
          set,
          where,
        });
        if (changed) {
          announcePaymentUpdate(this.events, payment);
          return payment;
        }
        // Someone else made the same move first; the fields sent with it still apply.
        return Object.keys(set).length === 0 ? payment : await this.coordinator.patch(id, set, where);
      }
      if (Object.keys(set).length === 0) return current;
      return await this.coordinator.patch(id, set, where);
    } catch (err) {
      throw translateDuplicateHash(err);
    }
  }

  async get(who: Principal, id: string): Promise<PaymentRecord> {
    return visiblePayment(this.store, who, id);
  }

  async listForUser(who: Principal, userId: string, q: { status: string[]; limit: number; offset: number }) {
    assertSelfOrAdmin(who, userId);
    const filter = { ...partyFilter(userId), status: { $in: q.status } };
    const [payments, total] = await Promise.all([
      this.store.payments.find(filter, { sort: { createdAt: -1, id: -1 }, skip: q.offset, limit: q.limit }),
      this.store.payments.count(filter),
    ]);
    return { payments, total, limit: q.limit, offset: q.offset };
  }

  private assertMayChangeStatus(who: Principal, p: PaymentRecord, next: PaymentStatus): void {
    if (next === 'completed' && isPartyTo(p, who)) {
      throw new AppError('forbidden', 'nobody may mark their own payment completed', { code: 'self_completion_forbidden' });
    }
    if (who.isAdmin) return;
    if (next !== 'cancelled') {
      throw new AppError('forbidden', 'only an admin may set this status', { code: 'status_change_forbidden' });
    }
    if (p.status !== 'pending') {
      throw new AppError('invalid_state', 'only a pending payment can be cancelled', { code: 'payment_not_pending' });
    }
  }
}

function duplicateKeys(err: unknown): string[] {
  return (err as { details?: { keys?: string[] } }).details?.keys ?? [];
}

export function translateDuplicateHash(err: unknown): unknown {
  const e = err as AppError;
  if (e instanceof AppError && e.code === 'duplicate_key' && duplicateKeys(e).includes('transactionHash')) {
    return new AppError('conflict', 'this transaction hash is already used by another payment', {
      code: 'transaction_hash_in_use',
    });
  }
  return err;
}
