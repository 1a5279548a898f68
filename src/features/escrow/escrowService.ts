import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import { sameAddress } from '../../core/chain/erc20.js';
import type { UnsignedTokenTransfer } from '../../core/chain/chainTypes.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail, isAppError, isDuplicateKey } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import { compareDecimals, toBaseUnits } from '../../platform/money.js';
import type { Config } from '../../platform/config.js';
import { defaultDisbursementAmount, ledgerOf } from '../../core/payments/escrowLedger.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import { REFUND_EFFECTS, RELEASE_EFFECTS, type PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Disbursement, PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import {
  assertFunded,
  explainInFlight,
  HASH_FIELD,
  inFlightError,
  ruleRecipient,
  TARGET_STATUS,
  type EscrowAction,
  type RecipientOverride,
  assertFundingOnChain,
} from '../../core/escrow/escrowRecipients.js';

/** What a release or refund of the escrow will pay, and the disbursement already holding it, if any. */
interface Plan {
  recipient: string;
  amount: string;
  existing: Disbursement | null;
}

/**
 * What a confirm did: settled the release or refund now, found it settled by this very transfer
 * already, or saw the transfer on chain but not yet `required` blocks deep (nothing changed).
 */
export type EscrowConfirmOutcome =
  | { kind: 'settled' | 'already_settled'; message: string; payment: PaymentRecord }
  | { kind: 'awaiting_confirmations'; confirmations: number; required: number; message: string; payment: PaymentRecord };

/**
 * Escrow release and refund: disbursements of the escrow paid by an escrow transaction the admin
 * signs (the server holds no escrow key). `prepare` opens the disbursement with the EIP-1193
 * transaction to sign, and holds the escrow; `confirm` settles it only when the chain shows
 * exactly that transfer — right token, from escrow, to the disbursement's recipient, for its exact
 * amount, deep enough. Confirming with nothing prepared opens and settles in one step. Every
 * other way money leaves the escrow (SHKeeper or hot-wallet payouts) is refused while one is in
 * flight, and forever once the escrow is released or refunded: the coordinator keeps that.
 */
