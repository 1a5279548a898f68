import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { addDecimals, compareDecimals, lowerBound } from '../common/money.js';
import type {
  Claim,
  Credit,
  Disbursement,
  DisbursementState,
  HistoryEntry,
  PaymentRecord,
  PaymentStatus,
  ProvenPayer,
} from '../store/records.js';
import type { Filter, Store, Update } from '../store/store.js';
import { available, creditKey, emptyLedger, ledgerOf, planCredit, type CreditOutcome } from './escrowLedger.js';
import type { KeyedLock } from './keyedLock.js';
import {
  canMoveDisbursement,
  canTransition,
  escrowAfter,
  EVIDENCE_ONLY,
  IN_FLIGHT,
  OPEN,
  RELEASES_OFFER,
  SETTLED,
} from './transitions.js';

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

const MAX_ATTEMPTS = 8;

/**
 * The only writer of payment state. Each operation is named for what it means (credit an escrow,
 * record a claim, open or settle a disbursement…) and is one conditional update on the record as
 * just read: its status, escrow state and `revision` (bumped by every write here). Two writers
 * racing on one payment cannot both succeed; the loser re-reads and decides again. Money targets
 * (`completed` for an inbound payment, `released`, `refunded`) are reached only through evidence:
 * `credit` and `settleDisbursement`.
 */
export class PaymentCoordinator {
  constructor(
    private readonly store: Store,
    private readonly lock: KeyedLock,
    private readonly clock: Clock,
    private readonly observer?: { transition(from: string | null, to: string, payment?: { currency: string; direction: 'in' | 'out' }): void },
    private readonly policy: { underpaymentTolerance: string } = { underpaymentTolerance: '0' },
  ) {}

  /** Inserts a new payment; inbound ones start with an empty escrow ledger. */
  async create(
    record: Omit<PaymentRecord, 'history' | 'createdAt' | 'updatedAt' | 'pendingEffects' | 'escrow' | 'creditKeys' | 'fundedRequestKey' | 'claim' | 'escrowPaymentId'> &
      Partial<Pick<PaymentRecord, 'claim' | 'escrowPaymentId'>>,
    source: string,
    actor: string,
  ) {
    const now = this.clock.now();
    const entry: HistoryEntry = { fromStatus: null, toStatus: record.status, fromEscrow: null, toEscrow: record.escrowState, source, actor, at: now, reason: null };
    return this.store.payments.insertOne({
      claim: null,
      escrowPaymentId: null,
      ...record,
      escrow: record.direction === 'in' ? emptyLedger() : null,
      creditKeys: [],
      fundedRequestKey: null,
      pendingEffects: [],
      history: [entry],
      createdAt: now,
      updatedAt: now,
    });
  }

