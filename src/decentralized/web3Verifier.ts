import type { ChainGateway, TransferVerdict } from '../chain/chainTypes.js';
import { sameAddress } from '../chain/erc20.js';
import { AppError } from '../common/errors.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../payments/paymentSettlement.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

export type VerificationOutcome = 'confirmed' | 'pending' | 'mismatch' | 'not_found' | 'no_hash' | 'closed';

export interface Verification {
  outcome: VerificationOutcome;
  payment: PaymentRecord;
  confirmations?: number;
  required?: number;
  reason?: string;
}

const SETTLED = ['completed', 'released', 'refunded'];

/**
 * The only way a Web3 payment's state moves: its claimed transaction is checked on chain — an
 * ERC-20 Transfer of the configured token to the escrow receiver for at least the amount, with
 * BSC_CONFIRMATIONS confirmations — and the chain's answer is applied through the same settlement
 * as every other provider (exactly-once side effects). Nothing the caller says is applied.
 */
export class Web3Verifier {
  constructor(
    private readonly d: { config: Config; store: Store; coordinator: PaymentCoordinator; settlement: PaymentSettlement; chain?: ChainGateway },
  ) {}

  async verify(paymentId: string, source: string): Promise<Verification> {
    const p = await this.d.store.payments.findById(paymentId);
    if (!p || p.provider !== 'decentralized') throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    if (SETTLED.includes(p.status)) return { outcome: 'confirmed', payment: p };
    if (p.status === 'failed' || p.status === 'cancelled') return { outcome: 'closed', payment: p };
    if (!p.transactionHash) return { outcome: 'no_hash', payment: p };
    const verdict = await this.check(p);
    return this.apply(p, verdict, source);
  }

  /**
   * Many open payments at once (the cron's batch): the chain is read in batches, then each
   * verdict is applied like a single verification. Returns one result or error per payment.
   */
  async verifyMany(payments: PaymentRecord[], source: string): Promise<(Verification | { error: unknown })[]> {
    const chain = this.requireChain();
    let verdicts: TransferVerdict[];
    try {
      verdicts = await chain.verifyTransfers(payments.map((p) => ({ txHash: p.transactionHash!, expect: this.expectation(p) })));
    } catch {
      // One bad answer fails the whole batched read; it must cost only its own payment, so the
      // chunk is read again one payment at a time (sequentially: the caller bounds concurrency).
      return this.verifyOneByOne(payments, source);
    }
    return Promise.all(
      payments.map((p, i) => this.apply(p, verdicts[i]!, source).catch((error: unknown) => ({ error }))),
    );
  }

  private async verifyOneByOne(payments: PaymentRecord[], source: string): Promise<(Verification | { error: unknown })[]> {
    const results: (Verification | { error: unknown })[] = [];
    let down: unknown;
    for (const p of payments) {
      if (down !== undefined) {
        // The RPC is unreachable, not just wrong about one hash: the rest wait for the next run.
        results.push({ error: down });
        continue;
      }
      try {
        results.push(await this.verify(p.id, source));
      } catch (error) {
        results.push({ error });
        if ((error as AppError).code === 'rpc_unavailable') down = error;
      }
    }
    return results;
  }

  /** The chain's view of the payment's claimed transfer; RPC trouble throws, never reads as "not found". */
  check(p: PaymentRecord): Promise<TransferVerdict> {
    return this.requireChain().verifyTransfer(p.transactionHash!, this.expectation(p));
  }

  private expectation(p: PaymentRecord) {
    const { config } = this.d;
    return {
      token: config.bsc.usdtAddress,
      to: config.escrow.receiverAddress!,
      minAmount: toBaseUnits(p.amount.amount, config.bsc.usdtDecimals),
      confirmations: config.bsc.confirmations,
    };
  }

  private requireChain() {
    const { chain, config } = this.d;
    if (!chain || !config.escrow.receiverAddress) {
      throw new AppError('unavailable', 'chain verification is not configured (BSC_RPC_URL, ESCROW_RECEIVER_ADDRESS)', { code: 'not_configured' });
    }
    return chain;
  }

  private unminedPays(p: PaymentRecord, v: Extract<TransferVerdict, { status: 'pending' }>): boolean {
    const receiver = this.d.config.escrow.receiverAddress;
    const min = toBaseUnits(p.amount.amount, this.d.config.bsc.usdtDecimals);
    return v.to !== undefined && receiver !== undefined && sameAddress(v.to, receiver) && v.amount !== undefined && v.amount >= min;
  }

  private async apply(p: PaymentRecord, v: TransferVerdict, source: string): Promise<Verification> {
    const step = { source, actor: 'chain' };
    switch (v.status) {
      case 'confirmed': {
        const { payment } = await this.d.settlement.complete(p.id, {
          ...step,
          set: { 'providerData.payerAddress': v.from, 'providerData.confirmations': v.confirmations },
        });
        return { outcome: 'confirmed', payment, confirmations: v.confirmations };
      }
      case 'pending': {
        // Not mined yet: only the transaction's own calldata speaks for it. Unless that says it pays
        // the receiver enough, nothing is seen for this payment yet; once mined, the receipt decides.
        if (v.confirmations === 0 && !this.unminedPays(p, v)) {
          return { outcome: 'not_found', payment: p, reason: 'the transaction is not mined and does not pay the escrow receiver' };
        }
        const { payment } = await this.d.settlement.markProcessing(p.id, {
          ...step,
          set: { 'providerData.confirmations': v.confirmations },
        });
        return { outcome: 'pending', payment, confirmations: v.confirmations, required: v.required };
      }
      case 'mismatch': {
        const { payment } = await this.d.coordinator.transition(p.id, { to: 'failed', ...step, reason: v.reason });
        return { outcome: 'mismatch', payment, reason: v.reason };
      }
      case 'not_found':
        // The hash may not have reached this RPC node yet: leave the payment as it is.
        return { outcome: 'not_found', payment: p };
    }
  }
}
