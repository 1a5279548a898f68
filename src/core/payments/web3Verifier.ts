import { sameAddress } from '../chain/erc20.js';
import { fail, isAppError } from '../../platform/errors.js';
import { ledgerOf } from './escrowLedger.js';
import type { InflowProofs, ProofVerdict } from './inflowProofs.js';
import type { PaymentCoordinator } from './paymentCoordinator.js';
import type { PaymentSettlement } from './paymentSettlement.js';
import { CLOSED, SETTLED } from './transitions.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

export type VerificationOutcome = 'confirmed' | 'pending' | 'mismatch' | 'not_found' | 'no_hash' | 'closed';

export interface Verification {
  outcome: VerificationOutcome;
  payment: PaymentRecord;
  confirmations?: number;
  required?: number;
  /** Why it is not confirmed: a refutation (`wrong_sender`, `mined_before_proof`…), `not_mined`, `underpaid`, `already_credited`… */
  reason?: string;
}

/**
 * The only way a Web3 payment's state moves: a transaction hash (given now, or the payment's
 * claim) is proven on chain by `InflowProofs` — the configured token, to the escrow receiver,
 * from a wallet the payer proved, mined after that proof, deep enough — and the transfer is
 * credited through the same settlement as every other provider. What the chain refutes is
 * dropped (it never held the hash); an unmined transaction moves nothing; a payment whose
 * transaction left the chain (reorg) or the mempool (replaced) goes back to pending, and a
 * replacement with the same sender and nonce is found and credited.
 */
export class Web3Verifier {
  constructor(private readonly d: { store: Store; coordinator: PaymentCoordinator; settlement: PaymentSettlement; proofs: InflowProofs }) {}

  /**
   * Verifies `txHash` (default: the payment's claim) for the payment; see the class comment. On a
   * settled or closed payment a new hash is still proven: a real transfer from the payer is
   * recorded as excess (a second or late payment), never forgotten.
   */
  async verify(paymentId: string, source: string, txHash?: string): Promise<Verification> {
    const p = await this.d.store.payments.findById(paymentId);
    if (!p || p.provider !== 'decentralized') throw fail('payment_not_found');
    if (SETTLED.includes(p.status) || CLOSED.includes(p.status)) return this.afterwards(p, source, txHash);
    const hash = (txHash ?? p.claim?.txHash)?.toLowerCase();
    if (!hash) return { outcome: 'no_hash', payment: p };
    return this.apply(p, hash, await this.d.proofs.prove(p, hash), source, true);
  }

