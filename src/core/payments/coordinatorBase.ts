import type { Clock } from '../../platform/clock.js';
import { AppError, fail } from '../../platform/errors.js';
import type { Claim, HistoryEntry, PaymentRecord, PaymentStatus } from '../store/records.js';
import type { Filter, Store, Update } from '../store/store.js';
import { type CreditOutcome } from './escrowLedger.js';
import type { KeyedLock } from '../../platform/keyedLock.js';
import { canTransition, escrowAfter, RELEASES_OFFER } from './transitions.js';
import { eventsOfChange, withEvents } from '../events/paymentEventLog.js';

/** Fields a plain transition may write with the status: facts about the provider, never money. */
export interface TransitionFields {
  providerTaskId?: string;
  /** Merged into the payment's metadata (`metadata.<key>`), in the same write as the move. */
  metadata?: Record<string, unknown>;
  /** A claimed hash recorded with the move (an admin marking a payment processing on a hash). */
  claim?: Omit<Claim, 'at'>;
  transactionHash?: string;
  /** `providerData.<key>` → value. */
  providerData?: Record<string, unknown>;
}

export interface TransitionRequest {
  to: PaymentStatus;
  /** What caused it: `api`, `shkeeper_webhook`, `chain_verification`, … */
  source: string;
  /** Who: a user id, or `system`. */
  actor: string;
  reason?: string;
  set?: TransitionFields;
  /** An extra condition the record must still meet at the moment of the write. */
  where?: Filter;
}

export interface TransitionResult {
  payment: PaymentRecord;
  /** False when the payment was already in the target state: nothing was written. */
  changed: boolean;
}

/** A transfer that arrived, as the chain or SHKeeper showed it. */
export interface CreditInput {
  txHash: string;
  from: string | null;
  /** The receiver the transfer paid (escrow receiver, or the invoice's pay address). */
  to: string;
  network: string;
  token: string;
  /** Decimal string in the payment's currency. */
  amount: string;
  baseUnits: string | null;
  blockNumber: number | null;
  /** Overrides the key built from network, hash and receiver (SHKeeper's non-EVM txids). */
  key?: string;
}

export interface CreditResult {
  payment: PaymentRecord;
  outcome: CreditOutcome | 'already_credited';
  changed: boolean;
}

export const MAX_ATTEMPTS = 8;

/**
 * What every write of the coordinator shares: the record as just read (status, escrow state and
 * `revision`) is the condition of the write, a write that loses a race is decided again on the
 * record as it is now, and history lines say who moved what. The named operations live in
 * `InflowWrites` (money arriving) and `PaymentCoordinator` (state, amendments, disbursements).
 */
export abstract class CoordinatorBase {
  /** Called after a write that queued events for the event log (the relay's kick). */
  onEvents?: () => void;

  constructor(
    protected readonly store: Store,
    protected readonly lock: KeyedLock,
    protected readonly clock: Clock,
    protected readonly observer?: { transition(from: string | null, to: string, payment?: { currency: string; direction: 'in' | 'out' }): void },
    protected readonly policy: { underpaymentTolerance: string } = { underpaymentTolerance: '0' },
  ) {}