  /**
   * A status move that carries no money: processing, pending (a reorg), failed, cancelled, and an
   * outbound payout's own completed. Money targets of an inbound payment throw `evidence_required`.
   */
  async transition(paymentId: string, req: TransitionRequest): Promise<TransitionResult> {
    return this.move(paymentId, req, (p) => {
      if (p.direction === 'in' && EVIDENCE_ONLY.includes(req.to)) {
        throw new AppError('invalid_state', `an inbound payment becomes ${req.to} only on evidence`, { code: 'evidence_required' });
      }
      const { claim, ...fields } = req.set ?? {};
      return { set: { ...flatten(fields), ...(claim ? { claim: { ...claim, txHash: claim.txHash.toLowerCase(), at: this.clock.now() } } : {}) } };
    });
  }

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
      if (p.direction !== 'in') throw new AppError('invalid_state', 'only an inbound payment has an escrow', { code: 'not_an_escrow' });
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
        (update.$push as Record<string, unknown>).history = this.entry(p, plan.status, step.source, step.actor, plan.outcome === 'funded' ? `credited ${input.amount}` : undefined);
      }
      try {
        const updated = await this.store.payments.updateOne(this.guard(p), update);
        if (!updated) continue;
        if (plan.status !== p.status) this.observer?.transition(p.status, plan.status, { currency: p.amount.currency, direction: p.direction });
        return { payment: updated, outcome: plan.outcome, changed: true };
      } catch (err) {
        const keys = duplicateKeys(err);
        if (keys.includes('creditKeys')) {
          throw new AppError('conflict', 'this transfer is already credited to another payment', { code: 'transfer_already_credited', details: { key } });
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
          throw new AppError('invalid_state', 'only a completed payment takes evidence afterwards', { code: 'payment_not_completed' });
        }
        // Evidence of a completion is a transfer that could have completed it.
        if (compareDecimals(input.amount, lowerBound(p.amount.amount, this.policy.underpaymentTolerance)) < 0) {
          throw new AppError('conflict', `the transfer moved ${input.amount}, less than the payment's ${p.amount.amount}`, { code: 'transfer_mismatch', details: { reason: 'amount_too_low' } });
        }
        const credit: Credit = { ...input, key, kind: 'funding', reason: 'found_afterwards', source: step.source, at: this.clock.now() };
        return {
          $set: { escrow: { ...l, credits: [...l.credits, credit], received: addDecimals(l.received, input.amount), payer: l.payer ?? input.from }, ...(p.transactionHash ? {} : { transactionHash: input.txHash.toLowerCase() }) },
          $push: { creditKeys: key },
        };
      });
    } catch (err) {
      if (duplicateKeys(err).some((k) => k === 'creditKeys' || k === 'transactionHash')) {
        throw new AppError('conflict', 'the transaction found is already recorded on another payment', { code: 'transaction_hash_in_use' });
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
            key: `legacy:${p.id}`, kind: 'funding', reason: 'legacy_record', txHash: p.transactionHash ?? 'unknown', from: payer, to: p.payAddress,
            network: p.blockchain?.network ?? 'bsc', token: p.blockchain?.token ?? p.amount.currency, amount, baseUnits: null, blockNumber: null,
            source: 'legacy_migration', at: now,
          };
          const kind = p.status === 'refunded' ? 'refund' : 'release';
          const evidence = p.status === 'refunded' ? p.refundTxHash : p.releaseTxHash;
          const disbursements: Disbursement[] = p.status === 'completed' ? [] : [{
            id: `legacy-${p.id}`, kind, method: 'escrow_tx', recipient: 'unknown', amount, state: 'settled', override: null, payoutId: null,
            evidence, payload: null, createdBy: 'legacy_migration', createdAt: now, updatedAt: now,
          }];
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
      if (!OPEN.includes(p.status)) throw new AppError('invalid_state', `a transaction cannot be claimed for a ${p.status} payment`, { code: 'payment_not_open' });
      if (p.claim?.txHash === claim.txHash) return null;
      if (p.claim && p.status !== 'pending') {
        throw new AppError('conflict', 'a transaction already seen on chain is recorded for this payment', { code: 'transaction_hash_already_set' });
      }
      return { $set: { claim: { ...claim, txHash: claim.txHash.toLowerCase(), at: this.clock.now() } } };
    });
  }

  /** What the chain says of the claimed transaction (sender, nonce), kept to find a replacement. */
  async observeClaim(paymentId: string, txHash: string, facts: { from: string; nonce: number }): Promise<PaymentRecord> {
    return this.write(paymentId, (p) => (p.claim?.txHash === txHash && (p.claim.from !== facts.from || p.claim.nonce !== facts.nonce)
      ? { $set: { 'claim.from': facts.from, 'claim.nonce': facts.nonce } }
      : null));
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
      if (p.direction !== 'in') throw new AppError('invalid_state', 'only an inbound payment has a payer', { code: 'not_an_escrow' });
      const l = ledgerOf(p);
      if (l.payers.some((w) => w.wallet.toLowerCase() === payer.wallet.toLowerCase())) return null;
      if (!OPEN.includes(p.status)) throw new AppError('invalid_state', `the payment is ${p.status}`, { code: 'payment_not_open' });
      if (l.payers.length > 0) {
        throw new AppError('conflict', 'another wallet is already proven for this payment; save with your proof to get a payment of your own', { code: 'payer_already_proven' });
      }
      return { $set: { escrow: { ...l, payers: [...l.payers, payer] } } };
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
    throw new AppError('conflict', 'the payment changed; reload and try again', { code: 'precondition_failed' });
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
    throw new AppError('conflict', 'the payment changed; reload and try again', { code: 'precondition_failed' });
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
        throw new AppError('invalid_state', `escrow of this payment is ${p.escrowState} (payment ${p.status})`, { code: 'escrow_not_funded' });
      }
      if (l.inFlight) {
        throw new AppError('conflict', `a ${l.inFlight.kind} of this escrow is ${l.inFlight.state}`, {
          code: 'disbursement_in_flight',
          details: { disbursementId: l.inFlight.id, kind: l.inFlight.kind, state: l.inFlight.state, payoutId: l.inFlight.payoutId },
        });
      }
      if (compareDecimals(d.amount, available(l)) > 0 || compareDecimals(d.amount, '0') <= 0) {
        throw new AppError('conflict', `the escrow holds ${available(l)}; ${d.amount} cannot leave it`, {
          code: 'exceeds_escrow_balance',
          details: { available: available(l), requested: d.amount },
        });
      }
      const now = this.clock.now();
      return {
        $set: { escrow: { ...l, inFlight: { ...d, createdAt: now, updatedAt: now } } },
        $push: {
          history: this.note(p, step.source, step.actor, `${d.kind} ${d.amount} to ${d.recipient} ${d.state}${d.override ? ` (recipient override by ${d.override.by}: ${d.override.reason})` : ''}`),
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
        throw new AppError('invalid_state', 'this disbursement is not in flight', { code: 'disbursement_not_in_flight', details: { state: done?.state ?? null } });
      }
      if (d.state === to) return null;
      if (!canMoveDisbursement(d.state, to)) {
        throw new AppError('invalid_state', `a ${d.state} disbursement cannot become ${to}`, { code: 'invalid_disbursement_transition', details: { from: d.state, to } });
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
      if (!d) throw new AppError('invalid_state', 'this disbursement is not in flight', { code: 'disbursement_not_in_flight' });
      const to: PaymentStatus = d.kind === 'refund' ? 'refunded' : 'released';
      const escrowState = escrowAfter('in', p.escrowState, to);
      if (!canTransition(p.status, to) || escrowState === undefined) {
        throw new AppError('invalid_state', `escrow of this payment is ${p.escrowState} (payment ${p.status})`, { code: 'escrow_not_funded' });
      }
      const now = this.clock.now();
      const done: Disbursement = { ...d, state: 'settled', evidence: step.evidence, updatedAt: now };
      const ledger = { ...l, inFlight: null, disbursements: [...l.disbursements, done], disbursed: addDecimals(l.disbursed, d.amount) };
      const set: Record<string, unknown> = { escrow: ledger, status: to, escrowState, pendingEffects: step.effects };
      if (step.hashField) set[step.hashField] = step.evidence.toLowerCase();
      const updated = await this.store.payments.updateOne(this.guard(p), {
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

  /** Marks one outbox step done. */
  async effectDone(paymentId: string, step: string): Promise<void> {
    await this.store.payments.updateOne({ id: paymentId }, { $pull: { pendingEffects: step } });
  }

  /**
   * Deletes abandoned pending payments older than `cutoff` that nothing can still settle: no
   * claim, no credit, no proven wallet, no invoice address. Returns how many went.
   */
  purgeAbandoned(cutoff: Date): Promise<number> {
    return this.store.payments.deleteMany({
      status: 'pending', direction: 'in', transactionHash: null, payAddress: null, createdAt: { $lt: cutoff },
      claim: null, 'creditKeys.0': { $exists: false }, 'escrow.payers.0': { $exists: false },
    });
  }

  /** Serialises a multi-record step (payment + offers + request) of one payment. */
  withPaymentLock<T>(paymentId: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.withLock(`payment:${paymentId}`, fn);
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  private async move(paymentId: string, req: TransitionRequest, check: (p: PaymentRecord) => { set: Record<string, unknown> }) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.mustFind(paymentId);
      if (current.status === req.to) return { payment: current, changed: false };
      const nextEscrow = escrowAfter(current.direction, current.escrowState, req.to);
      if (!canTransition(current.status, req.to) || nextEscrow === undefined) {
        throw new AppError('invalid_state', `payment cannot move from ${current.status} to ${req.to}`, {
          code: 'invalid_transition',
          details: { from: current.status, to: req.to, escrowState: current.escrowState },
        });
      }
      const { set } = check(current);
      const updated = await this.store.payments.updateOne(
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
  private async write(paymentId: string, decide: (p: PaymentRecord) => Update | null): Promise<PaymentRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await this.mustFind(paymentId);
      const update = decide(p);
      if (!update) return p;
      const updated = await this.store.payments.updateOne(this.guard(p), { ...update, $inc: { revision: 1 } });
      if (updated) return updated;
    }
    throw contention();
  }

  /** The exact record just read: status, escrow state and revision. */
  private guard(p: PaymentRecord): Filter {
    return { id: p.id, status: p.status, escrowState: p.escrowState, revision: p.revision ?? null };
  }

  private entry(p: PaymentRecord, to: PaymentStatus, source: string, actor: string, reason?: string): HistoryEntry {
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
  private note(p: PaymentRecord, source: string, actor: string, reason: string): HistoryEntry {
    return { ...this.entry(p, p.status, source, actor, reason), toEscrow: p.escrowState };
  }

  private async mustFind(paymentId: string): Promise<PaymentRecord> {
    const p = await this.store.payments.findById(paymentId);
    if (!p) throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    return p;
  }

  /** After a failed conditional write: if the state did not move, the caller's `where` failed. */
  private async assertStateMoved(paymentId: string, before: PaymentRecord): Promise<void> {
    const now = await this.store.payments.findById(paymentId);
    if (now && now.status === before.status && now.escrowState === before.escrowState && (now.revision ?? null) === (before.revision ?? null)) {
      throw new AppError('conflict', 'the payment no longer meets the condition for this change', { code: 'precondition_failed' });
    }
  }
}

/** `id` stays a top-level key (the stores look records up by it); the rest goes under `$and`. */
function andWhere(where: Filter | undefined): Filter {
  return where && Object.keys(where).length > 0 ? { $and: [where] } : {};
}

function flatten(set: TransitionFields | { providerData?: Record<string, unknown> } | undefined): Record<string, unknown> {
  if (!set) return {};
  const { providerData, metadata, ...rest } = set as TransitionFields;
  const out: Record<string, unknown> = { ...rest };
  for (const [k, v] of Object.entries(providerData ?? {})) out[`providerData.${k}`] = v;
  for (const [k, v] of Object.entries(metadata ?? {})) out[`metadata.${k}`] = v;
  return out;
}

function duplicateKeys(err: unknown): string[] {
  if (!(err instanceof AppError) || err.code !== 'duplicate_key') return [];
  return (err.details as { keys?: string[] } | undefined)?.keys ?? [];
}

function contention(): AppError {
  return new AppError('unavailable', 'the payment is changing too often; try again', { code: 'contention' });
}

export type { Credit };
