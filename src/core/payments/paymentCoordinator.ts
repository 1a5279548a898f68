import { fail, isAppError } from '../../platform/errors.js';
import { addDecimals, compareDecimals } from '../../platform/money.js';
import type { Claim, Disbursement, DisbursementState, HistoryEntry, PaymentRecord, PaymentStatus } from '../store/records.js';
import type { Filter } from '../store/store.js';
import { available, emptyLedger, ledgerOf } from './escrowLedger.js';
import { canMoveDisbursement, canTransition, escrowAfter, EVIDENCE_ONLY, IN_FLIGHT } from './transitions.js';
import {
  andWhere,
  flatten,
  MAX_ATTEMPTS,
  contention,
  type CreditInput,
  type CreditResult,
  type TransitionFields,
  type TransitionRequest,
  type TransitionResult,
} from './coordinatorBase.js';
import { InflowWrites } from './inflowWrites.js';
import { creationEvent } from '../events/paymentEventLog.js';

export type { CreditInput, CreditResult, TransitionFields, TransitionRequest, TransitionResult };

/** What makes a pending payment abandoned: nothing can still settle it. */
const ABANDONED = {
  transactionHash: null,
  payAddress: null,
  claim: null,
  'creditKeys.0': { $exists: false },
  'escrow.payers.0': { $exists: false },
} as const;

/** The fields a payment is created without: each is filled in by a later step, if ever. */
export const UNSET_AT_CREATION = {
  transactionHash: null,
  externalId: null,
  paymentUrl: null,
  payAddress: null,
  expiresAt: null,
  providerTaskId: null,
  releaseTxHash: null,
  refundTxHash: null,
  liveOfferKey: null,
  claim: null,
  escrowPaymentId: null,
} as const satisfies Partial<PaymentRecord>;

/** A payment as its creator knows it: who, what, how much, by which provider; the rest starts null. */
export type NewPayment = Omit<
  PaymentRecord,
  'history' | 'createdAt' | 'updatedAt' | 'pendingEffects' | 'escrow' | 'creditKeys' | 'fundedRequestKey' | keyof typeof UNSET_AT_CREATION
> &
  Partial<Pick<PaymentRecord, keyof typeof UNSET_AT_CREATION>>;

/**
 * The only writer of payment state. Each operation is named for what it means (credit an escrow,
 * record a claim, open or settle a disbursement…) and is one conditional update on the record as
 * just read: its status, escrow state and `revision` (bumped by every write here). Two writers
 * racing on one payment cannot both succeed; the loser re-reads and decides again. Money targets
 * (`completed` for an inbound payment, `released`, `refunded`) are reached only through evidence:
 * `credit` and `settleDisbursement`.
 */
export class PaymentCoordinator extends InflowWrites {
  /**
   * Inserts a new payment; inbound ones start with an empty escrow ledger. What nothing has set yet
   * (`NewPayment`'s optional fields: no hash, claim, provider task, disbursement, offer hold) is null.
   *
   * The creator checked the request (open) and the offer (its price and seller) before; the
   * marketplace may change either at the same moment (PUT purchase-requests / seller-offers, which
   * write first and then look for payments). So an inbound payment, once inserted, reads them
   * again: a request cancelled or given another buyer meanwhile, or an offer whose price,
   * currency, seller or request changed, cancels the new payment at once and throws 409
   * `purchase_request_not_open` / `records_do_not_match` / `offer_in_use`. One of two racing sides always sees the other (each writes, then reads).
   */
  async create(record: NewPayment, source: string, actor: string) {
    const created = await this.insertNew(record, source, actor);
    if (created.direction !== 'in') return created;
    const refusal = await this.changedUnderCreation(created);
    if (refusal) {
      await this.transition(created.id, { to: 'cancelled', source: 'system', actor: 'system', reason: refusal.message });
      throw refusal;
    }
    return created;
  }

