import type { Logger } from '../common/logger.js';
import type { PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { announcePaymentUpdate } from './paymentAnnouncements.js';
import { COMPLETION_EFFECTS, type PaymentEffects } from './paymentEffects.js';
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
    private readonly effects: PaymentEffects,
    private readonly logger: Logger,
  ) {}

  complete(paymentId: string, step: SettlementStep): Promise<TransitionResult> {
    return this.coordinator.withPaymentLock(paymentId, async () => {
      const result = await this.effects.transitionThenEffects(() =>
        this.coordinator.transition(paymentId, {
          to: 'completed',
          ...step,
          // The side effects ride in the same atomic write (an outbox): a crash cannot lose them.
          set: { ...step.set, pendingEffects: COMPLETION_EFFECTS },
        }),
      );
      if (result.changed) this.logger.info({ paymentId, source: step.source }, 'payment completed; escrow funded');
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

  private announcePayment(p: PaymentRecord): void {
    announcePaymentUpdate(this.events, p);
  }
}
