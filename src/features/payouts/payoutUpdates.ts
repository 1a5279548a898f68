import { isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { to, type PaymentEvents } from '../../core/events/paymentEvents.js';
import { ledgerOf } from '../../core/payments/escrowLedger.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import { RELEASE_EFFECTS, type PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Disbursement, PaymentRecord } from '../../core/store/records.js';
import type { ShkeeperTaskStatus } from '../../adapters/shkeeper/shkeeperClient.js';
import type { Store } from '../../core/store/store.js';

const EVM_TX = /^0x[0-9a-fA-F]{64}$/;
const RUNNING = new Set(['PENDING', 'STARTED', 'RETRY', 'IN_PROGRESS']);
const FAILED = new Set(['FAILURE', 'ERROR', 'FAILED', 'FAIL']);

interface TaskItem {
  status?: string;
  txids?: string[];
  message?: string;
}

/**
 * The one path by which what SHKeeper says about a payout — task status, status by external id,
 * or its callback — moves money records: running → the payout processing (and an in-doubt
 * disbursement back to submitted: SHKeeper has it); success with a tx → the escrow's disbursement
 * settled (the escrow released) and the payout completed; failure → the disbursement failed (the
 * escrow free again) and the payout failed. The escrow moves first, so a crash in between is
 * finished by the next report. Each move is a conditional write of the coordinator: whichever
 * source reports first wins, the others change nothing and emit nothing.
 */
export class PayoutUpdates {
  constructor(private readonly d: { store: Store; coordinator: PaymentCoordinator; effects: PaymentEffects; events: PaymentEvents; logger: Logger }) {}

  async applyTask(payout: PaymentRecord, task: ShkeeperTaskStatus, source: string): Promise<PaymentRecord> {
    const status = task.status.toUpperCase();
    if (RUNNING.has(status)) return this.processing(payout, source);
    if (FAILED.has(status)) return this.fail(payout, typeof task.result === 'string' ? task.result : 'payout task failed', source);
    if (status === 'SUCCESS') {
      const items = (Array.isArray(task.result) ? task.result : [task.result]) as TaskItem[];
      const failure = items.find((i) => i?.status === 'error');
      if (failure) return this.fail(payout, failure.message ?? 'payout item failed', source);
      const txid = items.flatMap((i) => i?.txids ?? [])[0];
      return txid ? this.complete(payout, txid, source) : this.processing(payout, source);
    }
    return payout;
  }

  async applyStatus(payout: PaymentRecord, s: { status: string; txid: string | null }, source: string) {
    if (s.status === 'SUCCESS' && s.txid) return this.complete(payout, s.txid, source);
    if (FAILED.has(s.status)) return this.fail(payout, 'SHKeeper reports the payout failed', source);
    return this.processing(payout, source);
  }

  async complete(payout: PaymentRecord, txid: string, source: string): Promise<PaymentRecord> {
    const hash = EVM_TX.test(txid) ? txid.toLowerCase() : null;
    if (!(await this.settleEscrow(payout, txid, hash, source))) return this.lateSuccess(payout, txid, source);
    let result;
    try {
      result = await this.d.coordinator.transition(payout.id, {
        to: 'completed',
        source,
        actor: 'shkeeper',
        set: { ...(hash ? { transactionHash: hash } : {}), providerData: { payoutTxid: txid } },
      });
    } catch (err) {
      if (!isAppError(err, 'invalid_transition')) throw err;
      return this.lateSuccess(payout, txid, source);
    }
    const { payment, changed } = result;
    if (changed) {
      this.d.events.emit([to.admins, ...to.parties(payment)], 'payout-completed', { payoutId: payment.id, status: payment.status, transactionHash: txid });
      this.d.logger.info({ paymentId: payment.id, txid, source }, 'payout completed');
    }
    return payment;
  }

  /**
   * SHKeeper paid: the escrow's disbursement for this payout settles (escrow released, with the
   * release's side effects). False when it can no longer settle — it already failed (after a lost
   * answer SHKeeper said it knew nothing), so the money left although the escrow was freed.
   */
  private async settleEscrow(payout: PaymentRecord, txid: string, hash: string | null, source: string): Promise<boolean> {
    const found = await this.disbursementOf(payout);
    if (!found) return true; // a payout written before escrows were bound
    const { escrow, d } = found;
    if (d.state === 'settled') return true;
    if (d.state === 'failed' || d.state === 'withdrawn') return false;
    try {
      await this.d.effects.transitionThenEffects(() =>
        this.d.coordinator.settleDisbursement(escrow.id, d.id, {
          source,
          actor: 'shkeeper',
          evidence: txid,
          effects: RELEASE_EFFECTS,
          ...(hash ? { hashField: 'releaseTxHash' as const } : {}),
        }),
      );
      return true;
    } catch (err) {
      if (isAppError(err, 'disbursement_not_in_flight')) {
        const again = await this.disbursementOf(payout);
        return again?.d.state === 'settled';
      }
      throw err;
    }
  }

  /**
   * SHKeeper paid a payout already given up on (failed after a lost answer, or cancelled). A
   * terminal state stays terminal, but the money left: the first such report is kept on the payout
   * for an admin instead of being refused (which would break a status poll and make SHKeeper retry
   * its callback).
   */
  private async lateSuccess(payout: PaymentRecord, txid: string, source: string): Promise<PaymentRecord> {
    this.d.logger.error(
      { paymentId: payout.id, escrowPaymentId: payout.escrowPaymentId, txid, source },
      'SHKeeper reports a payout paid that was already closed',
    );
    try {
      return await this.d.coordinator.recordProviderFacts(
        payout.id,
        { providerData: { lateSuccess: { txid, source } } },
        { 'providerData.lateSuccess': { $exists: false } },
      );
    } catch (err) {
      if (!isAppError(err, 'precondition_failed')) throw err;
      return (await this.d.store.payments.findById(payout.id)) ?? payout; // already recorded
    }
  }

  private async processing(payout: PaymentRecord, source: string): Promise<PaymentRecord> {
    // SHKeeper answers for it: whatever it becomes, it is no longer in doubt.
    const found = await this.disbursementOf(payout);
    if (found?.d.state === 'in_doubt') {
      await this.d.coordinator.moveDisbursement(found.escrow.id, found.d.id, 'submitted', { source, actor: 'shkeeper', reason: 'SHKeeper knows the payout' });
    }
    if (payout.status !== 'pending') return payout;
    const { payment, changed } = await this.d.coordinator.transition(payout.id, { to: 'processing', source, actor: 'shkeeper' });
    if (changed) this.d.events.emit([to.admins, ...to.parties(payment)], 'payout-updated', { payoutId: payment.id, status: payment.status });
    return payment;
  }

  private async fail(payout: PaymentRecord, message: string, source: string): Promise<PaymentRecord> {
    if (!['pending', 'processing'].includes(payout.status)) return payout;
    const found = await this.disbursementOf(payout);
    if (found?.d.state === 'settled') {
      // A success was already applied; a later failure report does not undo money that left.
      this.d.logger.error({ paymentId: payout.id, source, message }, 'SHKeeper reports a failure for a payout it already reported paid');
      return payout;
    }
    const reason = message.slice(0, 300);
    if (found && (found.d.state === 'prepared' || found.d.state === 'submitted' || found.d.state === 'in_doubt')) {
      await this.d.coordinator.moveDisbursement(found.escrow.id, found.d.id, 'failed', {
        source,
        actor: 'shkeeper',
        reason,
        evidence: payout.providerTaskId ?? payout.externalId ?? undefined,
      });
    }
    const { payment, changed } = await this.d.coordinator.transition(payout.id, {
      to: 'failed',
      source,
      actor: 'shkeeper',
      reason,
      set: { providerData: { failure: reason } },
    });
    if (changed) this.d.events.emit([to.admins, ...to.parties(payment)], 'payout-updated', { payoutId: payment.id, status: payment.status });
    return payment;
  }

  /** The escrow this payout disburses, and its disbursement (in flight or ended). */
  private async disbursementOf(payout: PaymentRecord): Promise<{ escrow: PaymentRecord; d: Disbursement } | null> {
    if (!payout.escrowPaymentId) return null;
    const escrow = await this.d.store.payments.findById(payout.escrowPaymentId);
    if (!escrow) return null;
    const l = ledgerOf(escrow);
    const d = l.inFlight?.payoutId === payout.id ? l.inFlight : [...l.disbursements].reverse().find((x) => x.payoutId === payout.id);
    return d ? { escrow, d } : null;
  }
}
