import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import type { HistoryEntry, PaymentRecord, PaymentStatus } from '../store/records.js';
import type { Filter, Store } from '../store/store.js';
import type { KeyedLock } from './keyedLock.js';
import { canTransition, escrowAfter, RELEASES_OFFER } from './transitions.js';

export interface TransitionRequest {
  to: PaymentStatus;
  /** What caused it: `api`, `shkeeper_webhook`, `chain_verification`, … */
  source: string;
  /** Who: a user id, or `system`. */
  actor: string;
  reason?: string;
  /** Fields written in the same atomic update as the status (tx hash, amounts received…). */
  set?: Record<string, unknown>;
  /** An extra condition the record must still meet at the moment of the write. */
  where?: Filter;
}

export interface TransitionResult {
  payment: PaymentRecord;
  /** False when the payment was already in the target state: nothing was written. */
  changed: boolean;
}

const MAX_ATTEMPTS = 8;

/**
 * The only writer of payment state. Each transition is a conditional update on the exact status
 * and escrow state just read, so two writers racing on one payment cannot both succeed: the
 * loser re-reads and finds either the target state (idempotent success, `changed: false`) or a
 * state from which the move is impossible (`invalid_state`).
 */
export class PaymentCoordinator {
  constructor(
    private readonly store: Store,
    private readonly lock: KeyedLock,
    private readonly clock: Clock,
    private readonly observer?: { transition(from: string | null, to: string): void },
  ) {}

  async create(record: Omit<PaymentRecord, 'history' | 'createdAt' | 'updatedAt' | 'pendingEffects'>, source: string, actor: string) {
    const now = this.clock.now();
    const entry: HistoryEntry = {
      fromStatus: null,
      toStatus: record.status,
      fromEscrow: null,
      toEscrow: record.escrowState,
      source,
      actor,
      at: now,
      reason: null,
    };
    return this.store.payments.insertOne({ ...record, pendingEffects: [], history: [entry], createdAt: now, updatedAt: now });
  }

  async transition(paymentId: string, req: TransitionRequest): Promise<TransitionResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.store.payments.findById(paymentId);
      if (!current) throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
      if (current.status === req.to) return { payment: current, changed: false };
      const nextEscrow = escrowAfter(current.direction, current.escrowState, req.to);
      if (!canTransition(current.status, req.to) || nextEscrow === undefined) {
        throw new AppError('invalid_state', `payment cannot move from ${current.status} to ${req.to}`, {
          code: 'invalid_transition',
          details: { from: current.status, to: req.to, escrowState: current.escrowState },
        });
      }
      const entry: HistoryEntry = {
        fromStatus: current.status,
        toStatus: req.to,
        fromEscrow: current.escrowState,
        toEscrow: nextEscrow,
        source: req.source,
        actor: req.actor,
        at: this.clock.now(),
        reason: req.reason ?? null,
      };
      const updated = await this.store.payments.updateOne(
        // The caller's condition is combined, never merged: its own `status` key must not
        // replace the exact state just read.
        { id: paymentId, status: current.status, escrowState: current.escrowState, ...andWhere(req.where) },
        {
          $set: {
            ...req.set,
            status: req.to,
            escrowState: nextEscrow,
            ...(RELEASES_OFFER.includes(req.to) ? { liveOfferKey: null } : {}),
          },
          $push: { history: entry },
        },
      );
      if (updated) {
        this.observer?.transition(current.status, req.to);
        return { payment: updated, changed: true };
      }
      await this.assertStateMoved(paymentId, current);
    }
    throw new AppError('unavailable', 'the payment is changing too often; try again', { code: 'contention' });
  }

  /**
   * Writes fields that are not state (metadata, a claimed tx hash…) on the condition `where`;
   * returns the updated record, or throws `precondition_failed` when the condition no longer holds.
   */
  async patch(paymentId: string, set: Record<string, unknown>, where: Filter = {}): Promise<PaymentRecord> {
    const updated = await this.store.payments.updateOne({ id: paymentId, ...andWhere(where) }, { $set: set });
    if (updated) return updated;
    if (!(await this.store.payments.findById(paymentId))) {
      throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    }
    throw new AppError('conflict', 'the payment changed; reload and try again', { code: 'precondition_failed' });
  }

  /** Marks one outbox step done. */
  async effectDone(paymentId: string, step: string): Promise<void> {
    await this.store.payments.updateOne({ id: paymentId }, { $pull: { pendingEffects: step } });
  }

  /** Appends to an append-only list of provider facts (late payments, …); never touches state. */
  async append(paymentId: string, field: `providerData.${string}`, value: unknown): Promise<PaymentRecord> {
    const updated = await this.store.payments.updateOne({ id: paymentId }, { $push: { [field]: value } });
    if (!updated) throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    return updated;
  }

  /** Serialises a multi-record step (payment + offers + request) of one payment. */
  withPaymentLock<T>(paymentId: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.withLock(`payment:${paymentId}`, fn);
  }

  /** After a failed conditional write: if the state did not move, the caller's `where` failed. */
  private async assertStateMoved(paymentId: string, before: PaymentRecord): Promise<void> {
    const now = await this.store.payments.findById(paymentId);
    if (now && now.status === before.status && now.escrowState === before.escrowState) {
      throw new AppError('conflict', 'the payment no longer meets the condition for this change', {
        code: 'precondition_failed',
      });
    }
  }
}

/** `id` stays a top-level key (the stores look records up by it); the rest goes under `$and`. */
function andWhere(where: Filter | undefined): Filter {
  return where && Object.keys(where).length > 0 ? { $and: [where] } : {};
}
