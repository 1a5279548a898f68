import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { compareDecimals } from '../common/money.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../payments/paymentSettlement.js';
import type { DeliveryOutcome, PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { NormalisedInvoiceEvent } from './webhookPayload.js';

const SETTLED = ['completed', 'released', 'refunded'];
const CLOSED = ['cancelled', 'failed'];
const EVM_TX = /^0x[0-9a-fA-F]{64}$/;

export interface AppliedEvent {
  outcome: DeliveryOutcome;
  paymentId?: string;
  detail?: string;
}

/**
 * The one path by which what SHKeeper says about an invoice changes a payment — whether it came
 * as a webhook, from the invoice poller or from the wallet monitor. PAID/OVERPAID complete the
 * payment (escrow funded); PARTIAL and unconfirmed mark it processing with the amounts seen.
 * Nothing moves a payment backwards, and money arriving for a cancelled or failed payment is
 * recorded for an admin instead of being applied.
 */
export class InvoiceEvents {
  constructor(
    private readonly store: Store,
    private readonly coordinator: PaymentCoordinator,
    private readonly settlement: PaymentSettlement,
    private readonly logger: Logger,
  ) {}

  async apply(event: NormalisedInvoiceEvent, source: string): Promise<AppliedEvent> {
    const payment = await this.store.payments.findOne({ provider: 'shkeeper', externalId: event.externalId });
    if (!payment) return { outcome: 'unknown_invoice', detail: `no payment has external id ${event.externalId}` };
    const log = this.logger.child({ paymentId: payment.id, externalId: event.externalId, source });

    if (CLOSED.includes(payment.status)) {
      // One entry per (external id, txid, crypto): the push is conditional, so the same callback
      // delivered twice at once is recorded once.
      const recorded = await this.store.payments.updateOne(
        { id: payment.id, 'providerData.latePayments.dedupeKey': { $ne: event.dedupeKey } },
        {
          $push: {
            'providerData.latePayments': {
              at: new Date().toISOString(),
              source,
              status: event.action.status,
              txid: event.trigger.txid,
              crypto: event.trigger.crypto,
              amountCrypto: event.trigger.amountCrypto,
              dedupeKey: event.dedupeKey,
            },
          },
        },
      );
      if (!recorded) return { outcome: 'duplicate', paymentId: payment.id, detail: 'late payment already recorded' };
      log.warn({ status: payment.status, txid: event.trigger.txid }, 'payment arrived for a closed payment; recorded for an admin');
      return { outcome: 'late_payment', paymentId: payment.id, detail: `payment is ${payment.status}` };
    }
    const set = { 'providerData.shkeeper': event.snapshot };

    if (event.action.kind === 'paid') {
      if (SETTLED.includes(payment.status)) return { outcome: 'duplicate', paymentId: payment.id, detail: 'already settled' };
      const result = await this.completeWithHash(payment, event, set, source);
      return { outcome: result ? 'applied' : 'duplicate', paymentId: payment.id };
    }

    if (SETTLED.includes(payment.status)) {
      return { outcome: 'stale', paymentId: payment.id, detail: `an earlier state (${event.action.status}) after ${payment.status}` };
    }
    // Retries carry snapshots built at send time; never replace a larger balance with a smaller one.
    const previous = (payment.providerData.shkeeper as { balanceCrypto?: string } | undefined)?.balanceCrypto;
    const incoming = event.snapshot.balanceCrypto as string | undefined;
    const newer = !previous || !incoming || compareDecimals(incoming, previous) >= 0;
    await this.settlement.markProcessing(payment.id, { source, actor: 'shkeeper', ...(newer ? { set } : {}) });
    return { outcome: 'applied', paymentId: payment.id };
  }

  /** Completes the payment, recording the triggering EVM tx hash when it is free; true when this call completed it. */
  private async completeWithHash(p: PaymentRecord, e: NormalisedInvoiceEvent, set: Record<string, unknown>, source: string) {
    const hash = EVM_TX.test(e.trigger.txid) && !p.transactionHash ? e.trigger.txid.toLowerCase() : undefined;
    try {
      const r = await this.settlement.complete(p.id, {
        source,
        actor: 'shkeeper',
        set: hash ? { ...set, transactionHash: hash } : set,
      });
      return r.changed;
    } catch (err) {
      // The hash is already recorded on another payment: complete without claiming it here.
      if (hash && err instanceof AppError && err.code === 'duplicate_key') {
        return (await this.settlement.complete(p.id, { source, actor: 'shkeeper', set })).changed;
      }
      throw err;
    }
  }
}