export class EscrowService {
  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      effects: PaymentEffects;
      clock: Clock;
      logger: Logger;
      networks: ChainNetworks;
      proofs?: InflowProofs;
    },
  ) {}

  async prepare(adminId: string, paymentId: string, kind: EscrowAction, override?: RecipientOverride) {
    const p = await this.payment(paymentId);
    assertFunded(p);
    const inFlight = ledgerOf(p).inFlight;
    if (inFlight) return this.samePrepared(p, inFlight, kind, override);
    const { escrow, chain, rail } = this.requireChain(p);
    await assertFundingOnChain(this.d.proofs, p);
    const recipient = override?.address ?? (await ruleRecipient(this.d.store, p, kind));
    const amount = this.amountOf(p, kind);
    const transaction = await chain.buildTokenTransfer({
      token: rail.token.contract,
      from: escrow,
      to: recipient,
      amount: toBaseUnits(amount, rail.token.decimals),
    });
    const d = this.disbursement(adminId, kind, { recipient, amount, override, state: 'prepared', payload: transaction, evidence: null });
    try {
      await this.d.coordinator.openDisbursement(p.id, d, { source: `escrow_${kind}_prepare`, actor: adminId });
    } catch (err) {
      // Another admin prepared (or a payout started) first: theirs stands.
      const now = await this.payment(paymentId);
      const winner = ledgerOf(now).inFlight;
      if (isAppError(err, 'disbursement_in_flight') && winner) return this.samePrepared(now, winner, kind, override);
      throw explainInFlight(err);
    }
    return this.view(p, d);
  }

  /** Withdraws a prepared (never a submitted) release or refund, so something else may leave the escrow. */
  async cancelPrepared(adminId: string, paymentId: string) {
    const p = await this.payment(paymentId);
    assertFunded(p);
    const d = ledgerOf(p).inFlight;
    if (!d) throw nothingPrepared();
    if (d.method !== 'escrow_tx' || d.state !== 'prepared') throw inFlightError(d);
    try {
      await this.d.coordinator.moveDisbursement(p.id, d.id, 'withdrawn', { source: 'escrow_cancel', actor: adminId });
    } catch (err) {
      if (isAppError(err, 'disbursement_not_in_flight')) throw nothingPrepared();
      throw err;
    }
    return { cancelled: d.kind as EscrowAction };
  }

  async confirm(adminId: string, paymentId: string, kind: EscrowAction, txHash: string, override?: RecipientOverride): Promise<EscrowConfirmOutcome> {
    const p = await this.payment(paymentId);
    const target = TARGET_STATUS[kind];
    if (settledBy(p, kind, txHash)) return { kind: 'already_settled', message: `already ${target}`, payment: p };
    assertFunded(p);
    if (await this.hashOwner(txHash)) throw hashInUse();
    const plan = await this.plan(p, kind, txHash, override);
    const { escrow, chain, rail } = this.requireChain(p);
    const verdict = await chain.verifyTransfer(txHash, {
      token: rail.token.contract,
      from: escrow,
      to: plan.recipient,
      minAmount: toBaseUnits(plan.amount, rail.token.decimals),
      exactAmount: true,
      confirmations: rail.network.confirmations,
    });
    if (verdict.status === 'pending') {
      const { confirmations, required } = verdict;
      return {
        kind: 'awaiting_confirmations',
        confirmations,
        required,
        message: `transaction seen; ${confirmations} of ${required} confirmations`,
        payment: p,
      };
    }
    if (verdict.status === 'not_found') {
      throw fail('transaction_not_found');
    }
    if (verdict.status === 'mismatch') {
      throw fail('transfer_mismatch', {
        message: `the transaction is not this ${kind}: ${verdict.message}`,
        details: { reason: verdict.reason },
      });
    }
    const done = await this.settle(adminId, p.id, kind, txHash, override, plan);
    return { kind: 'settled', message: `escrow ${target}`, payment: done };
  }

  /**
   * The verified transfer settles the disbursement, exactly once: under a lock on the hash (the
   * store's unique keys are per field, so nothing else stops one transfer from becoming the
   * release of one payment and the refund of another) and on the payment, re-planned on the
   * record as it is now. With nothing prepared, the disbursement is opened already carrying its
   * evidence and settled at once; the escrow is held by it in between, so nothing else can leave.
   */
  private settle(adminId: string, paymentId: string, kind: EscrowAction, txHash: string, override: RecipientOverride | undefined, verified: Plan) {
    const { coordinator } = this.d;
    return coordinator.withPaymentLock(`tx:${txHash}`, () =>
      coordinator.withPaymentLock(paymentId, async () => {
        for (let attempt = 0; attempt < 3; attempt++) {
          const p = await this.payment(paymentId);
          if (settledBy(p, kind, txHash)) return p;
          const owner = await this.hashOwner(txHash);
          if (owner && !(owner.id === p.id && owner[HASH_FIELD[kind]] === txHash)) throw hashInUse();
          assertFunded(p);
          const plan = await this.plan(p, kind, txHash, override);
          if (!sameAddress(plan.recipient, verified.recipient) || compareDecimals(plan.amount, verified.amount) !== 0) {
            throw fail('precondition_failed', { message: `the ${kind} changed while the transfer was being verified; confirm again` });
          }
          let id = plan.existing?.id;
          if (!id) {
            const d = this.disbursement(adminId, kind, {
              recipient: plan.recipient,
              amount: plan.amount,
              override,
              state: 'submitted',
              payload: null,
              evidence: txHash,
            });
            try {
              await coordinator.openDisbursement(p.id, d, { source: `escrow_${kind}_confirm`, actor: adminId });
            } catch (err) {
              throw explainInFlight(err);
            }
            id = d.id;
          }
          const disbursementId = id;
          try {
            const result = await this.d.effects.transitionThenEffects(() =>
              coordinator.settleDisbursement(p.id, disbursementId, {
                source: `escrow_${kind}_confirm`,
                actor: adminId,
                evidence: txHash,
                effects: kind === 'release' ? RELEASE_EFFECTS : REFUND_EFFECTS,
                hashField: HASH_FIELD[kind],
              }),
            );
            if (result.changed) this.d.logger.info({ paymentId, kind, txHash, disbursementId }, `escrow ${TARGET_STATUS[kind]}`);
            return result.payment;
          } catch (err) {
            if (isDuplicateKey(err)) throw hashInUse();
            // Withdrawn between the read and the write: plan again on what is there now.
            if (!isAppError(err, 'disbursement_not_in_flight')) throw err;
          }
        }
        throw fail('contention');
      }),
    );
  }

  /**
   * What a release or refund pays: the disbursement already prepared for it (or opened by an
   * earlier confirm of this very transfer), else the rule's recipient (or the admin's override)
   * and the default amount. Anything else in flight refuses.
   */
  private async plan(p: PaymentRecord, kind: EscrowAction, txHash: string, override?: RecipientOverride): Promise<Plan> {
    const d = ledgerOf(p).inFlight;
    if (d) {
      const ours = d.method === 'escrow_tx' && d.kind === kind && (d.state === 'prepared' || (d.state === 'submitted' && d.evidence === txHash));
      if (!ours || (override && !sameAddress(override.address, d.recipient))) throw inFlightError(d);
      return { recipient: d.recipient, amount: d.amount, existing: d };
    }
    const recipient = override?.address ?? (await ruleRecipient(this.d.store, p, kind));
    return { recipient, amount: this.amountOf(p, kind), existing: null };
  }

  private amountOf(p: PaymentRecord, kind: EscrowAction): string {
    const amount = defaultDisbursementAmount(p, kind);
    if (compareDecimals(amount, '0') <= 0) {
      throw fail('exceeds_escrow_balance', { details: { available: '0' } });
    }
    return amount;
  }

  private disbursement(
    adminId: string,
    kind: EscrowAction,
    o: {
      recipient: string;
      amount: string;
      override?: RecipientOverride;
      state: 'prepared' | 'submitted';
      payload: UnsignedTokenTransfer | null;
      evidence: string | null;
    },
  ): Omit<Disbursement, 'createdAt' | 'updatedAt'> {
    return {
      id: newObjectId(this.d.clock.now()),
      kind,
      method: 'escrow_tx',
      recipient: o.recipient,
      amount: o.amount,
      state: o.state,
      override: o.override ? { by: adminId, reason: o.override.reason } : null,
      payoutId: null,
      evidence: o.evidence,
      payload: o.payload,
      createdBy: adminId,
    };
  }

  /** The prepared release or refund asked for again: the same answer; anything else in flight refuses. */
  private samePrepared(p: PaymentRecord, d: Disbursement | Omit<Disbursement, 'createdAt' | 'updatedAt'>, kind: EscrowAction, override?: RecipientOverride) {
    const same = d.method === 'escrow_tx' && d.state === 'prepared' && d.kind === kind && (!override || sameAddress(override.address, d.recipient));
    if (!same) throw inFlightError(d);
    return this.view(p, d);
  }

  /** The seed's envelope: the transaction to sign as is, and what it does for a human to check. */
  private view(p: PaymentRecord, d: Pick<Disbursement, 'id' | 'kind' | 'recipient' | 'amount' | 'override' | 'payload'>) {
    const payload = d.payload as UnsignedTokenTransfer;
    const rail = this.railOf(p);
    return {
      payload,
      summary: {
        action: d.kind,
        recipient: d.recipient,
        amount: d.amount,
        amountBaseUnits: toBaseUnits(d.amount, rail.token.decimals).toString(),
        token: p.amount.currency,
        tokenAddress: rail.token.contract,
        network: rail.network.id,
        chainId: rail.network.chainId,
        from: payload.from,
        override: d.override,
      },
      disbursementId: d.id,
    };
  }

  private hashOwner(txHash: string): Promise<PaymentRecord | null> {
    return this.d.store.payments.findOne({ $or: [{ transactionHash: txHash }, { releaseTxHash: txHash }, { refundTxHash: txHash }] });
  }

  private async payment(id: string): Promise<PaymentRecord> {
    const p = await this.d.store.payments.findById(id);
    if (!p || p.direction !== 'in') throw fail('payment_not_found');
    return p;
  }

  /**
   * Where payment `p`'s escrow is and how to move it: its network's escrow receiver, gateway and
   * token contract (`ChainNetworks.of`). A release or refund is only ever built and checked on
   * the network and token the escrow was funded in. 503 `not_configured` when that network has
   * no receiver or no RPC; 409 `unsupported_network` when it is not enabled here.
   */
  private requireChain(p: PaymentRecord) {
    const rail = this.railOf(p);
    const escrow = rail.receiver ?? this.d.config.escrow.receiverAddress;
    if (!escrow) throw fail('not_configured', { message: 'ESCROW_RECEIVER_ADDRESS is not configured' });
    return { escrow, chain: this.d.networks.gateway(rail.network.id), rail };
  }

  private railOf(p: PaymentRecord) {
    const rail = this.d.networks.of(p);
    if (!rail) {
      const where = `${p.blockchain?.token ?? p.amount.currency} on ${p.blockchain?.network ?? 'the default network'}`;
      throw fail('unsupported_network', { message: `this escrow is in ${where}, which is not enabled here` });
    }
    return rail;
  }
}

/** This very transfer already settled this kind of disbursement of the payment. */
function settledBy(p: PaymentRecord, kind: EscrowAction, txHash: string): boolean {
  return p[HASH_FIELD[kind]] === txHash && ledgerOf(p).disbursements.some((d) => d.kind === kind && d.state === 'settled' && d.evidence === txHash);
}

function hashInUse(): AppError {
  return fail('transaction_hash_in_use');
}

function nothingPrepared(): AppError {
  return fail('nothing_prepared');
}
