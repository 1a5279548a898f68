import type { Principal } from '../../platform/auth/tokens.js';
import { fail, isDuplicateKey } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import { announcePaymentCreated, announcePaymentUpdate } from '../../core/payments/paymentAnnouncements.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import { assertSelfOrAdmin, isPartyTo, partyFilter, visiblePayment } from '../../core/payments/paymentAccess.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { CreatePaymentInput, UpdatePaymentInput } from './paymentSchemas.js';
import type { PaymentStatus } from '../../core/store/records.js';
import { canTransition, offerHolders, OPEN } from '../../core/payments/transitions.js';
import { compareDecimals } from '../../platform/money.js';
import { transferMismatch, type InflowProofs } from '../../core/payments/inflowProofs.js';
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
      throw fail('not_buyer', { message: 'you may only create payments where you are the buyer' });
    }
    const request = await this.store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');
    const offer = await this.store.sellerOffers.findById(input.sellerOfferId);
    if (!offer) throw fail('seller_offer_not_found');
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
    if (mismatch) throw fail('records_do_not_match', { message: mismatch });
    if (request.status !== 'open') {
      throw fail('purchase_request_not_open');
    }
    if (offer.status !== 'pending') {
      throw fail('offer_not_pending', { message: `the offer is already ${offer.status}` });
    }
    await this.assertNoLivePayment(offer.id);
    let payment: PaymentRecord;
    try {
      payment = await this.insertManual(who, input, request.id, offer.id);
    } catch (err) {
      // Two creates passed the check at once: the store's unique live-offer key let one win.
      if (isDuplicateKey(err, 'liveOfferKey')) {
        await this.assertNoLivePayment(offer.id);
      }
      throw err;
    }
    announcePaymentCreated(this.events, payment);
    return payment;
  }

  private async assertNoLivePayment(offerId: string): Promise<void> {
    const live = await this.store.payments.findOne(offerHolders(offerId));
    if (live) {
      throw fail('payment_exists', { details: { paymentId: live.id, status: live.status } });
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
      throw fail('outbound_read_only');
    }
    // A party edits only its own payment while it is open; once money moved, only evidence changes it.
    if (!who.isAdmin && !OPEN.includes(current.status)) {
      throw fail('payment_not_open', { message: `a ${current.status} payment can no longer be edited by a party` });
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
        throw fail('conflicting_fields', {
          message: `a payment moving to ${statusChange} takes no ${input.blockchain ? 'network' : 'transaction hash'}`,
        });
      }
      // The move and the fields sent with it are one write: both happen, or neither.
      const r = await this.coordinator.transition(id, { to: statusChange, source: 'api', actor: who.userId, where, set: { metadata: input.metadata, claim } });
      if (r.changed) announcePaymentUpdate(this.events, r.payment);
      else if (input.metadata || claim) return this.coordinator.amend(id, { metadata: input.metadata, claim }, { status: statusChange });
      return r.payment;
    }
    // Everything else in one conditional write: nothing lands on a payment that moved on meanwhile.
    return this.coordinator.amend(
      id,
      { metadata: input.metadata, blockchain: input.blockchain, claim },
      who.isAdmin ? where : { ...where, status: mustBePending ? 'pending' : { $in: [...OPEN] } },
    );
  }

  /** An admin's completion: the hash must prove a transfer to this payment's receiver, deep enough. */
  private async completeWithEvidence(who: Principal, p: PaymentRecord, txHash: string | undefined): Promise<PaymentRecord> {
    if (!canTransition(p.status, 'completed')) {
      throw fail('invalid_transition', {
        message: `payment cannot move from ${p.status} to completed`,
        details: { from: p.status, to: 'completed', escrowState: p.escrowState },
      });
    }
    if (!txHash) {
      throw fail('evidence_required', { message: 'completing a payment needs the transactionHash of the transfer that paid it' });
    }
    if (!this.d?.settlement || !this.d.proofs) throw fail('not_configured', { message: 'no blockchain RPC is configured (BSC_RPC_URL)' });
    const v = await this.d.proofs.prove(p, txHash, 'admin');
    if (v.kind === 'refuted') throw transferMismatch(v);
    if (v.kind === 'not_found') throw fail('transaction_not_found');
    if (v.kind === 'unmined') throw fail('transfer_mismatch', { message: 'the transaction is not mined yet', details: { reason: 'not_mined' } });
    if (v.kind === 'seen') {
      throw fail('not_deep_enough', {
        message: `the transaction has ${v.confirmations} of ${v.required} confirmations`,
        details: { confirmations: v.confirmations, required: v.required },
      });
    }
    const r = await this.d.settlement.credit(p.id, v.transfer, { source: 'admin_completion', actor: who.userId, reason: 'admin named the transaction' });
    return r.payment;
  }

  private async assertClaimable(p: PaymentRecord, txHash: string): Promise<void> {
    if (p.transactionHash && p.transactionHash !== txHash) {
      throw fail('transaction_hash_already_set');
    }
    if (!OPEN.includes(p.status) && p.transactionHash !== txHash) {
      throw fail('payment_not_open', { message: `a transaction hash cannot be attached to a ${p.status} payment` });
    }
    const funds = await this.store.payments.findOne({ transactionHash: txHash.toLowerCase() });
    if (funds && funds.id !== p.id) throw fail('transaction_hash_in_use', { message: 'this transaction hash already funds another payment' });
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
      throw fail('not_buyer', { message: 'only the buyer may change where a payment is paid' });
    }
    if (p.provider !== 'manual') {
      throw fail('network_fixed', { message: `the network of a ${p.provider} payment is fixed by its provider` });
    }
    if (p.status !== 'pending') {
      throw fail('payment_not_pending', { message: 'the network and token can only change while the payment is pending' });
    }
  }

  private assertMayChangeStatus(who: Principal, p: PaymentRecord, next: PaymentStatus): void {
    if (next === 'released' || next === 'refunded') {
      throw fail('disbursement_required');
    }
    if (next === 'completed' && isPartyTo(p, who)) {
      throw fail('self_completion_forbidden');
    }
    if (who.isAdmin) return;
    if (next !== 'cancelled') {
      throw fail('status_change_forbidden');
    }
    // The seller must not be able to cancel the buyer's payment while the buyer's money may be on its way.
    if (who.userId !== p.buyerId) {
      throw fail('not_buyer');
    }
    if (p.status !== 'pending') {
      throw fail('payment_not_pending');
    }
  }
}
