import { fail, duplicateKeys } from '../../platform/errors.js';
import { addDecimals, compareDecimals, lowerBound } from '../../platform/money.js';
import type { Claim, Credit, Disbursement, PaymentRecord, ProvenPayer } from '../store/records.js';
import type { Update } from '../store/store.js';
import { contention, CoordinatorBase, flatten, MAX_ATTEMPTS, type CreditInput, type CreditResult } from './coordinatorBase.js';
import { creditKey, ledgerOf, planCredit } from './escrowLedger.js';
import { escrowAfter, OPEN, SETTLED } from './transitions.js';

/**
 * The coordinator's operations for money arriving (invariants 1–3 of
 * ../shared/design/escrow-ledger.md): crediting a proven transfer, recording and dropping claims,
 * recording the payer's proven wallet, and evidence found afterwards.
 */
export abstract class InflowWrites extends CoordinatorBase {
  /**
   * Credits a transfer to the payment's escrow (invariants 1 and 3): funds it when it reaches the
   * price (less UNDERPAYMENT_TOLERANCE), marks it processing when it is short, and records it as
   * excess when the payment cannot take it (already funded, closed, or another payment of the
   * request is funded). The transfer's key is unique across payments: a transfer credited
   * elsewhere throws `transfer_already_credited`; the same one again answers `already_credited`.
   * `extra` are effects of completion (the outbox) and provider facts, written in the same update.
   */
  async credit(
    paymentId: string,
    input: CreditInput,
    step: { source: string; actor: string; completionEffects: string[]; providerData?: Record<string, unknown> },
  ): Promise<CreditResult> {
    const key = input.key ?? creditKey(input.network, input.txHash, input.to);
    let forceExcess: string | undefined;
    let skipHash = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await this.mustFind(paymentId);
      if (p.direction !== 'in') throw fail('not_an_escrow');
      if ((p.creditKeys ?? []).includes(key)) return { payment: p, outcome: 'already_credited', changed: false };
      const now = this.clock.now();
      const plan = planCredit(p, { ...input, key, source: step.source, at: now }, { tolerance: this.policy.underpaymentTolerance, forceExcess });
      const completes = plan.outcome === 'funded';
      const set: Record<string, unknown> = { escrow: plan.ledger, ...flatten({ providerData: step.providerData }) };
      if (plan.status !== p.status) {
        Object.assign(set, { status: plan.status, escrowState: escrowAfter('in', p.escrowState, plan.status) });
      }
      if (completes) {
        Object.assign(set, { fundedRequestKey: p.purchaseRequestId, pendingEffects: step.completionEffects, claim: null });
        if (!p.transactionHash && !skipHash) set.transactionHash = input.txHash.toLowerCase();
      } else if (plan.outcome === 'partial' && p.claim?.txHash === input.txHash.toLowerCase()) {
        set.claim = null;
      }
      const update: Update = { $set: set, $push: { creditKeys: key }, $inc: { revision: 1 } };
      if (plan.status !== p.status) {
        (update.$push as Record<string, unknown>).history = this.entry(
          p,
          plan.status,
          step.source,
          step.actor,
          plan.outcome === 'funded' ? `credited ${input.amount}` : undefined,
        );
      }
      try {
        const updated = await this.commit(p, this.guard(p), update);
        if (!updated) continue;
        if (plan.status !== p.status) this.observer?.transition(p.status, plan.status, { currency: p.amount.currency, direction: p.direction });
        return { payment: updated, outcome: plan.outcome, changed: true };
      } catch (err) {
        const keys = duplicateKeys(err);
        if (keys.includes('creditKeys')) {
          throw fail('transfer_already_credited', { details: { key } });
        }
        // Another payment of this purchase request is funded: this money is excess here.
        if (keys.includes('fundedRequestKey')) forceExcess = 'request_already_funded';
        // One transaction paid two invoices: the funding-hash field names the other payment.
        else if (keys.includes('transactionHash')) skipHash = true;
        else throw err;
      }
    }
    throw contention();
  }

  /**
   * Evidence found afterwards for a payment that was settled before the ledger kept credits (a
   * record with no funding credit): the proven transfer becomes its funding credit and its hash,
   * with no change of state. A payment that has a funding credit already is left as it is.
   * Throws `transfer_already_credited` when the transfer is another payment's.
   */
  async recordFundingEvidence(paymentId: string, input: CreditInput, step: { source: string; actor: string }): Promise<PaymentRecord> {
    const key = input.key ?? creditKey(input.network, input.txHash, input.to);
    try {
      return await this.write(paymentId, (p) => {
        const l = ledgerOf(p);
        if (l.credits.some((c) => c.kind === 'funding') || (p.creditKeys ?? []).includes(key)) return null;
        if (!SETTLED.includes(p.status)) {
          throw fail('payment_not_completed');
        }
        // Evidence of a completion is a transfer that could have completed it.
        if (compareDecimals(input.amount, lowerBound(p.amount.amount, this.policy.underpaymentTolerance)) < 0) {
          throw fail('transfer_mismatch', {
            message: `the transfer moved ${input.amount}, less than the payment's ${p.amount.amount}`,
            details: { reason: 'amount_too_low' },
          });
        }
        const credit: Credit = { ...input, key, kind: 'funding', reason: 'found_afterwards', source: step.source, at: this.clock.now() };
        return {
          $set: {
            escrow: { ...l, credits: [...l.credits, credit], received: addDecimals(l.received, input.amount), payer: l.payer ?? input.from },
            ...(p.transactionHash ? {} : { transactionHash: input.txHash.toLowerCase() }),
          },
          $push: { creditKeys: key },
        };
      });
    } catch (err) {
      if (duplicateKeys(err).some((k) => k === 'creditKeys' || k === 'transactionHash')) {
        throw fail('transaction_hash_in_use', { message: 'the transaction found is already recorded on another payment' });
      }
      throw err;
    }
  }

  /**
   * Gives a payment settled before the ledger existed (no credits) the ledger its state implies:
   * one funding credit of its price (`reason: legacy_record`, keyed by the payment id, so it
   * reserves no transfer), its payer from the old `providerData.payerAddress`, and — when already
   * released or refunded — that disbursement, settled on its recorded hash. Its request's funded
   * key is taken when free. Payments with credits, and open ones, are left as they are.
   */
  async adoptLegacyLedger(paymentId: string): Promise<PaymentRecord> {
    let claimRequest = true;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.write(paymentId, (p) => {
          const l = ledgerOf(p);
          if (p.direction !== 'in' || !SETTLED.includes(p.status) || l.credits.length > 0) return null;
          const now = this.clock.now();
          const payer = typeof p.providerData.payerAddress === 'string' ? p.providerData.payerAddress : null;
          const amount = p.amount.amount;
          const credit: Credit = {
            key: `legacy:${p.id}`,
            kind: 'funding',
            reason: 'legacy_record',
            txHash: p.transactionHash ?? 'unknown',
            from: payer,
            to: p.payAddress,
            network: p.blockchain?.network ?? 'bsc',
            token: p.blockchain?.token ?? p.amount.currency,
            amount,
            baseUnits: null,
            blockNumber: null,
            source: 'legacy_migration',
            at: now,
          };
          const kind = p.status === 'refunded' ? 'refund' : 'release';
          const evidence = p.status === 'refunded' ? p.refundTxHash : p.releaseTxHash;
          const disbursements: Disbursement[] =
            p.status === 'completed'
              ? []
              : [
                  {
                    id: `legacy-${p.id}`,
                    kind,
                    method: 'escrow_tx',
                    recipient: 'unknown',
                    amount,
                    state: 'settled',
                    override: null,
                    payoutId: null,
                    evidence,
                    payload: null,
                    createdBy: 'legacy_migration',
                    createdAt: now,
                    updatedAt: now,
                  },
                ];
          return {
            $set: {
              escrow: { ...l, received: amount, credits: [credit], payer, disbursements, disbursed: p.status === 'completed' ? '0' : amount },
              ...(claimRequest && p.status === 'completed' ? { fundedRequestKey: p.purchaseRequestId } : {}),
            },
            $push: { creditKeys: credit.key },
          };
        });
      } catch (err) {
        if (!duplicateKeys(err).includes('fundedRequestKey')) throw err;
        claimRequest = false;
      }
    }
    throw contention();
  }

  /** A claimed transaction hash (unproven, reserving nothing). Replaces an earlier claim while the payment is pending. */
  async recordClaim(paymentId: string, claim: Omit<Claim, 'at'>): Promise<PaymentRecord> {
    return this.write(paymentId, (p) => {
      if (!OPEN.includes(p.status)) throw fail('payment_not_open', { message: `a transaction cannot be claimed for a ${p.status} payment` });
      if (p.claim?.txHash === claim.txHash) return null;
      if (p.claim && p.status !== 'pending') {
        throw fail('transaction_hash_already_set', { message: 'a transaction already seen on chain is recorded for this payment' });
      }
      return { $set: { claim: { ...claim, txHash: claim.txHash.toLowerCase(), at: this.clock.now() } } };
    });
  }

  /** What the chain says of the claimed transaction (sender, nonce), kept to find a replacement. */
  async observeClaim(paymentId: string, txHash: string, facts: { from: string; nonce: number }): Promise<PaymentRecord> {
    return this.write(paymentId, (p) =>
      p.claim?.txHash === txHash && (p.claim.from !== facts.from || p.claim.nonce !== facts.nonce)
        ? { $set: { 'claim.from': facts.from, 'claim.nonce': facts.nonce } }
        : null,
    );
  }

  /**
   * Drops a claim the chain refutes (invariant 2): it held nothing, and now it is not even shown.
   * A payment that was processing on that transaction (a reorg took it out) goes back to pending.
   */
  async clearClaim(paymentId: string, txHash: string, step: { source: string; reason: string }): Promise<PaymentRecord> {
    return this.write(paymentId, (p) => {
      if (p.claim?.txHash !== txHash.toLowerCase()) return null;
      const back = p.status === 'processing' && (p.escrow?.credits.length ?? 0) === 0;
      return {
        $set: { claim: null, ...(back ? { status: 'pending' } : {}) },
        ...(back ? { $push: { history: this.entry(p, 'pending', step.source, 'chain', step.reason) } } : {}),
      };
    });
  }

  /**
   * Records the wallet the payer proved it controls. A Web3 payment has one payer wallet: the first
   * proof stands, the same wallet again changes nothing, and another wallet is refused
   * (`payer_already_proven`) — it gets a payment of its own, so nobody can add themselves to the
   * buyer's payment and become its refund recipient or fill it with wallets.
   */
  async addPayer(paymentId: string, payer: ProvenPayer): Promise<PaymentRecord> {
    return this.write(paymentId, (p) => {
      if (p.direction !== 'in') throw fail('not_an_escrow', { message: 'only an inbound payment has a payer' });
      const l = ledgerOf(p);
      if (l.payers.some((w) => w.wallet.toLowerCase() === payer.wallet.toLowerCase())) return null;
      if (!OPEN.includes(p.status)) throw fail('payment_not_open', { message: `the payment is ${p.status}` });
      if (l.payers.length > 0) {
        throw fail('payer_already_proven');
      }
      return { $set: { escrow: { ...l, payers: [...l.payers, payer] } } };
    });
  }
}
