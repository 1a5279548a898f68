import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';

/** A payment's new state goes to its request room and to both parties, once to each client. */
export function announcePaymentUpdate(events: PaymentEvents, p: PaymentRecord): void {
  const payload = { paymentId: p.id, purchaseRequestId: p.purchaseRequestId, status: p.status, escrowState: p.escrowState };
  events.emit([to.request(p.purchaseRequestId), ...to.parties(p)], 'payment-updated', payload);
}

/** A new payment goes to the admins, its request room and both parties, once to each client. */
export function announcePaymentCreated(events: PaymentEvents, p: PaymentRecord): void {
  const payload = { paymentId: p.id, purchaseRequestId: p.purchaseRequestId, status: p.status, provider: p.provider };
  events.emit([to.admins, to.request(p.purchaseRequestId), ...to.parties(p)], 'payment-created', payload);
}
