import type { Logger } from '../../platform/logger.js';
import type { PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { announcePaymentUpdate } from './paymentAnnouncements.js';
import { COMPLETION_EFFECTS, type PaymentEffects } from './paymentEffects.js';
import type { CreditInput, CreditResult, PaymentCoordinator, TransitionResult } from './paymentCoordinator.js';

export interface SettlementStep {
  source: string;
  actor: string;
  reason?: string;
  /** Provider facts kept with the change (`providerData.<key>`). */
  providerData?: Record<string, unknown>;
}

/**
 * Money arriving for an inbound payment, whoever learns of it first (SHKeeper webhook, the
 * buyer's confirm-transaction, a monitor, a chain verification, an admin with a hash). Every path
 * hands the transfer it proved to `credit`; the coordinator decides whether it funds the escrow,
 * leaves it short, or is excess, and lets exactly one caller make the completing write. Only
 * that caller, still holding the payment's lock, accepts the offer, rejects its siblings, moves
 * the purchase request and announces it (the outbox).
 */
export class PaymentSettlement {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
    private readonly effects: PaymentEffects,
    private readonly logger: Logger,
  ) {}

  /** Credits a proven transfer (see `PaymentCoordinator.credit`); completion's side effects run once. */
  credit(paymentId: string, transfer: CreditInput, step: SettlementStep): Promise<CreditResult> {
    return this.coordinator.withPaymentLock(paymentId, async () => {
      const result = await this.effects.transitionThenEffects(() =>
        this.coordinator.credit(paymentId, transfer, { ...step, completionEffects: COMPLETION_EFFECTS }),
      );
      if (result.outcome === 'funded') {
        this.logger.info({ paymentId, source: step.source, amount: transfer.amount }, 'payment completed; escrow funded');
      } else if (result.outcome === 'partial') {
        announcePaymentUpdate(this.events, result.payment);
      } else if (result.outcome === 'excess') {
        this.logger.warn(
          { paymentId, source: step.source, amount: transfer.amount, txHash: transfer.txHash },
          'money arrived that the payment cannot take; recorded as excess',
        );
      }
      return result;
    });
  }

  /** Settlement seen but not final: pending → processing; a processing payment only takes the new facts. */
  markProcessing(paymentId: string, step: SettlementStep): Promise<TransitionResult> {
    return this.coordinator.withPaymentLock(paymentId, async () => {
      const current = await this.store.payments.findById(paymentId);
      if (current?.status === 'processing') {
        const payment = step.providerData
          ? await this.coordinator.recordProviderFacts(paymentId, { providerData: step.providerData }, { status: 'processing' })
          : current;
        return { payment, changed: false };
      }
      if (current && current.status !== 'pending') return { payment: current, changed: false };
      const result = await this.coordinator.transition(paymentId, { to: 'processing', ...step, set: { providerData: step.providerData } });
      if (result.changed) this.announcePayment(result.payment);
      return result;
    });
  }

  /** A transfer that had been seen is gone from the chain (reorg, replacement): back to pending. */
  async revert(paymentId: string, txHash: string, step: { source: string; reason: string }): Promise<PaymentRecord> {
    const before = await this.store.payments.findById(paymentId);
    const after = await this.coordinator.clearClaim(paymentId, txHash, step);
    if (before && before.status !== after.status) this.announcePayment(after);
    return after;
  }

  private announcePayment(p: PaymentRecord): void {
    announcePaymentUpdate(this.events, p);
  }
}
