import type { Direction, EscrowState, PaymentStatus } from '../store/records.js';

/**
 * Where a payment may go from where it is. Terminal states have no way out: a late payment
 * after cancellation is recorded for an admin, not applied.
 */
export const STATUS_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  pending: ['processing', 'completed', 'failed', 'cancelled'],
  processing: ['completed', 'failed', 'cancelled'],
  completed: ['released', 'refunded'],
  failed: [],
  cancelled: [],
  released: [],
  refunded: [],
};

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