  private async changedUnderCreation(p: PaymentRecord) {
    const request = await this.store.purchaseRequests.findById(p.purchaseRequestId);
    if (request?.status === 'cancelled') {
      return fail('purchase_request_not_open', { message: 'the purchase request was cancelled while the payment was created' });
    }
    if (request && request.buyerId !== p.buyerId) {
      return fail('records_do_not_match', { message: 'the purchase request changed buyer while the payment was created; read it again' });
    }
    if (!p.sellerOfferId) return null;
    const offer = await this.store.sellerOffers.findById(p.sellerOfferId);
    // An offer the store does not hold is not a race (records written directly, tests): nothing to compare.
    const same =
      offer === null ||
      (offer.purchaseRequestId === p.purchaseRequestId &&
        (p.sellerId === null || offer.sellerId === p.sellerId) &&
        offer.currency === p.amount.currency &&
        compareDecimals(offer.amount, p.amount.amount) === 0);
    return same ? null : fail('offer_in_use', { message: 'the offer changed while the payment was created; read it again' });
  }

  private async insertNew(record: NewPayment, source: string, actor: string) {
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
    const payment: PaymentRecord = {
      ...UNSET_AT_CREATION,
      ...record,
      escrow: record.direction === 'in' ? emptyLedger() : null,
      creditKeys: [],
      fundedRequestKey: null,
      pendingEffects: [],
      attention: [],
      history: [entry],
      createdAt: now,
      updatedAt: now,
    };
    const event = creationEvent(payment, now);
    const created = await this.store.payments.insertOne({ ...payment, pendingEvents: [event], lastEventAt: event.at });
    this.onEvents?.();
    return created;
  }

  /**
   * A status move that carries no money: processing, pending (a reorg), failed, cancelled, and an
   * outbound payout's own completed. Money targets of an inbound payment throw `evidence_required`.
   */
  async transition(paymentId: string, req: TransitionRequest): Promise<TransitionResult> {
    return this.move(paymentId, req, (p) => {
      if (p.direction === 'in' && EVIDENCE_ONLY.includes(req.to)) {
        throw fail('evidence_required', { message: `an inbound payment becomes ${req.to} only on evidence` });
      }
      const { claim, ...fields } = req.set ?? {};
      return { set: { ...flatten(fields), ...(claim ? { claim: { ...claim, txHash: claim.txHash.toLowerCase(), at: this.clock.now() } } : {}) } };
    });
  }

