import type { Logger } from '../common/logger.js';
import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { announcePaymentUpdate } from './paymentAnnouncements.js';
import type { PaymentCoordinator, TransitionResult } from './paymentCoordinator.js';

export interface SettlementStep {
  source: string;
  actor: string;
  reason?: string;
  set?: Record<string, unknown>;
}

/**
 * Settling an inbound payment, whoever learns of it first (SHKeeper webhook, the buyer's
 * confirm-transaction, a monitor, a chain verification). The coordinator lets exactly one caller
 * make the completing transition; only that caller, still holding the payment's lock, accepts the
 * offer, rejects its siblings, moves the purchase request and announces it. Every later caller
 * gets `changed: false` and does nothing else.
 */
export class PaymentSettlement {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
    private readonly logger: Logger,
  ) {}

  complete(paymentId: string, step: SettlementStep): Promise<TransitionResult> {
    return this.coordinator.withPaymentLock(paymentId, async () => {
      const result = await this.coordinator.transition(paymentId, { to: 'completed', ...step });
      if (result.changed) await this.afterCompletion(result.payment);
      return result;
    });
  }

  /** Settlement seen but not final: pending → processing; a processing payment only takes the new facts. */
  markProcessing(paymentId: string, step: SettlementStep): Promise<TransitionResult> {
    return this.coordinator.withPaymentLock(paymentId, async () => {
      const current = await this.store.payments.findById(paymentId);
      if (current?.status === 'processing') {
        const payment = step.set ? await this.coordinator.patch(paymentId, step.set, { status: 'processing' }) : current;
        return { payment, changed: false };
      }
      if (current && current.status !== 'pending') return { payment: current, changed: false };
      const result = await this.coordinator.transition(paymentId, { to: 'processing', ...step });
      if (result.changed) this.announcePayment(result.payment);
      return result;
    });
  }

  private async afterCompletion(p: PaymentRecord): Promise<void> {
    const log = this.logger.child({ paymentId: p.id, purchaseRequestId: p.purchaseRequestId });
    if (p.sellerOfferId) {
      const accepted = await this.store.sellerOffers.updateOne(
        { id: p.sellerOfferId, status: 'pending' },
        { $set: { status: 'accepted' } },
      );
      if (accepted) this.announceOffer(accepted.id, accepted.purchaseRequestId, accepted.sellerId, 'accepted');
      const siblings = await this.store.sellerOffers.find({
        purchaseRequestId: p.purchaseRequestId,
        id: { $ne: p.sellerOfferId },
        status: 'pending',
      });
      for (const s of siblings) {
        const rejected = await this.store.sellerOffers.updateOne({ id: s.id, status: 'pending' }, { $set: { status: 'rejected' } });
        if (rejected) this.announceOffer(rejected.id, rejected.purchaseRequestId, rejected.sellerId, 'rejected');
      }
    }
    const request = await this.store.purchaseRequests.updateOne(
      { id: p.purchaseRequestId, status: 'open' },
      { $set: { status: 'payment_processing' } },
    );
    if (request) {
      this.events.emit(to.request(request.id), 'purchase-request-update', {
        purchaseRequestId: request.id,
        status: request.status,
        type: 'payment_completed',
        paymentId: p.id,
      });
    } else {
      log.warn('completed payment found its purchase request not open; left it as it is');
    }
    this.announcePayment(p);
    log.info({ source: p.history.at(-1)?.source }, 'payment completed; escrow funded');
  }

  private announceOffer(sellerOfferId: string, purchaseRequestId: string, sellerId: string, status: string): void {
    const payload = { sellerOfferId, purchaseRequestId, status };
    this.events.emit(to.seller(sellerId), 'seller-offer-update', payload);
    this.events.emit(to.request(purchaseRequestId), 'seller-offer-update', payload);
  }

  private announcePayment(p: PaymentRecord): void {
    announcePaymentUpdate(this.events, p);
  }
}
