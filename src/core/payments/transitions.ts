import type { Direction, DisbursementState, EscrowState, PaymentStatus } from '../store/records.js';

/**
 * Every state of a payment and of a disbursement of its escrow, and every way between them, in
 * one place (../shared/design/escrow-ledger.md). The coordinator is the only code that applies
 * these tables; everything else asks it for a named operation.
 */

/**
 * Where a payment may go from where it is. Terminal states have no way out: money arriving after
 * cancellation is recorded as excess on the escrow for an admin, not applied. `processing →
 * pending` is a reorg: the transfer that was seen is no longer on the chain.
 */
export const STATUS_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  pending: ['processing', 'completed', 'failed', 'cancelled'],
  processing: ['pending', 'completed', 'failed', 'cancelled'],
  completed: ['released', 'refunded'],
  failed: [],
  cancelled: [],
  released: [],
  refunded: [],
};

/** Settlement may still arrive: claims can be attached, credits fund the escrow. */
export const OPEN: readonly PaymentStatus[] = ['pending', 'processing'];
/** The escrow was funded at some point: the payment is paid. */
export const SETTLED: readonly PaymentStatus[] = ['completed', 'released', 'refunded'];
/** Over without money: nothing more will be applied (late money is recorded as excess). */
export const CLOSED: readonly PaymentStatus[] = ['failed', 'cancelled'];
/** A payment in one of these holds its offer. */
export const LIVE: readonly PaymentStatus[] = ['pending', 'processing', 'completed', 'released', 'refunded'];

/**
 * The payments that hold offer `offerId`: the one with its live-offer key, any live payment of it
 * by another provider, and a Web3 payment once the chain has seen its transfer (a pending Web3
 * save is only a claim anyone can make: it must not freeze an offer). While one exists the offer's
 * price, currency, seller, request and wallet (a release's recipient) stay as they are, and no
 * other payment of it starts. A store filter (`_id`-free), for `findOne`.
 */
export function offerHolders(offerId: string): Record<string, unknown> {
  return {
    $or: [
      { liveOfferKey: offerId },
      { sellerOfferId: offerId, status: { $in: LIVE }, provider: { $ne: 'decentralized' } },
      { sellerOfferId: offerId, status: { $in: LIVE.filter((s) => s !== 'pending') }, provider: 'decentralized' },
    ],
  };
}

/**
 * Targets that move money records: reached only through evidence (a credit for `completed` of an
 * inbound payment; a settled disbursement for `released` / `refunded`), never by a plain
 * transition that anyone can ask for.
 */
export const EVIDENCE_ONLY: readonly PaymentStatus[] = ['completed', 'released', 'refunded'];

/** Escrow moves with status, for inbound payments only: unfunded → funded → released | refunded. */
const ESCROW_EFFECTS: Partial<Record<PaymentStatus, { from: EscrowState; to: EscrowState }>> = {
  completed: { from: 'unfunded', to: 'funded' },
  released: { from: 'funded', to: 'released' },
  refunded: { from: 'funded', to: 'refunded' },
};

/** Moving here lets go of the offer: another payment for it may be created. */
export const RELEASES_OFFER: readonly PaymentStatus[] = ['failed', 'cancelled'];

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return STATUS_TRANSITIONS[from].includes(to);
}

/** The escrow state after moving to `to`, or undefined when the escrow state forbids the move. */
export function escrowAfter(direction: Direction, current: EscrowState, to: PaymentStatus): EscrowState | undefined {
  const effect = ESCROW_EFFECTS[to];
  if (direction === 'out' || !effect) return current;
  return current === effect.from ? effect.to : undefined;
}

/**
 * A disbursement's life. `prepared`: an unsigned escrow transaction was handed to an admin (or a
 * payout row written) and may be broadcast at any time. `submitted`: handed to SHKeeper or
 * broadcast from the hot wallet. `in_doubt`: the provider's answer was lost; only evidence moves
 * it. `withdrawn`: an admin took back a prepared escrow transaction (never a submitted one).
 */
export const DISBURSEMENT_TRANSITIONS: Readonly<Record<DisbursementState, readonly DisbursementState[]>> = {
  prepared: ['submitted', 'in_doubt', 'settled', 'failed', 'withdrawn'],
  submitted: ['in_doubt', 'settled', 'failed'],
  in_doubt: ['submitted', 'settled', 'failed'],
  settled: [],
  failed: [],
  withdrawn: [],
};

/** A disbursement in one of these holds the escrow: no other may start. */
export const IN_FLIGHT: readonly DisbursementState[] = ['prepared', 'submitted', 'in_doubt'];

export function canMoveDisbursement(from: DisbursementState, to: DisbursementState): boolean {
  return DISBURSEMENT_TRANSITIONS[from].includes(to);
}