  /**
   * Many open payments at once (the cron's batch): their claims' receipts are read in JSON-RPC
   * batches, then each verdict is applied like a single verification. When the batched read fails,
   * the payments are verified one at a time, so one bad answer costs only its own payment; an RPC
   * that is down then stops the rest. Returns one result or error per payment.
   * Only a payment's claim is looked at: a transfer nobody named is never attributed to a payment
   * by guesswork (the wallet may be paying another purchase whose proof this service has not seen).
   */
  async verifyMany(payments: PaymentRecord[], source: string): Promise<(Verification | { error: unknown })[]> {
    const open = payments.filter((p) => p.provider === 'decentralized' && !SETTLED.includes(p.status) && !CLOSED.includes(p.status) && p.claim?.txHash);
    let verdicts: ProofVerdict[];
    try {
      verdicts = await this.d.proofs.proveMany(open.map((p) => ({ payment: p, txHash: p.claim!.txHash })));
    } catch {
      // One bad answer fails the batched read; it must cost only its own payment.
      return this.verifyOneByOne(payments, source);
    }
    const byId = new Map(open.map((p, i) => [p.id, verdicts[i]!]));
    return Promise.all(
      payments.map(async (p) => {
        const v = byId.get(p.id);
        try {
          return v ? await this.apply(p, p.claim!.txHash, v, source, true) : await this.verify(p.id, source);
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  private async verifyOneByOne(payments: PaymentRecord[], source: string): Promise<(Verification | { error: unknown })[]> {
    const results: (Verification | { error: unknown })[] = [];
    let down: unknown;
    for (const p of payments) {
      if (down !== undefined) {
        results.push({ error: down });
        continue;
      }
      try {
        results.push(await this.verify(p.id, source));
      } catch (error) {
        results.push({ error });
        if (isAppError(error, 'rpc_unavailable')) down = error;
      }
    }
    return results;
  }

  /** A settled or closed payment: only a new transfer is looked at, and it can only be excess. */
  private async afterwards(p: PaymentRecord, source: string, txHash?: string): Promise<Verification> {
    const outcome = SETTLED.includes(p.status) ? 'confirmed' : 'closed';
    const hash = txHash?.toLowerCase();
    if (!hash || hash === p.transactionHash || ledgerOf(p).credits.some((c) => c.txHash === hash)) return { outcome, payment: p };
    const v = await this.d.proofs.prove(p, hash);
    if (v.kind === 'refuted') return { outcome: 'mismatch', payment: p, reason: v.reason };
    if (v.kind !== 'credit') return { outcome, payment: p, reason: v.kind === 'seen' ? 'excess_not_deep_enough' : v.kind };
    try {
      const r = await this.d.settlement.credit(p.id, v.transfer, { source, actor: 'chain' });
      return { outcome, payment: r.payment, reason: 'excess_recorded' };
    } catch (err) {
      if (!isAppError(err, 'transfer_already_credited')) throw err;
      return { outcome: 'mismatch', payment: p, reason: 'already_credited' };
    }
  }

  private async apply(p: PaymentRecord, hash: string, v: ProofVerdict, source: string, mayFollow: boolean): Promise<Verification> {
    const { coordinator, settlement } = this.d;
    const step = { source, actor: 'chain' };
    switch (v.kind) {
      case 'credit': {
        let result;
        try {
          result = await settlement.credit(p.id, v.transfer, { ...step, providerData: { confirmations: v.confirmations } });
        } catch (err) {
          if (!isAppError(err, 'transfer_already_credited')) throw err;
          const payment = await coordinator.clearClaim(p.id, hash, { source, reason: 'already_credited' });
          return { outcome: 'mismatch', payment, reason: 'already_credited' };
        }
        const { payment } = result;
        if (SETTLED.includes(payment.status)) return { outcome: 'confirmed', payment, confirmations: v.confirmations };
        return { outcome: 'pending', payment, confirmations: v.confirmations, reason: result.outcome === 'excess' ? 'excess' : 'underpaid' };
      }
      case 'seen': {
        await coordinator.recordClaim(p.id, { txHash: hash, from: v.from, nonce: null, source, actor: 'chain' }).catch(ignoreConflict);
        const { payment } = await settlement.markProcessing(p.id, { ...step, providerData: { confirmations: v.confirmations } });
        return { outcome: 'pending', payment, confirmations: v.confirmations, required: v.required };
      }
      case 'unmined': {
        // Evidence of nothing yet. A payment that was processing on it (a reorg sent it back to
        // the mempool) returns to pending; its sender and nonce are kept to find a replacement.
        // Kept only when a proven wallet sent it: nobody else's pending transaction displaces the payer's claim.
        let payment = p;
        if (v.from && v.nonce !== null && isProvenPayer(p, v.from)) {
          payment = (await coordinator.recordClaim(p.id, { txHash: hash, from: v.from, nonce: v.nonce, source, actor: 'chain' }).catch(ignoreConflict)) ?? p;
          payment = await coordinator.observeClaim(p.id, hash, { from: v.from, nonce: v.nonce });
        }
        if (payment.status === 'processing' && payment.claim?.txHash === hash) {
          payment = (await coordinator.transition(p.id, { to: 'pending', source, actor: 'chain', reason: 'the transaction is no longer mined' })).payment;
        }
        return { outcome: 'pending', payment, confirmations: 0, reason: 'not_mined' };
      }
      case 'not_found': {
        const claim = p.claim?.txHash === hash ? p.claim : null;
        if (claim && mayFollow) {
          const replacement = await this.d.proofs.findReplacement(p, claim);
          if (replacement) {
            await coordinator.clearClaim(p.id, hash, { source, reason: `replaced by ${replacement}` });
            const fresh = (await this.d.store.payments.findById(p.id))!;
            return this.apply(fresh, replacement, await this.d.proofs.prove(fresh, replacement), source, false);
          }
        }
        // A transaction seen in a block and gone now was reorged out: the payment goes back.
        if (claim && p.status === 'processing') {
          const payment = await settlement.revert(p.id, hash, { source, reason: 'the transaction is no longer on the chain' });
          return { outcome: 'not_found', payment, reason: 'reorged_out' };
        }
        // Not (yet) known to this node: the claim stays for a later look; it reserves nothing.
        return { outcome: 'not_found', payment: p };
      }
      case 'refuted': {
        const payment = p.claim?.txHash === hash ? await settlement.revert(p.id, hash, { source, reason: v.reason }) : p;
        return { outcome: 'mismatch', payment, reason: v.reason };
      }
    }
  }
}

/** A claim that cannot be recorded now (another transaction is already seen, or the payment moved on) changes nothing. */
function ignoreConflict(err: unknown): undefined {
  if (isAppError(err, 'transaction_hash_already_set', 'payment_not_open')) return undefined;
  throw err;
}

function isProvenPayer(p: PaymentRecord, wallet: string): boolean {
  return ledgerOf(p).payers.some((w) => sameAddress(w.wallet, wallet));
}
