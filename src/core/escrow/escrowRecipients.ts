import { AppError, fail, isAppError } from '../../platform/errors.js';
import { available, defaultDisbursementAmount, ledgerOf } from '../payments/escrowLedger.js';
import { compareDecimals } from '../../platform/money.js';
import type { InflowProofs } from '../payments/inflowProofs.js';
import type { NewPayment, PaymentCoordinator } from '../payments/paymentCoordinator.js';
import { newObjectId } from '../../platform/ids.js';
import type { Disbursement, DisbursementKind, PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/**
 * The rules every way money leaves an escrow shares (invariant 4 of
 * ../shared/design/escrow-ledger.md): which escrow a payout pays from, who the rule says is paid,
 * when an admin may pay someone else, and how "something is already leaving" is answered.
 */

export type EscrowAction = 'release' | 'refund';

/** An admin paying someone other than the rule's recipient: explicit, with a reason, recorded on the disbursement. */
export interface RecipientOverride {
  address: string;
  reason: string;
}

export const HASH_FIELD = { release: 'releaseTxHash', refund: 'refundTxHash' } as const;
export const TARGET_STATUS = { release: 'released', refund: 'refunded' } as const;

/**
 * Who the rule pays. A release or payout pays the wallet on the escrow's offer. A refund pays the
 * escrow's proven payer (the sender of its funding credit), else the buyer wallet recorded on the
 * purchase request. Without one: 409, never a guess.
 */
export async function ruleRecipient(store: Store, p: PaymentRecord, kind: DisbursementKind): Promise<string> {
  if (kind !== 'refund') {
    const offer = p.sellerOfferId ? await store.sellerOffers.findById(p.sellerOfferId) : null;
    if (!offer?.walletAddress) {
      throw fail('seller_wallet_missing');
    }
    return offer.walletAddress;
  }
  const payer = ledgerOf(p).payer;
  if (payer) return payer;
  const request = await store.purchaseRequests.findById(p.purchaseRequestId);
  if (!request?.buyerWalletAddress) {
    throw fail('buyer_wallet_missing');
  }
  return request.buyerWalletAddress;
}

/**
 * The escrow a payout of this purchase request pays from: its one funded inbound payment
 * (`fundedRequestKey`). None, or one already released or refunded → 409 `escrow_not_funded`.
 */
export async function fundedEscrowOf(store: Store, purchaseRequestId: string): Promise<PaymentRecord> {
  const p = await store.payments.findOne({ fundedRequestKey: purchaseRequestId, direction: 'in' });
  if (!p) {
    throw fail('escrow_not_funded');
  }
  assertFunded(p);
  return p;
}

export function assertFunded(p: PaymentRecord): void {
  if (p.status !== 'completed' || p.escrowState !== 'funded') {
    throw fail('escrow_not_funded', {
      message: `escrow of this payment is ${p.escrowState} (payment ${p.status})`,
      details: { escrowPaymentId: p.id, status: p.status, escrowState: p.escrowState },
    });
  }
}

/**
 * The recipient a payout may pay: the rule's, or — only with an admin's reason — another one.
 * Returns the override to record, or null when the rule's recipient is paid.
 */
export function checkPayoutRecipient(rule: string | null, given: string, o: { adminId: string; reason?: string }): { by: string; reason: string } | null {
  if (rule && rule.toLowerCase() === given.toLowerCase()) return null;
  if (o.reason) return { by: o.adminId, reason: o.reason };
  throw fail('recipient_not_allowed', {
    message: rule ? `this escrow pays ${rule}; another recipient needs an override reason` : 'the offer has no wallet; a recipient needs an override reason',
    details: { allowed: rule },
  });
}

/**
 * A payout pays what the escrow owes its seller, no more and no less: more than it still holds →
 * 409 `exceeds_escrow_balance`; any other amount → 409 `disbursement_amount_mismatch` (with the
 * expected one). A partial payout would close the escrow (released) and strand the rest.
 */
export function assertPayoutAmount(escrow: PaymentRecord, amount: string): void {
  const l = ledgerOf(escrow);
  if (compareDecimals(amount, available(l)) > 0) {
    throw fail('exceeds_escrow_balance', {
      message: `the escrow holds ${available(l)}; ${amount} cannot leave it`,
      details: { available: available(l), requested: amount },
    });
  }
  const expected = defaultDisbursementAmount(escrow, 'payout');
  if (compareDecimals(amount, expected) !== 0) {
    throw fail('disbursement_amount_mismatch', {
      message: `this escrow pays its seller ${expected}, not ${amount}`,
      details: { expected, requested: amount },
    });
  }
}

/**
 * Before money is sent out of an escrow, the chain is asked again for every funding transfer it
 * proved: a transfer reorged out after completion (deeper than BSC_CONFIRMATIONS) must not be paid
 * out from money that is not there. Credits taken on SHKeeper's word alone (no base units read)
 * cannot be re-read and are left as they are. Refusal: 409 `funding_not_on_chain`.
 */
export async function assertFundingOnChain(proofs: InflowProofs | undefined, p: PaymentRecord): Promise<void> {
  const chainCredits = ledgerOf(p).credits.filter((c) => c.kind === 'funding' && c.baseUnits !== null);
  if (!proofs || chainCredits.length === 0) return;
  for (const c of chainCredits) {
    const v = await proofs.prove(p, c.txHash, 'admin');
    if (v.kind === 'credit' && v.transfer.baseUnits === c.baseUnits) continue;
    throw fail('funding_not_on_chain', {
      message: `the transfer that funded this escrow (${c.txHash}) is no longer on the chain as it was credited; nothing can leave it`,
      details: { transactionHash: c.txHash, chain: v.kind === 'refuted' ? v.reason : v.kind },
    });
  }
}

/** Something already leaves this escrow: in doubt (SHKeeper's answer was lost) or plainly in flight. */
export function inFlightError(d: Pick<Disbursement, 'id' | 'kind' | 'state' | 'payoutId'>): AppError {
  const details = { disbursementId: d.id, kind: d.kind, state: d.state, payoutId: d.payoutId };
  if (d.state === 'in_doubt') {
    return fail('payout_outcome_unknown', { details });
  }
  return fail('disbursement_in_flight', { message: `a ${d.kind} of this escrow is ${d.state}`, details });
}

/** The coordinator's `disbursement_in_flight` for an in-doubt payout, said as `payout_outcome_unknown`. */
export function explainInFlight(err: unknown): unknown {
  if (isAppError(err, 'disbursement_in_flight')) {
    const d = err.details as Pick<Disbursement, 'kind' | 'state' | 'payoutId'> & { disbursementId: string };
    if (d?.state === 'in_doubt') return inFlightError({ id: d.disbursementId, kind: d.kind, state: d.state, payoutId: d.payoutId });
  }
  return err;
}

/**
 * Opens a payout disbursement (`prepared`) of the escrow, then writes its outbound payout row with
 * `writeRow(ids)`; if the row cannot be written, the disbursement fails again (nothing was sent).
 * The disbursement comes first so that, from the row's existence on, the escrow is held by it.
 * Returns the row and the ids. Refusals are the coordinator's (`disbursement_in_flight` said as
 * `payout_outcome_unknown` when the one in flight is in doubt, `exceeds_escrow_balance`, …).
 */
export async function openPayout(
  coordinator: PaymentCoordinator,
  escrow: PaymentRecord,
  d: { method: 'shkeeper' | 'hot_wallet'; recipient: string; amount: string; override: Disbursement['override']; createdBy: string; source: string; now: Date },
  writeRow: (ids: { payoutId: string; disbursementId: string }) => Promise<PaymentRecord>,
): Promise<{ payout: PaymentRecord; payoutId: string; disbursementId: string }> {
  const payoutId = newObjectId(d.now);
  const disbursementId = newObjectId(d.now);
  const step = { source: d.source, actor: d.createdBy };
  try {
    await coordinator.openDisbursement(
      escrow.id,
      {
        id: disbursementId,
        kind: 'payout',
        method: d.method,
        recipient: d.recipient,
        amount: d.amount,
        state: 'prepared',
        override: d.override,
        payoutId,
        evidence: null,
        payload: null,
        createdBy: d.createdBy,
      },
      step,
    );
  } catch (err) {
    throw explainInFlight(err);
  }
  try {
    return { payout: await writeRow({ payoutId, disbursementId }), payoutId, disbursementId };
  } catch (err) {
    await coordinator.moveDisbursement(escrow.id, disbursementId, 'failed', { ...step, reason: 'the payout record could not be written' });
    throw err;
  }
}

/** What a payout's creator states; the rest of a payout record is fixed (see `payoutRecord`). */
export type PayoutFields = Pick<
  NewPayment,
  | 'id'
  | 'provider'
  | 'purchaseRequestId'
  | 'sellerOfferId'
  | 'buyerId'
  | 'sellerId'
  | 'amount'
  | 'blockchain'
  | 'externalId'
  | 'payAddress'
  | 'escrowPaymentId'
  | 'providerData'
  | 'metadata'
>;

/**
 * A payout's record for `PaymentCoordinator.create`: outbound, pending, unfunded, and holding no
 * offer (`liveOfferKey` null): the escrow's disbursement holds what that key used to, one payout at a time.
 */
export function payoutRecord(fields: PayoutFields): NewPayment {
  return { ...fields, direction: 'out', status: 'pending', escrowState: 'unfunded', liveOfferKey: null };
}
