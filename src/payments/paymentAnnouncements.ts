import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';

/** A payment's new state goes to its request room and to both parties. */
export function announcePaymentUpdate(events: PaymentEvents, p: PaymentRecord): void {
  const payload = { paymentId: p.id, purchaseRequestId: p.purchaseRequestId, status: p.status, escrowState: p.escrowState };
  events.emit(to.request(p.purchaseRequestId), 'payment-updated', payload);
  events.emit(to.user(p.buyerId), 'payment-updated', payload);
  if (p.sellerId) events.emit(to.seller(p.sellerId), 'payment-updated', payload);
}

export function announcePaymentCreated(events: PaymentEvents, p: PaymentRecord): void {
  const payload = { paymentId: p.id, purchaseRequestId: p.purchaseRequestId, status: p.status, provider: p.provider };
  events.emit(to.global, 'payment-created', payload);
  events.emit(to.request(p.purchaseRequestId), 'payment-created', payload);
}
