import type { Logger } from '../../platform/logger.js';
import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { announcePaymentUpdate } from './paymentAnnouncements.js';
import type { PaymentCoordinator } from './paymentCoordinator.js';

/**
 * The side effects of a transition, as an outbox. The steps are written into the payment in the
 * same atomic update as the transition, carried out in order, and each removed once done; if the
 * process dies midway, the sweeper (at start-up and periodically) carries out what is left. Store
 * steps are conditional updates, so repeating one changes nothing; the announcement is a step of
 * its own after them, so the events go out once, after the writes they announce.
 */
export const COMPLETION_EFFECTS = ['accept_offer', 'reject_siblings', 'request_paid', 'announce_completion'];
export const RELEASE_EFFECTS = ['request_seller_paid', 'announce_released'];
export const REFUND_EFFECTS = ['request_refunded', 'announce_refunded'];

export class PaymentEffects {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
    private readonly logger: Logger,
  ) {}

  /** Carries out the payment's pending steps, in order; stops (and leaves the rest) on the first failure. */
  async run(p: PaymentRecord): Promise<void> {
    for (const step of [...p.pendingEffects]) {
      await this.step(step, p);
      await this.coordinator.effectDone(p.id, step);
    }
  }

  /**
   * A transition, then its steps in order, announcements last. There is no multi-record
   * transaction in either store: the steps are written into the payment by the transition itself
   * (the outbox), each is a conditional update that repeating changes nothing, and the sweeper
   * finishes whatever a crash interrupts. One mechanism for every store, tested here.
   */
  async transitionThenEffects<R extends { payment: PaymentRecord; changed: boolean }>(transition: () => Promise<R>): Promise<R> {
    const result = await transition();
    if (!result.changed) return result;
    await this.run(result.payment);
    return { ...result, payment: (await this.store.payments.findById(result.payment.id)) ?? result.payment };
  }

  private async step(step: string, p: PaymentRecord): Promise<void> {
    const { store } = this;
    switch (step) {
      case 'accept_offer':
        if (p.sellerOfferId) await store.sellerOffers.updateOne({ id: p.sellerOfferId, status: 'pending' }, { $set: { status: 'accepted' } });
        return;
      case 'reject_siblings':
        if (p.sellerOfferId) {
          await store.sellerOffers.updateMany(
            { purchaseRequestId: p.purchaseRequestId, id: { $ne: p.sellerOfferId }, status: 'pending' },
            { $set: { status: 'rejected' } },
          );
        }
        return;
      case 'request_paid':
        await this.moveRequest(p, ['open'], 'payment_processing');
        return;
      case 'request_seller_paid':
        await this.moveRequest(p, ['open', 'payment_processing'], 'seller_paid');
        return;
      case 'request_refunded':
        await this.moveRequest(p, ['open', 'payment_processing'], 'refunded');
        return;
      case 'announce_completion':
        await this.announceCompletion(p);
        return;
      case 'announce_released':
      case 'announce_refunded':
        this.events.emit(to.request(p.purchaseRequestId), 'purchase-request-update', {
          purchaseRequestId: p.purchaseRequestId,
          status: step === 'announce_released' ? 'seller_paid' : 'refunded',
          type: step === 'announce_released' ? 'payment_released' : 'payment_refunded',
          paymentId: p.id,
        });
        announcePaymentUpdate(this.events, (await store.payments.findById(p.id)) ?? p);
        return;
      default:
        this.logger.error({ paymentId: p.id, step }, 'unknown side-effect step; dropped');
    }
  }

  private async moveRequest(p: PaymentRecord, from: string[], status: string): Promise<void> {
    const moved = await this.store.purchaseRequests.updateOne({ id: p.purchaseRequestId, status: { $in: from } }, { $set: { status } });
    if (!moved) this.logger.warn({ paymentId: p.id, purchaseRequestId: p.purchaseRequestId, status }, 'purchase request was not in a state to move');
  }

  /** The chosen offer, its rejected siblings, the request and the payment, announced once. */
  private async announceCompletion(p: PaymentRecord): Promise<void> {
    const offers = await this.store.sellerOffers.find({ purchaseRequestId: p.purchaseRequestId });
    for (const o of offers) {
      const chosen = o.id === p.sellerOfferId;
      if ((chosen && o.status !== 'accepted') || (!chosen && o.status !== 'rejected')) continue;
      const payload = { sellerOfferId: o.id, purchaseRequestId: o.purchaseRequestId, status: o.status };
      // One emission: a seller who joined the request room still receives it once.
      this.events.emit([to.seller(o.sellerId), to.request(o.purchaseRequestId)], 'seller-offer-update', payload);
    }
    const request = await this.store.purchaseRequests.findById(p.purchaseRequestId);
    if (request) {
      this.events.emit(to.request(request.id), 'purchase-request-update', {
        purchaseRequestId: request.id,
        status: request.status,
        type: 'payment_completed',
        paymentId: p.id,
      });
    }
    announcePaymentUpdate(this.events, (await this.store.payments.findById(p.id)) ?? p);
  }
}
