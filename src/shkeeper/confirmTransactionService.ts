import type { Principal } from '../auth/tokens.js';
import type { ChainGateway } from '../chain/chainTypes.js';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import { visiblePayment } from '../payments/paymentAccess.js';
import type { PaymentSettlement } from '../payments/paymentSettlement.js';
import { translateDuplicateHash } from '../payments/paymentService.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

const SETTLED = ['completed', 'released', 'refunded'];

/**
 * The buyer's fallback when SHKeeper's webhook is late: the buyer names the transaction, and the
 * chain — not the buyer — decides. A successful receipt with an ERC-20 Transfer of the configured
 * token to the invoice's pay address for at least the amount due, with BSC_CONFIRMATIONS
 * confirmations, completes the payment through the same settlement as the webhook, so whichever
 * of the two comes second changes nothing and emits nothing.
 */
export class ConfirmTransactionService {
  constructor(
    private readonly deps: { config: Config; store: Store; settlement: PaymentSettlement; clock: Clock; chain?: ChainGateway },
  ) {}

  async confirm(who: Principal, input: { paymentId: string; transactionHash: string; network?: string }) {
    const { store, config } = this.deps;
    const payment = await visiblePayment(store, who, input.paymentId);
    if (input.network && input.network !== 'bsc') {
      throw new AppError('validation', 'only transactions on bsc can be confirmed', { code: 'unsupported_network' });
    }
    if (payment.provider !== 'shkeeper' || !payment.payAddress) {
      throw new AppError('invalid_state', 'this payment has no SHKeeper invoice address to check against', { code: 'no_pay_address' });
    }
    // A payment on another network is not paid by a BSC transfer, even to the same EVM address.
    if (payment.blockchain?.network !== 'bsc') {
      throw new AppError('validation', 'only transactions on bsc can be confirmed', { code: 'unsupported_network' });
    }
    if (SETTLED.includes(payment.status)) return answer(payment, 'payment is already confirmed');
    if (payment.status === 'cancelled' || payment.status === 'failed') {
      throw new AppError('invalid_state', `the payment is ${payment.status}`, { code: 'payment_closed' });
    }
    if (payment.transactionHash && payment.transactionHash !== input.transactionHash) {
      throw new AppError('conflict', 'a different transaction is already recorded for this payment', {
        code: 'transaction_hash_already_set',
      });
    }
    const other = await store.payments.findOne({ transactionHash: input.transactionHash, id: { $ne: payment.id } });
    if (other) throw new AppError('conflict', 'this transaction hash is already used by another payment', { code: 'transaction_hash_in_use' });
    const chain = this.deps.chain;
    if (!chain) throw new AppError('unavailable', 'no blockchain RPC is configured (BSC_RPC_URL)', { code: 'not_configured' });

    const verdict = await chain.verifyTransfer(input.transactionHash, {
      token: config.bsc.usdtAddress,
      to: payment.payAddress,
      minAmount: toBaseUnits(payment.amount.amount, config.bsc.usdtDecimals),
      confirmations: config.bsc.confirmations,
    });
    const step = { source: 'confirm_transaction', actor: who.userId };
    try {
      if (verdict.status === 'confirmed') {
        const { payment: done, changed } = await this.deps.settlement.complete(payment.id, {
          ...step,
          set: {
            transactionHash: input.transactionHash,
            // SHKeeper has no call to close an invoice; we record that this session is over.
            'providerData.invoiceSessionClosedAt': this.deps.clock.now().toISOString(),
            // Where a refund goes: the wallet the chain says paid.
            'providerData.payerAddress': verdict.from,
            'providerData.confirmedTransfer': {
              from: verdict.from,
              amount: verdict.amount.toString(),
              blockNumber: verdict.blockNumber,
              confirmations: verdict.confirmations,
            },
          },
        });
        return answer(done, changed ? 'payment confirmed on chain' : 'payment is already confirmed');
      }
      if (verdict.status === 'pending') {
        const { payment: seen } = await this.deps.settlement.markProcessing(payment.id, {
          ...step,
          set: { transactionHash: input.transactionHash },
        });
        // Settled meanwhile (the webhook won the race): say so, not "processing".
        if (SETTLED.includes(seen.status)) return answer(seen, 'payment is already confirmed');
        return {
          ...answer(seen, `transaction seen; ${verdict.confirmations} of ${verdict.required} confirmations`),
          httpStatus: 202,
        };
      }
    } catch (err) {
      throw translateDuplicateHash(err);
    }
    if (verdict.status === 'not_found') {
      throw new AppError('conflict', 'the transaction is not known to the chain (yet)', { code: 'transaction_not_found' });
    }
    throw new AppError('conflict', `the transaction does not pay this invoice: ${verdict.message}`, {
      code: 'transfer_mismatch',
      details: { reason: verdict.reason },
    });
  }
}

function answer(p: PaymentRecord, message: string) {
  return {
    httpStatus: 200,
    success: true as const,
    message,
    data: { paymentId: p.id, transactionHash: p.transactionHash, status: p.status },
  };
}