  protected async move(paymentId: string, req: TransitionRequest, check: (p: PaymentRecord) => { set: Record<string, unknown> }) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.mustFind(paymentId);
      if (current.status === req.to) return { payment: current, changed: false };
      const nextEscrow = escrowAfter(current.direction, current.escrowState, req.to);
      if (!canTransition(current.status, req.to) || nextEscrow === undefined) {
        throw fail('invalid_transition', {
          message: `payment cannot move from ${current.status} to ${req.to}`,
          details: { from: current.status, to: req.to, escrowState: current.escrowState },
        });
      }
      const { set } = check(current);
      const updated = await this.commit(
        current,
        // The caller's condition is combined, never merged: its own `status` key must not
        // replace the exact state just read.
        { ...this.guard(current), ...andWhere(req.where) },
        {
          $set: { ...set, status: req.to, escrowState: nextEscrow, ...(RELEASES_OFFER.includes(req.to) ? { liveOfferKey: null } : {}) },
          $push: { history: this.entry(current, req.to, req.source, req.actor, req.reason) },
          $inc: { revision: 1 },
        },
      );
      if (updated) {
        this.observer?.transition(current.status, req.to, { currency: current.amount.currency, direction: current.direction });
        return { payment: updated, changed: true };
      }
      await this.assertStateMoved(paymentId, current);
    }
    throw contention();
  }

  /** One conditional write on the record as read; `decide` returns null for "nothing to do". */
  protected async write(paymentId: string, decide: (p: PaymentRecord) => Update | null): Promise<PaymentRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await this.mustFind(paymentId);
      const update = decide(p);
      if (!update) return p;
      const updated = await this.commit(p, this.guard(p), { ...update, $inc: { revision: 1 } });
      if (updated) return updated;
    }
    throw contention();
  }

  /**
   * Every state-changing write of a payment goes through here: the events the change announces
   * (src/core/events/paymentEventLog.ts) are pushed onto its outbox in the same atomic update.
   * Returns the record as written, or null when `filter` no longer matched (nothing written).
   */
  protected async commit(before: PaymentRecord, filter: Filter, update: Update): Promise<PaymentRecord | null> {
    const events = eventsOfChange(before, update, this.clock.now());
    const written = await this.store.payments.updateOne(filter, withEvents(update, events));
    if (written && events.length > 0) this.onEvents?.();
    return written;
  }

  /** The exact record just read: status, escrow state and revision. */
  protected guard(p: PaymentRecord): Filter {
    return { id: p.id, status: p.status, escrowState: p.escrowState, revision: p.revision ?? null };
  }

  protected entry(p: PaymentRecord, to: PaymentStatus, source: string, actor: string, reason?: string): HistoryEntry {
    return {
      fromStatus: p.status,
      toStatus: to,
      fromEscrow: p.escrowState,
      toEscrow: escrowAfter(p.direction, p.escrowState, to) ?? p.escrowState,
      source,
      actor,
      at: this.clock.now(),
      reason: reason ?? null,
    };
  }

  /** A history line that changes no status (a disbursement step, an admin override). */
  protected note(p: PaymentRecord, source: string, actor: string, reason: string): HistoryEntry {
    return { ...this.entry(p, p.status, source, actor, reason), toEscrow: p.escrowState };
  }

  protected async mustFind(paymentId: string): Promise<PaymentRecord> {
    const p = await this.store.payments.findById(paymentId);
    if (!p) throw fail('payment_not_found');
    return p;
  }

  /** After a failed conditional write: if the state did not move, the caller's `where` failed. */
  protected async assertStateMoved(paymentId: string, before: PaymentRecord): Promise<void> {
    const now = await this.store.payments.findById(paymentId);
    if (now && now.status === before.status && now.escrowState === before.escrowState && (now.revision ?? null) === (before.revision ?? null)) {
      throw fail('precondition_failed', { message: 'the payment no longer meets the condition for this change' });
    }
  }
}

/** `id` stays a top-level key (the stores look records up by it); the rest goes under `$and`. */
export function andWhere(where: Filter | undefined): Filter {
  return where && Object.keys(where).length > 0 ? { $and: [where] } : {};
}

export function flatten(set: TransitionFields | { providerData?: Record<string, unknown> } | undefined): Record<string, unknown> {
  if (!set) return {};
  const { providerData, metadata, ...rest } = set as TransitionFields;
  const out: Record<string, unknown> = { ...rest };
  for (const [k, v] of Object.entries(providerData ?? {})) out[`providerData.${k}`] = v;
  for (const [k, v] of Object.entries(metadata ?? {})) out[`metadata.${k}`] = v;
  return out;
}

export function contention(): AppError {
  return fail('contention');
}
