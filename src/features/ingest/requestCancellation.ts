import { fail, isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { to, type PaymentEvents } from '../../core/events/paymentEvents.js';
import { announcePaymentUpdate } from '../../core/payments/paymentAnnouncements.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentRecord, PurchaseRequestRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';

/** What the marketplace's cancellation does to one inbound payment of the request. */
export type CancellationRule = 'cancel' | 'request_cancelled_while_processing' | 'request_cancelled_with_funded_escrow' | 'leave';

/**
 * The rule for a payment of a cancelled request: a `pending` one is cancelled; a `processing` one
 * (money may be arriving) and a funded escrow (`completed`, escrow `funded`) are never changed,
 * only flagged for an admin; released, refunded, failed and cancelled ones are left alone.
 */
export function cancellationRuleFor(p: Pick<PaymentRecord, 'direction' | 'status' | 'escrowState'>): CancellationRule {
  if (p.direction !== 'in') return 'leave';
  if (p.status === 'pending') return 'cancel';
  if (p.status === 'processing') return 'request_cancelled_while_processing';
  if (p.status === 'completed' && p.escrowState === 'funded') return 'request_cancelled_with_funded_escrow';
  return 'leave';
}

/** What one pass did, by payment id. */
export interface CancellationSummary {
  cancelled: string[];
  flagged: string[];
}

const SOURCE = 'marketplace';
/** A payment that moves while we decide (pending → processing) is decided again, a few times at most. */
const MAX_ATTEMPTS = 3;

/**
 * Applies a cancelled purchase request's rules to its payments, through the coordinator (the only
 * writer of payment state). Repeating it changes nothing more: a cancelled payment stays cancelled
 * and a flag is raised once per reason. Store errors and a payment that keeps moving (503
 * `contention`) propagate: the caller's PUT fails, and the marketplace's retry runs the pass again.
 */
export class RequestCancellation {
  constructor(private readonly d: { store: Store; coordinator: PaymentCoordinator; events: PaymentEvents; logger: Logger }) {}

  /** Every payment of `request` (already cancelled in the store), by `actor` (the caller's user id). */
  async apply(request: PurchaseRequestRecord, actor: string): Promise<CancellationSummary> {
    const summary: CancellationSummary = { cancelled: [], flagged: [] };
    const payments = await this.d.store.payments.find({ purchaseRequestId: request.id });
    for (const p of payments) {
      const done = await this.applyTo(p.id, actor);
      if (done === 'cancelled') summary.cancelled.push(p.id);
      if (done === 'flagged') summary.flagged.push(p.id);
    }
    if (summary.cancelled.length + summary.flagged.length > 0) {
      this.d.logger.info({ purchaseRequestId: request.id, ...summary }, 'purchase request cancelled: payments cancelled or flagged');
    }
    return summary;
  }

  /** Announces a request that has just become cancelled (after the write). */
  announce(request: PurchaseRequestRecord): void {
    this.d.events.emit(to.request(request.id), 'purchase-request-update', { purchaseRequestId: request.id, status: request.status, type: 'request_cancelled' });
  }

  private async applyTo(paymentId: string, actor: string): Promise<'cancelled' | 'flagged' | 'nothing'> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await this.d.store.payments.findById(paymentId);
      if (!p) return 'nothing';
      const rule = cancellationRuleFor(p);
      if (rule === 'leave') return 'nothing';
      if (rule !== 'cancel') {
        if ((p.attention ?? []).some((f) => f.reason === rule)) return 'nothing';
        await this.d.coordinator.flagForAdmin(p.id, { reason: rule, source: SOURCE, actor });
        return 'flagged';
      }
      try {
        // Only while still pending: a payment that moved to processing meanwhile is flagged instead.
        const r = await this.d.coordinator.transition(p.id, {
          to: 'cancelled',
          source: SOURCE,
          actor,
          reason: 'purchase request cancelled',
          where: { status: 'pending' },
        });
        if (!r.changed) return 'nothing';
        announcePaymentUpdate(this.d.events, r.payment);
        return 'cancelled';
      } catch (err) {
        if (!isAppError(err, 'precondition_failed', 'invalid_transition')) throw err;
      }
    }
    // Still moving after a few attempts: 503, and the marketplace's retry of the cancel decides again.
    throw fail('contention', { message: 'a payment of this purchase request is changing too often; repeat the cancel' });
  }
}
