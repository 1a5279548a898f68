import type { ChainGateway } from '../chain/chainTypes.js';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import type { PaymentEvents } from '../events/paymentEvents.js';
import { REFUND_EFFECTS, RELEASE_EFFECTS, type PaymentEffects } from '../payments/paymentEffects.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { HASH_FIELD, TARGET_STATUS, escrowRecipient, type EscrowAction } from './escrowRecipients.js';

interface PreparedAction {
  kind: EscrowAction;
  recipient: string;
  payload: unknown;
  summary: Record<string, unknown>;
  preparedAt: string;
  preparedBy: string;
}

/**
 * Money leaving escrow. `prepare` returns the ERC-20 transfer the admin's wallet signs and
 * broadcasts itself (the server holds no escrow key); `confirm` changes state only when the chain
 * shows exactly that transfer — right token, from escrow, to the expected recipient, for the
 * exact amount, deep enough. Release and refund of one payment exclude each other twice over: only
 * one can be prepared at a time, and the coordinator lets only one of `released`/`refunded` happen.
 */
export class EscrowService {
  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      events: PaymentEvents;
      effects: PaymentEffects;
      clock: Clock;
      logger: Logger;
      chain?: ChainGateway;
    },
  ) {}

  async prepare(adminId: string, paymentId: string, kind: EscrowAction) {
    const p = await this.fundedPayment(paymentId);
    const prepared = p.providerData.escrowAction as PreparedAction | null | undefined;
    if (prepared) return this.samePreparedOrConflict(prepared, kind);
    const { escrow, chain } = this.requireChain();
    const recipient = await escrowRecipient(this.d.store, p, kind);
    const amount = toBaseUnits(p.amount.amount, this.d.config.bsc.usdtDecimals);
    const payload = await chain.buildTokenTransfer({ token: this.d.config.bsc.usdtAddress, from: escrow, to: recipient, amount });
    const action: PreparedAction = {
      kind,
      recipient,
      payload,
      summary: {
        action: kind,
        recipient,
        amount: p.amount.amount,
        amountBaseUnits: amount.toString(),
        token: p.amount.currency,
        tokenAddress: this.d.config.bsc.usdtAddress,
        network: 'bsc',
        chainId: this.d.config.bsc.chainId,
        from: escrow,
      },
      preparedAt: this.d.clock.now().toISOString(),
      preparedBy: adminId,
    };
    try {
      await this.d.coordinator.patch(p.id, { 'providerData.escrowAction': action }, { status: 'completed', 'providerData.escrowAction': null });
    } catch (err) {
      if ((err as AppError).code !== 'precondition_failed') throw err;
      // Another admin prepared something first: theirs stands.
      const now = await this.fundedPayment(paymentId);
      return this.samePreparedOrConflict(now.providerData.escrowAction as PreparedAction, kind);
    }
    return { payload: action.payload, summary: action.summary };
  }

  /** Withdraws a prepared release or refund so the other can be prepared. */
  async cancelPrepared(paymentId: string) {
    const p = await this.fundedPayment(paymentId);
    if (!p.providerData.escrowAction) throw new AppError('not_found', 'nothing is prepared for this payment', { code: 'nothing_prepared' });
    await this.d.coordinator.patch(p.id, { 'providerData.escrowAction': null }, { status: 'completed' });
    return { cancelled: (p.providerData.escrowAction as PreparedAction).kind };
  }

  async confirm(adminId: string, paymentId: string, kind: EscrowAction, txHash: string) {
    const p = await this.payment(paymentId);
    const target = TARGET_STATUS[kind];
    if (p.status === target && p[HASH_FIELD[kind]] === txHash) return { httpStatus: 200, message: `already ${target}`, payment: p };
    if (p.status !== 'completed' || p.escrowState !== 'funded') {
      throw new AppError('invalid_state', `escrow of this payment is ${p.escrowState} (payment ${p.status})`, { code: 'escrow_not_funded' });
    }
    if (await this.hashOwner(txHash)) throw hashInUse();
    const { escrow, chain } = this.requireChain();
    const recipient = await escrowRecipient(this.d.store, p, kind);
    const verdict = await chain.verifyTransfer(txHash, {
      token: this.d.config.bsc.usdtAddress,
      from: escrow,
      to: recipient,
      minAmount: toBaseUnits(p.amount.amount, this.d.config.bsc.usdtDecimals),
      exactAmount: true,
      confirmations: this.d.config.bsc.confirmations,
    });
    if (verdict.status === 'pending') {
      return { httpStatus: 202, message: `transaction seen; ${verdict.confirmations} of ${verdict.required} confirmations`, payment: p };
    }
    if (verdict.status === 'not_found') {
      throw new AppError('conflict', 'the transaction is not known to the chain (yet)', { code: 'transaction_not_found' });
    }
    if (verdict.status === 'mismatch') {
      throw new AppError('conflict', `the transaction is not this ${kind}: ${verdict.message}`, {
        code: 'transfer_mismatch',
        details: { reason: verdict.reason },
      });
    }
    const done = await this.settle(p, kind, txHash, adminId);
    return { httpStatus: 200, message: `escrow ${target}`, payment: done };
  }

  /**
   * The state change, exactly once, then the purchase request and the announcement. The store's
   * unique keys are per field, so nothing there stops one transfer from becoming the release hash
   * of one payment and the refund hash of another: the hash is checked again, and written, under a
   * lock on the hash itself.
   */
  private settle(p: PaymentRecord, kind: EscrowAction, txHash: string, adminId: string) {
    return this.d.coordinator.withPaymentLock(`tx:${txHash}`, () => this.d.coordinator.withPaymentLock(p.id, async () => {
      const owner = await this.hashOwner(txHash);
      if (owner && !(owner.id === p.id && owner[HASH_FIELD[kind]] === txHash)) throw hashInUse();
      let result;
      try {
        result = await this.d.effects.transitionThenEffects(() =>
          this.d.coordinator.transition(p.id, {
            to: TARGET_STATUS[kind],
            source: `escrow_${kind}_confirm`,
            actor: adminId,
            set: { [HASH_FIELD[kind]]: txHash, 'providerData.escrowAction': null, pendingEffects: kind === 'release' ? RELEASE_EFFECTS : REFUND_EFFECTS },
          }),
        );
      } catch (err) {
        if ((err as AppError).code === 'duplicate_key') throw hashInUse();
        throw err;
      }
      if (!result.changed) {
        // Already settled while this transfer was being verified: by this very transfer (a repeat,
        // answered the same), or by another one, which this confirmation must not pass for.
        if (result.payment[HASH_FIELD[kind]] === txHash) return result.payment;
        throw new AppError('invalid_state', `escrow of this payment was already ${TARGET_STATUS[kind]} by another transaction`, {
          code: 'escrow_not_funded',
        });
      }
      this.d.logger.info({ paymentId: p.id, kind, txHash }, `escrow ${TARGET_STATUS[kind]}`);
      return result.payment;
    }));
  }

  private hashOwner(txHash: string): Promise<PaymentRecord | null> {
    return this.d.store.payments.findOne({ $or: [{ transactionHash: txHash }, { releaseTxHash: txHash }, { refundTxHash: txHash }] });
  }

  private samePreparedOrConflict(prepared: PreparedAction, kind: EscrowAction) {
    if (prepared.kind === kind) return { payload: prepared.payload, summary: prepared.summary };
    throw new AppError('conflict', `a ${prepared.kind} is already prepared for this payment; cancel it first`, {
      code: 'other_action_prepared',
      details: { prepared: prepared.kind },
    });
  }

  private async payment(id: string): Promise<PaymentRecord> {
    const p = await this.d.store.payments.findById(id);
    if (!p || p.direction !== 'in') throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    return p;
  }

  private async fundedPayment(id: string): Promise<PaymentRecord> {
    const p = await this.payment(id);
    if (p.status !== 'completed' || p.escrowState !== 'funded') {
      throw new AppError('invalid_state', `escrow of this payment is ${p.escrowState} (payment ${p.status})`, { code: 'escrow_not_funded' });
    }
    return p;
  }

  private requireChain() {
    const escrow = this.d.config.escrow.receiverAddress;
    if (!escrow) throw new AppError('unavailable', 'ESCROW_RECEIVER_ADDRESS is not configured', { code: 'not_configured' });
    if (!this.d.chain) throw new AppError('unavailable', 'no blockchain RPC is configured (BSC_RPC_URL)', { code: 'not_configured' });
    return { escrow, chain: this.d.chain };
  }
}

function hashInUse(): AppError {
  return new AppError('conflict', 'this transaction hash is already recorded on a payment', { code: 'transaction_hash_in_use' });
}
