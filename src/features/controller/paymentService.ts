import type { Principal } from '../../platform/auth/tokens.js';
import { AppError } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import { announcePaymentCreated, announcePaymentUpdate } from '../../core/payments/paymentAnnouncements.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import { assertSelfOrAdmin, isPartyTo, partyFilter, visiblePayment } from '../../core/payments/paymentAccess.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { CreatePaymentInput, UpdatePaymentInput } from './paymentSchemas.js';
import type { PaymentStatus } from '../../core/store/records.js';
import { canTransition, LIVE, OPEN } from '../../core/payments/transitions.js';
import { compareDecimals } from '../../platform/money.js';
import { transferMismatch, type InflowProofs } from '../../core/payments/inflowProofs.js';
import { duplicateKeys } from '../../core/payments/coordinatorBase.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';


/** Manual payment records: create, amend, read and list. State changes go through the coordinator. */
export class PaymentService {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
    private readonly d?: { settlement: PaymentSettlement; proofs: InflowProofs },
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
        { sellerOfferId: offerId, status: { $in: LIVE }, provider: { $ne: 'decentralized' } },
        // A Web3 save is only a claim until the chain has seen its transfer.
        { sellerOfferId: offerId, status: { $in: LIVE.filter((s) => s !== 'pending') }, provider: 'decentralized' },
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
   * Amends a payment. Rules (issue "every credit is proven"):
   * - Outbound rows (payouts) are read-only here: only provider or chain evidence moves them
   *   (403 `outbound_read_only`).
   * - `completed` only by an admin and only with a `transactionHash` that the chain proves pays this
   *   payment (its receiver, token, depth; the admin attests the sender): the same credit and
   *   settlement as every other path, side effects included. Without one: 409 `evidence_required`.
   * - `released` / `refunded` never here (the escrow routes disburse).
   * - A party may cancel its own pending payment, attach `metadata` (merged), change the network
   *   while pending, or claim a `transactionHash` (recorded as a claim, reserving nothing).
   * Every check runs before the write, so a refused request changes nothing.
   */
  async update(who: Principal, id: string, input: UpdatePaymentInput): Promise<PaymentRecord> {
    const current = await visiblePayment(this.store, who, id);
    if (current.direction === 'out') {
      throw new AppError('forbidden', 'a payout moves only on provider or chain evidence; it cannot be edited', { code: 'outbound_read_only' });
    }
    // A party edits only its own payment while it is open; once money moved, only evidence changes it.
    if (!who.isAdmin && !OPEN.includes(current.status)) {
      throw new AppError('invalid_state', `a ${current.status} payment can no longer be edited by a party`, { code: 'payment_not_open' });
    }
    const statusChange = input.status !== undefined && input.status !== current.status ? input.status : undefined;
    if (statusChange) this.assertMayChangeStatus(who, current, statusChange);
    if (statusChange === 'completed') return this.completeWithEvidence(who, current, input.transactionHash);
    if (input.transactionHash !== undefined) await this.assertClaimable(current, input.transactionHash);
    if (input.blockchain) this.assertMayChangeNetwork(who, current);
    const mustBePending = input.blockchain !== undefined || (statusChange === 'cancelled' && !who.isAdmin);
    const where = mustBePending ? { status: 'pending' } : {};

    const claims = input.transactionHash !== undefined && input.transactionHash.toLowerCase() !== (current.transactionHash ?? current.claim?.txHash);
    const claim = claims ? { txHash: input.transactionHash!, from: null, nonce: null, source: 'api', actor: who.userId } : undefined;
    if (statusChange) {
      if ((claim && !OPEN.includes(statusChange)) || input.blockchain) {
        throw new AppError('validation', `a payment moving to ${statusChange} takes no ${input.blockchain ? 'network' : 'transaction hash'}`, { code: 'conflicting_fields' });
      }
      // The move and the fields sent with it are one write: both happen, or neither.
      const r = await this.coordinator.transition(id, { to: statusChange, source: 'api', actor: who.userId, where, set: { metadata: input.metadata, claim } });
      if (r.changed) announcePaymentUpdate(this.events, r.payment);
      else if (input.metadata || claim) return this.coordinator.amend(id, { metadata: input.metadata, claim }, { status: statusChange });
      return r.payment;
    }
    // Everything else in one conditional write: nothing lands on a payment that moved on meanwhile.
    return this.coordinator.amend(id, { metadata: input.metadata, blockchain: input.blockchain, claim }, who.isAdmin ? where : { ...where, status: mustBePending ? 'pending' : { $in: [...OPEN] } });
  }