  /**
   * A party's or admin's amendment, in one conditional write: metadata (merged), the network and
   * token, and a claimed transaction hash (recorded only while the payment is pending, or
   * processing with no claim yet). `where` is what the caller checked and must still hold.
   * Refused as a whole: 409 `precondition_failed` (the payment moved on), nothing written.
   */
  async amend(
    paymentId: string,
    d: { metadata?: Record<string, unknown>; blockchain?: { network: string; token: string }; claim?: Omit<Claim, 'at'> },
    where: Filter = {},
  ): Promise<PaymentRecord> {
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d.metadata ?? {})) set[`metadata.${k}`] = v;
    if (d.blockchain) set.blockchain = d.blockchain;
    if (d.claim) set.claim = { ...d.claim, txHash: d.claim.txHash.toLowerCase(), at: this.clock.now() };
    if (Object.keys(set).length === 0) return this.mustFind(paymentId);
    const claimable = d.claim ? { $or: [{ status: 'pending' }, { status: 'processing', claim: null }] } : {};
    const conditions = [where, claimable].filter((c) => Object.keys(c).length > 0);
    const updated = await this.store.payments.updateOne(
      { id: paymentId, ...(conditions.length > 0 ? { $and: conditions } : {}) },
      { $set: set, $inc: { revision: 1 } },
    );
    if (updated) return updated;
    await this.mustFind(paymentId);
    throw fail('precondition_failed');
  }

  /** Provider facts (`providerData.<key>`) and invoice fields, never state or money. */
  async recordProviderFacts(
    paymentId: string,
    facts: { providerData?: Record<string, unknown>; paymentUrl?: string; payAddress?: string },
    where: Filter = {},
  ): Promise<PaymentRecord> {
    const { providerData, ...fields } = facts;
    const updated = await this.store.payments.updateOne(
      { id: paymentId, ...andWhere(where) },
      { $set: { ...fields, ...flatten({ providerData }) }, $inc: { revision: 1 } },
    );
    if (updated) return updated;
    await this.mustFind(paymentId);
    throw fail('precondition_failed');
  }

  // ── disbursements (invariants 4 and 5) ──────────────────────────────────────────────────────

  /**
   * Starts a disbursement of a funded escrow: the escrow must hold nothing else in flight, and the
   * amount must fit what it still holds. Refusals: `escrow_not_funded`, `disbursement_in_flight`,
   * `exceeds_escrow_balance`. The same disbursement id again returns the payment unchanged.
   */
  async openDisbursement(escrowId: string, d: Omit<Disbursement, 'createdAt' | 'updatedAt'>, step: { source: string; actor: string }): Promise<PaymentRecord> {
    return this.write(escrowId, (p) => {
      const l = ledgerOf(p);
      if (l.inFlight?.id === d.id) return null;
      if (p.direction !== 'in' || p.status !== 'completed' || p.escrowState !== 'funded') {
        throw fail('escrow_not_funded', { message: `escrow of this payment is ${p.escrowState} (payment ${p.status})` });
      }
      if (l.inFlight) {
        throw fail('disbursement_in_flight', {
          message: `a ${l.inFlight.kind} of this escrow is ${l.inFlight.state}`,
          details: { disbursementId: l.inFlight.id, kind: l.inFlight.kind, state: l.inFlight.state, payoutId: l.inFlight.payoutId },
        });
      }
      if (compareDecimals(d.amount, available(l)) > 0 || compareDecimals(d.amount, '0') <= 0) {
        throw fail('exceeds_escrow_balance', {
          message: `the escrow holds ${available(l)}; ${d.amount} cannot leave it`,
          details: { available: available(l), requested: d.amount },
        });
      }
      const now = this.clock.now();
      return {
        $set: { escrow: { ...l, inFlight: { ...d, createdAt: now, updatedAt: now } } },
        $push: {
          history: this.note(
            p,
            step.source,
            step.actor,
            `${d.kind} ${d.amount} to ${d.recipient} ${d.state}${d.override ? ` (recipient override by ${d.override.by}: ${d.override.reason})` : ''}`,
          ),
        },
      };
    });
  }

  /**
   * Moves the in-flight disbursement `id` from one of `from` to `to` (submitted, in_doubt, failed,
   * withdrawn). Settling goes through `settleDisbursement`. A disbursement already there is a no-op.
   */
  async moveDisbursement(
    escrowId: string,
    id: string,
    to: Exclude<DisbursementState, 'settled' | 'prepared'>,
    step: { source: string; actor: string; evidence?: string; reason?: string },
  ): Promise<{ payment: PaymentRecord; changed: boolean }> {
    let changed = false;
    const payment = await this.write(escrowId, (p) => {
      const l = ledgerOf(p);
      const d = l.inFlight?.id === id ? l.inFlight : undefined;
      const done = l.disbursements.find((x) => x.id === id);
      if (!d) {
        if (done?.state === to) return null;
        throw fail('disbursement_not_in_flight', { details: { state: done?.state ?? null } });
      }
      if (d.state === to) return null;
      if (!canMoveDisbursement(d.state, to)) {
        throw fail('invalid_disbursement_transition', {
          message: `a ${d.state} disbursement cannot become ${to}`,
          details: { from: d.state, to },
        });
      }
      const now = this.clock.now();
      const next = { ...d, state: to, evidence: step.evidence ?? d.evidence, updatedAt: now };
      const ends = !IN_FLIGHT.includes(to);
      changed = true;
      return {
        $set: { escrow: { ...l, inFlight: ends ? null : next, disbursements: ends ? [...l.disbursements, next] : l.disbursements } },
        $push: { history: this.note(p, step.source, step.actor, `${d.kind} ${d.state} → ${to}${step.reason ? `: ${step.reason}` : ''}`) },
      };
    });
    return { payment, changed };
  }

  /**
   * Settles the in-flight disbursement on evidence (a confirmed transfer, SHKeeper's success): the
   * escrow becomes released (release, payout) or refunded (refund), for good, with the side
   * effects in the same write. Evidence for a disbursement that is not in flight is refused,
   * unless it is the one already settled (the same evidence again: `changed: false`).
   */
  async settleDisbursement(
    escrowId: string,
    id: string,
    step: { source: string; actor: string; evidence: string; effects: string[]; hashField?: 'releaseTxHash' | 'refundTxHash' },
  ): Promise<TransitionResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await this.mustFind(escrowId);
      const l = ledgerOf(p);
      const settled = l.disbursements.find((x) => x.id === id && x.state === 'settled');
      if (settled) return { payment: p, changed: false };
      const d = l.inFlight?.id === id ? l.inFlight : undefined;
      if (!d) throw fail('disbursement_not_in_flight');
      const to: PaymentStatus = d.kind === 'refund' ? 'refunded' : 'released';
      const escrowState = escrowAfter('in', p.escrowState, to);
      if (!canTransition(p.status, to) || escrowState === undefined) {
        throw fail('escrow_not_funded', { message: `escrow of this payment is ${p.escrowState} (payment ${p.status})` });
      }
      const now = this.clock.now();
      const done: Disbursement = { ...d, state: 'settled', evidence: step.evidence, updatedAt: now };
      const ledger = { ...l, inFlight: null, disbursements: [...l.disbursements, done], disbursed: addDecimals(l.disbursed, d.amount) };
      const set: Record<string, unknown> = { escrow: ledger, status: to, escrowState, pendingEffects: step.effects };
      if (step.hashField) set[step.hashField] = step.evidence.toLowerCase();
      const updated = await this.commit(p, this.guard(p), {
        $set: set,
        $push: { history: this.entry(p, to, step.source, step.actor, `${d.kind} ${d.amount} to ${d.recipient}`) },
        $inc: { revision: 1 },
      });
      if (updated) {
        this.observer?.transition(p.status, to, { currency: p.amount.currency, direction: p.direction });
        return { payment: updated, changed: true };
      }
    }
    throw contention();
  }

  /**
   * Raises a reason for an admin to look at this payment (`attention`), with a history line and a
   * `payment.attention_required` event, in one write; the same reason again changes nothing.
   * Nothing else of the payment changes: this is how the service says "a person must decide".
   */
  async flagForAdmin(paymentId: string, flag: { reason: string; source: string; actor: string; detail?: string }): Promise<PaymentRecord> {
    return this.write(paymentId, (p) => {
      if ((p.attention ?? []).some((f) => f.reason === flag.reason)) return null;
      return {
        $push: {
          attention: { reason: flag.reason, source: flag.source, actor: flag.actor, at: this.clock.now() },
          history: this.note(p, flag.source, flag.actor, `attention: ${flag.reason}${flag.detail ? ` (${flag.detail})` : ''}`),
        },
      };
    });
  }

  /** Marks one outbox step done. */
  async effectDone(paymentId: string, step: string): Promise<void> {
    await this.store.payments.updateOne({ id: paymentId }, { $pull: { pendingEffects: step } });
  }

  /**
   * Ends the abandoned pending payments older than `cutoff` that nothing can still settle (no
   * claim, no credit, no proven wallet, no invoice address): each is cancelled (reason
   * `abandoned`), conditionally on still being so, and so announced as `payment.cancelled` like any
   * other end. At most 1,000 per call. Returns the ids cancelled.
   */
  async cancelAbandoned(cutoff: Date, actor: string): Promise<string[]> {
    const found = await this.store.payments.find({ status: 'pending', direction: 'in', createdAt: { $lt: cutoff }, ...ABANDONED }, { limit: 1_000 });
    const ended: string[] = [];
    for (const p of found) {
      try {
        const r = await this.transition(p.id, { to: 'cancelled', source: 'cleanup', actor, reason: 'abandoned: nothing can settle it', where: ABANDONED });
        if (r.changed) ended.push(p.id);
      } catch (err) {
        // It moved meanwhile (a claim, a credit, another end): not abandoned any more.
        if (!isAppError(err, 'precondition_failed', 'invalid_transition', 'payment_not_found')) throw err;
      }
    }
    return ended;
  }

  /**
   * Deletes, of `ids`, the cancelled payments whose events the relay has recorded (none left in
   * their outbox): the marketplace was told they ended before they go. Returns how many went.
   */
  deleteEnded(ids: string[]): Promise<number> {
    if (ids.length === 0) return Promise.resolve(0);
    return this.store.payments.deleteMany({ id: { $in: ids }, status: 'cancelled', 'pendingEvents.id': { $exists: false } });
  }

  /** Serialises a multi-record step (payment + offers + request) of one payment. */
  withPaymentLock<T>(paymentId: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.withLock(`payment:${paymentId}`, fn);
  }
}
