import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentRecord } from '../store/records.js';
import type { ShkeeperTaskStatus } from '../shkeeper/shkeeperClient.js';

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
 * or its callback — moves the outbound Payment: running → processing, success with a tx → completed,
 * failure → failed. Each move is a coordinator transition, so whichever source reports first wins
 * and the others change nothing and emit nothing.
 */
export class PayoutUpdates {
  constructor(
    private readonly coordinator: PaymentCoordinator,
    private readonly events: PaymentEvents,
    private readonly logger: Logger,
  ) {}

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
    let result;
    try {
      result = await this.coordinator.transition(payout.id, {
        to: 'completed',
        source,
        actor: 'shkeeper',
        set: { ...(hash ? { transactionHash: hash } : {}), 'providerData.payoutTxid': txid },
      });
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'invalid_transition')) throw err;
      return this.lateSuccess(payout, txid, source);
    }
    const { payment, changed } = result;
    if (changed) {
      this.events.emit(to.global, 'payout-completed', { payoutId: payment.id, status: payment.status, transactionHash: txid });
      this.logger.info({ paymentId: payment.id, txid, source }, 'payout completed');
    }
    return payment;
  }

  /**
   * SHKeeper paid a payout already given up on (failed, e.g. after a lost answer, or cancelled).
   * A terminal state stays terminal, but the money left: the first such report is kept on the
   * payout for an admin instead of being refused (which would break a status poll and make
   * SHKeeper retry its callback).
   */
  private async lateSuccess(payout: PaymentRecord, txid: string, source: string): Promise<PaymentRecord> {
    this.logger.warn({ paymentId: payout.id, txid, source }, 'SHKeeper reports a payout paid that was already closed');
    try {
      return await this.coordinator.patch(
        payout.id,
        { 'providerData.lateSuccess': { txid, source } },
        { 'providerData.lateSuccess': { $exists: false } },
      );
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'precondition_failed')) throw err;
      return payout; // already recorded
    }
  }

  private async processing(payout: PaymentRecord, source: string): Promise<PaymentRecord> {
    if (payout.status !== 'pending') return payout;
    const { payment, changed } = await this.coordinator.transition(payout.id, { to: 'processing', source, actor: 'shkeeper' });
    if (changed) this.events.emit(to.global, 'payout-updated', { payoutId: payment.id, status: payment.status });
    return payment;
  }

  private async fail(payout: PaymentRecord, message: string, source: string): Promise<PaymentRecord> {
    if (!['pending', 'processing'].includes(payout.status)) return payout;
    const { payment, changed } = await this.coordinator.transition(payout.id, {
      to: 'failed',
      source,
      actor: 'shkeeper',
      reason: message.slice(0, 300),
      set: { 'providerData.failure': message.slice(0, 300) },
    });
    if (changed) this.events.emit(to.global, 'payout-updated', { payoutId: payment.id, status: payment.status });
    return payment;
  }
}
