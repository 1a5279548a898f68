import type { Principal } from '../../platform/auth/tokens.js';
import type { ChainGateway } from '../../core/chain/chainTypes.js';
import type { Clock } from '../../platform/clock.js';
import { fail } from '../../platform/errors.js';
import type { Config } from '../../platform/config.js';
import { fundedAmount, ledgerOf } from '../../core/payments/escrowLedger.js';
import { transferMismatch, type InflowProofs, type ProofVerdict } from '../../core/payments/inflowProofs.js';
import { visiblePayment } from '../../core/payments/paymentAccess.js';
import type { CreditInput } from '../../core/payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import { CLOSED, SETTLED } from '../../core/payments/transitions.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';

type Step = { source: string; actor: string };

/**
 * The buyer's fallback when SHKeeper's webhook is late: the buyer names the transaction, and the
 * chain — not the buyer — decides (`InflowProofs`, bound to the invoice's own pay address: any
 * sender's transfer of the configured token to it, BSC_CONFIRMATIONS deep). A proven transfer is
 * credited through the ledger for what it moved, the same call the webhook makes, so whichever of
 * the two comes second changes nothing and emits nothing. A claim the chain does not prove
 * (refuted, unmined, unknown) reserves nothing and changes nothing. On a settled payment only its
 * recorded funding hash is "already confirmed"; another real transfer to the invoice address is
 * credited as excess, anything else is a mismatch.
 */
export class ConfirmTransactionService {
  constructor(
    private readonly deps: { config: Config; store: Store; settlement: PaymentSettlement; proofs: InflowProofs; clock: Clock; chain?: ChainGateway },
  ) {}

  async confirm(who: Principal, input: { paymentId: string; transactionHash: string; network?: string }) {
    const payment = await visiblePayment(this.deps.store, who, input.paymentId);
    if (input.network && input.network.toLowerCase() !== 'bsc') {
      throw fail('unsupported_network');
    }
    if (payment.provider !== 'shkeeper' || !payment.payAddress) {
      throw fail('no_pay_address');
    }
    // A payment on another network is not paid by a BSC transfer, even to the same EVM address.
    if (payment.blockchain?.network !== 'bsc') {
      throw fail('unsupported_network');
    }
    const hash = input.transactionHash.toLowerCase();
    const step = { source: 'confirm_transaction', actor: who.userId };

    if (SETTLED.includes(payment.status)) {
      if (isRecorded(payment, hash)) return answer(payment, 'payment is already confirmed');
      return this.afterSettlement(payment, hash, step);
    }
    const verdict = await this.prove(payment, hash);
    if (CLOSED.includes(payment.status)) {
      // Money that arrived for a cancelled or failed payment is recorded for an admin, never applied.
      if (verdict.kind === 'credit') return this.credit(payment, verdict.transfer, step);
      throw fail('payment_closed', { message: `the payment is ${payment.status}` });
    }
    switch (verdict.kind) {
      case 'credit':
        return this.credit(payment, verdict.transfer, step);
      case 'seen': {
        const { payment: seen } = await this.deps.settlement.markProcessing(payment.id, step);
        // Settled meanwhile (the webhook won the race): say so, not "processing".
        if (SETTLED.includes(seen.status)) return answer(seen, 'payment is already confirmed');
        return {
          ...answer(seen, `transaction seen; ${verdict.confirmations} of ${verdict.required} confirmations`, hash),
          httpStatus: 202,
        };
      }
      case 'unmined':
        throw fail('transfer_mismatch', {
          message: 'the transaction is not mined yet; confirm again once it is',
          details: { reason: 'not_mined' },
        });
      case 'not_found':
        throw fail('transaction_not_found');
      case 'refuted':
        throw transferMismatch(verdict);
    }
  }

  /**
   * A settled payment and a hash that is not its own: a real new transfer to the invoice address
   * is money that arrived and is recorded as excess; anything else does not pay this payment.
   */
  private async afterSettlement(payment: PaymentRecord, hash: string, step: Step) {
    const notThis = (chain?: string) =>
      fail('transfer_mismatch', {
        message: 'another transaction is recorded as this payment\'s funding; this one does not pay it',
        details: { reason: 'not_this_payment', ...(chain ? { chain } : {}) },
      });
    if (!this.deps.chain) throw notThis();
    const verdict = await this.prove(payment, hash);
    if (verdict.kind === 'credit') return this.credit(payment, verdict.transfer, step);
    if (verdict.kind === 'seen') {
      return {
        ...answer(payment, `payment is already confirmed; this transfer to its invoice address is seen (${verdict.confirmations} of ${verdict.required} confirmations) and is recorded as excess once deep enough`),
        httpStatus: 202,
      };
    }
    throw notThis(verdict.kind === 'refuted' ? verdict.reason : verdict.kind);
  }

  private async credit(payment: PaymentRecord, transfer: CreditInput, step: Step) {
    const r = await this.deps.settlement.credit(payment.id, transfer, step);
    const p = r.payment;
    switch (r.outcome) {
      case 'funded':
        return answer(p, 'payment confirmed on chain');
      case 'partial': {
        const due = ledgerOf(p).shortfall ?? '0';
        return { ...answer(p, `transfer credited: ${fundedAmount(ledgerOf(p))} of ${p.amount.amount} ${p.amount.currency} received; ${due} still due`, transfer.txHash), httpStatus: 202 };
      }
      case 'excess':
        return answer(p, `${wasWhat(p)}; this transfer of ${transfer.amount} ${p.amount.currency} was recorded as excess for an admin`);
      case 'already_credited':
        if (SETTLED.includes(p.status) || CLOSED.includes(p.status)) return answer(p, SETTLED.includes(p.status) ? 'payment is already confirmed' : `${wasWhat(p)}; this transfer is already recorded`);
        return { ...answer(p, `transfer already credited: ${fundedAmount(ledgerOf(p))} of ${p.amount.amount} ${p.amount.currency} received`, transfer.txHash), httpStatus: 202 };
    }
  }

  private prove(payment: PaymentRecord, hash: string): Promise<ProofVerdict> {
    if (!this.deps.chain) throw fail('not_configured', { message: 'no blockchain RPC is configured (BSC_RPC_URL)' });
    return this.deps.proofs.prove(payment, hash, 'invoice_address');
  }
}

/** The payment's own funding: its recorded hash, or any transfer already credited to it. */
function isRecorded(p: PaymentRecord, hash: string): boolean {
  return p.transactionHash?.toLowerCase() === hash || ledgerOf(p).credits.some((c) => c.txHash.toLowerCase() === hash);
}

const wasWhat = (p: PaymentRecord) => (SETTLED.includes(p.status) ? 'payment is already confirmed' : `the payment is ${p.status}`);

function answer(p: PaymentRecord, message: string, seenHash?: string) {
  return {
    httpStatus: 200,
    success: true as const,
    message,
    data: { paymentId: p.id, transactionHash: p.transactionHash ?? seenHash ?? null, status: p.status },
  };
}