  /** An admin's completion: the hash must prove a transfer to this payment's receiver, deep enough. */
  private async completeWithEvidence(who: Principal, p: PaymentRecord, txHash: string | undefined): Promise<PaymentRecord> {
    if (!canTransition(p.status, 'completed')) {
      throw new AppError('invalid_state', `payment cannot move from ${p.status} to completed`, {
        code: 'invalid_transition', details: { from: p.status, to: 'completed', escrowState: p.escrowState },
      });
    }
    if (!txHash) {
      throw new AppError('conflict', 'completing a payment needs the transactionHash of the transfer that paid it', { code: 'evidence_required' });
    }
    if (!this.d?.settlement || !this.d.proofs) throw new AppError('unavailable', 'no blockchain RPC is configured (BSC_RPC_URL)', { code: 'not_configured' });
    const v = await this.d.proofs.prove(p, txHash, 'admin');
    if (v.kind === 'refuted') throw transferMismatch(v);
    if (v.kind === 'not_found') throw new AppError('conflict', 'the transaction is not known to the chain (yet)', { code: 'transaction_not_found' });
    if (v.kind === 'unmined') throw new AppError('conflict', 'the transaction is not mined yet', { code: 'transfer_mismatch', details: { reason: 'not_mined' } });
    if (v.kind === 'seen') {
      throw new AppError('conflict', `the transaction has ${v.confirmations} of ${v.required} confirmations`, {
        code: 'not_deep_enough', details: { confirmations: v.confirmations, required: v.required },
      });
    }
    const r = await this.d.settlement.credit(p.id, v.transfer, { source: 'admin_completion', actor: who.userId, reason: 'admin named the transaction' });
    return r.payment;
  }

  private async assertClaimable(p: PaymentRecord, txHash: string): Promise<void> {
    if (p.transactionHash && p.transactionHash !== txHash) {
      throw new AppError('conflict', 'this payment already has a different transaction hash', { code: 'transaction_hash_already_set' });
    }
    if (!OPEN.includes(p.status) && p.transactionHash !== txHash) {
      throw new AppError('invalid_state', `a transaction hash cannot be attached to a ${p.status} payment`, { code: 'payment_not_open' });
    }
    const funds = await this.store.payments.findOne({ transactionHash: txHash.toLowerCase() });
    if (funds && funds.id !== p.id) throw new AppError('conflict', 'this transaction hash already funds another payment', { code: 'transaction_hash_in_use' });
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

  /** The network says where the buyer pays: only the buyer (or an admin) of a pending manual payment may change it. */
  private assertMayChangeNetwork(who: Principal, p: PaymentRecord): void {
    if (!who.isAdmin && who.userId !== p.buyerId) {
      throw new AppError('forbidden', "only the buyer may change where a payment is paid", { code: 'not_buyer' });
    }
    if (p.provider !== 'manual') {
      throw new AppError('invalid_state', `the network of a ${p.provider} payment is fixed by its provider`, { code: 'network_fixed' });
    }
    if (p.status !== 'pending') {
      throw new AppError('invalid_state', 'the network and token can only change while the payment is pending', { code: 'payment_not_pending' });
    }
  }

  private assertMayChangeStatus(who: Principal, p: PaymentRecord, next: PaymentStatus): void {
    if (next === 'released' || next === 'refunded') {
      throw new AppError('conflict', 'escrow leaves only through the release and refund routes', { code: 'disbursement_required' });
    }
    if (next === 'completed' && isPartyTo(p, who)) {
      throw new AppError('forbidden', 'nobody may mark their own payment completed', { code: 'self_completion_forbidden' });
    }
    if (who.isAdmin) return;
    if (next !== 'cancelled') {
      throw new AppError('forbidden', 'only an admin may set this status', { code: 'status_change_forbidden' });
    }
    // The seller must not be able to cancel the buyer's payment while the buyer's money may be on its way.
    if (who.userId !== p.buyerId) {
      throw new AppError('forbidden', 'only the buyer (or an admin) may cancel a payment', { code: 'not_buyer' });
    }
    if (p.status !== 'pending') {
      throw new AppError('invalid_state', 'only a pending payment can be cancelled', { code: 'payment_not_pending' });
    }
  }
}
