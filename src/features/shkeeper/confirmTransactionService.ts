import { networkIdOf } from '../../platform/networkRegistry.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { Principal } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import { fail } from '../../platform/errors.js';
import type { Config } from '../../platform/config.js';
import { fundedAmount, ledgerOf } from '../../core/payments/escrowLedger.js';
import { transferMismatch, type InflowProofs, type ProofVerdict } from '../../core/payments/inflowProofs.js';
import { visiblePayment } from '../../core/payments/paymentAccess.js';
import type { CreditInput } from '../../core/payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import { CLOSED, SETTLED } from '../../core/payments/transitions.js';
import type { PaymentRecord, PaymentStatus } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';

type Step = { source: string; actor: string };

/**
 * What a buyer's confirm did. `confirmed`: the transfer funded the payment now;
 * `already_confirmed`: the payment was settled already (by this transfer or before);
 * `recorded`: the transfer is kept for an admin (excess, or already recorded on a closed payment)
 * and the payment is unchanged; `partially_funded`: credited, more is still due;
 * `awaiting_confirmations`: seen on chain, not deep enough yet. `data` is what the route answers.
 */
export interface ConfirmOutcome {
  kind: 'confirmed' | 'already_confirmed' | 'recorded' | 'partially_funded' | 'awaiting_confirmations';
  message: string;
  data: { paymentId: string; transactionHash: string | null; status: PaymentStatus };
}

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
    private readonly deps: { config: Config; store: Store; settlement: PaymentSettlement; proofs: InflowProofs; clock: Clock; networks: ChainNetworks },
  ) {}

  async confirm(who: Principal, input: { paymentId: string; transactionHash: string; network?: string }): Promise<ConfirmOutcome> {
    const payment = await visiblePayment(this.deps.store, who, input.paymentId);
    if (payment.provider !== 'shkeeper' || !payment.payAddress) {
      throw fail('no_pay_address');
    }
    // Read on the payment's own network only: a transfer on another network does not pay it, even
    // to the same EVM address. A named network must be that one.
    const rail = this.deps.networks.of(payment);
    const named = input.network === undefined ? undefined : networkIdOf(input.network);
    if (!rail || payment.blockchain === null || (named !== undefined && named !== rail.network.id)) {
      throw fail('unsupported_network', {
        message: rail ? `this payment is paid on ${rail.network.id}` : `this payment's network (${payment.blockchain?.network ?? 'none'}) is not read here`,
      });
    }
    const hash = input.transactionHash.toLowerCase();
    const step = { source: 'confirm_transaction', actor: who.userId };

    if (SETTLED.includes(payment.status)) {
      if (isRecorded(payment, hash)) return outcome('already_confirmed', payment, 'payment is already confirmed');
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
        if (SETTLED.includes(seen.status)) return outcome('already_confirmed', seen, 'payment is already confirmed');
        return outcome('awaiting_confirmations', seen, `transaction seen; ${verdict.confirmations} of ${verdict.required} confirmations`, hash);
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
  private async afterSettlement(payment: PaymentRecord, hash: string, step: Step): Promise<ConfirmOutcome> {
    const notThis = (chain?: string) =>
      fail('transfer_mismatch', {
        message: "another transaction is recorded as this payment's funding; this one does not pay it",
        details: { reason: 'not_this_payment', ...(chain ? { chain } : {}) },
      });
    if (!this.deps.networks.gatewayOf(this.deps.networks.of(payment)!.network.id)) throw notThis();
    const verdict = await this.prove(payment, hash);
    if (verdict.kind === 'credit') return this.credit(payment, verdict.transfer, step);
    if (verdict.kind === 'seen') {
      const seen = `this transfer to its invoice address is seen (${verdict.confirmations} of ${verdict.required} confirmations)`;
      return outcome('awaiting_confirmations', payment, `payment is already confirmed; ${seen} and is recorded as excess once deep enough`);
    }
    throw notThis(verdict.kind === 'refuted' ? verdict.reason : verdict.kind);
  }

  private async credit(payment: PaymentRecord, transfer: CreditInput, step: Step): Promise<ConfirmOutcome> {
    const r = await this.deps.settlement.credit(payment.id, transfer, step);
    const p = r.payment;
    const received = `${fundedAmount(ledgerOf(p))} of ${p.amount.amount} ${p.amount.currency} received`;
    switch (r.outcome) {
      case 'funded':
        return outcome('confirmed', p, 'payment confirmed on chain');
      case 'partial':
        return outcome('partially_funded', p, `transfer credited: ${received}; ${ledgerOf(p).shortfall ?? '0'} still due`, transfer.txHash);
      case 'excess':
        return outcome('recorded', p, `${wasWhat(p)}; this transfer of ${transfer.amount} ${p.amount.currency} was recorded as excess for an admin`);
      case 'already_credited':
        if (SETTLED.includes(p.status)) return outcome('already_confirmed', p, 'payment is already confirmed');
        if (CLOSED.includes(p.status)) return outcome('recorded', p, `${wasWhat(p)}; this transfer is already recorded`);
        return outcome('partially_funded', p, `transfer already credited: ${received}`, transfer.txHash);
    }
  }

  /** 503 not_configured (naming the network) when the payment's network has no RPC: InflowProofs asks ChainNetworks.gateway. */
  private prove(payment: PaymentRecord, hash: string): Promise<ProofVerdict> {
    return this.deps.proofs.prove(payment, hash, 'invoice_address');
  }
}

/** The payment's own funding: its recorded hash, or any transfer already credited to it. */
function isRecorded(p: PaymentRecord, hash: string): boolean {
  return p.transactionHash?.toLowerCase() === hash || ledgerOf(p).credits.some((c) => c.txHash.toLowerCase() === hash);
}

const wasWhat = (p: PaymentRecord) => (SETTLED.includes(p.status) ? 'payment is already confirmed' : `the payment is ${p.status}`);

function outcome(kind: ConfirmOutcome['kind'], p: PaymentRecord, message: string, seenHash?: string): ConfirmOutcome {
  return { kind, message, data: { paymentId: p.id, transactionHash: p.transactionHash ?? seenHash ?? null, status: p.status } };
}
