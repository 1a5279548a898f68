import { addDecimals, compareDecimals, lowerBound, MAX_DECIMALS, minDecimal, normalizeDecimal, subtractDecimals, toBaseUnits } from '../../platform/money.js';
import type { Credit, Disbursement, EscrowLedger, PaymentRecord, PaymentStatus } from '../store/records.js';
import { CLOSED, OPEN } from './transitions.js';

/**
 * The escrow ledger's arithmetic, as pure functions the coordinator applies (the invariants of
 * ../shared/design/escrow-ledger.md). Amounts are decimal strings in the payment's currency.
 */

export function emptyLedger(): EscrowLedger {
  return { received: '0', credits: [], shortfall: null, payers: [], payer: null, inFlight: null, disbursements: [], disbursed: '0' };
}

/** The ledger of an inbound payment (records written before the ledger existed read as empty). */
export function ledgerOf(p: PaymentRecord): EscrowLedger {
  return { ...emptyLedger(), ...(p.escrow ?? {}) };
}

/**
 * The key that names one transfer to one receiver across every payment. A transaction that pays
 * two SHKeeper invoices (two receivers) yields two keys; two credits of one transfer are
 * impossible because the store keeps these keys unique.
 */
export function creditKey(network: string, txHash: string, to: string): string {
  return `${network.toLowerCase()}:${txHash.toLowerCase()}:${to.toLowerCase()}`;
}

export type CreditOutcome = 'funded' | 'partial' | 'excess';

export interface CreditPlan {
  outcome: CreditOutcome;
  credit: Credit;
  ledger: EscrowLedger;
  /** The status the payment moves to (same as now for `excess`). */
  status: PaymentStatus;
}

/**
 * What one new credit does to a payment.
 * - Open and unfunded: the credit funds. When the funding credits reach the price less
 *   `tolerance` (a fraction, UNDERPAYMENT_TOLERANCE) the payment completes and the escrow is
 *   funded for what arrived; any shortfall is recorded. Below that it is `partial`: processing.
 * - Anything else (already funded, released, refunded, cancelled, failed), or `forceExcess`
 *   (another payment of the request is funded): excess, recorded for an admin, status unchanged.
 */
export function planCredit(p: PaymentRecord, c: Omit<Credit, 'kind' | 'reason'>, o: { tolerance: string; forceExcess?: string }): CreditPlan {
  const ledger = ledgerOf(p);
  const received = addDecimals(ledger.received, c.amount);
  const open = OPEN.includes(p.status) && p.escrowState === 'unfunded';
  if (!open || o.forceExcess) {
    const reason = o.forceExcess ?? (CLOSED.includes(p.status) || p.status === 'released' || p.status === 'refunded' ? 'late_payment' : 'second_payment');
    const credit: Credit = { ...c, kind: 'excess', reason };
    return { outcome: 'excess', credit, status: p.status, ledger: { ...ledger, received, credits: [...ledger.credits, credit] } };
  }
  const funding = addDecimals(fundedAmount(ledger), c.amount);
  const price = p.amount.amount;
  const enough = compareDecimals(funding, lowerBound(price, o.tolerance)) >= 0;
  const over = compareDecimals(funding, price) > 0;
  const credit: Credit = { ...c, kind: 'funding', reason: over ? 'overpaid' : null };
  const shortfall = compareDecimals(funding, price) < 0 ? subtractDecimals(price, funding) : null;
  const next: EscrowLedger = { ...ledger, received, credits: [...ledger.credits, credit], shortfall };
  if (!enough) return { outcome: 'partial', credit, status: 'processing', ledger: next };
  return { outcome: 'funded', credit, status: 'completed', ledger: { ...next, payer: largestContributor(next.credits) } };
}

/**
 * The refund recipient: the sender who contributed most to the funding (the earliest on a tie),
 * never simply whoever sent the last part — an outsider who tops up a short payment must not
 * become the recipient of everyone's money. Null when no sender is known.
 */
export function largestContributor(credits: Credit[]): string | null {
  const sums = new Map<string, bigint>();
  for (const c of credits) {
    if (c.kind !== 'funding' || !c.from) continue;
    const key = c.from.toLowerCase();
    sums.set(key, (sums.get(key) ?? 0n) + toBaseUnits(normalizeDecimal(c.amount), MAX_DECIMALS));
  }
  let best: { from: string; sum: bigint } | null = null;
  for (const c of credits) {
    const sum = c.from ? sums.get(c.from.toLowerCase()) : undefined;
    if (sum !== undefined && (!best || sum > best.sum)) best = { from: c.from!, sum };
  }
  return best?.from ?? null;
}

/** Everything one sender put into this escrow (funding and excess). */
export function contributionOf(l: EscrowLedger, sender: string): string {
  return addDecimals('0', ...l.credits.filter((c) => c.from?.toLowerCase() === sender.toLowerCase()).map((c) => c.amount));
}

/** What the funding credits add up to. */
export function fundedAmount(l: EscrowLedger): string {
  return addDecimals('0', ...l.credits.filter((c) => c.kind === 'funding').map((c) => c.amount));
}

/** Money that arrived beyond the price, or when it could no longer fund anything. */
export function excessAmount(p: PaymentRecord): string {
  const l = ledgerOf(p);
  const late = addDecimals('0', ...l.credits.filter((c) => c.kind === 'excess').map((c) => c.amount));
  const funded = fundedAmount(l);
  const over = compareDecimals(funded, p.amount.amount) > 0 ? subtractDecimals(funded, p.amount.amount) : '0';
  return addDecimals(late, over);
}

/** What may still leave the escrow: received − disbursed − in flight. */
export function available(l: EscrowLedger): string {
  const held = addDecimals(l.disbursed, l.inFlight?.amount ?? '0');
  return compareDecimals(l.received, held) >= 0 ? subtractDecimals(l.received, held) : '0';
}

/**
 * What a disbursement of this kind pays by default: a release or payout the price (or what
 * arrived, when less); a refund what the payer put in (everything held when no sender is known).
 * Money other senders put in stays held, visible as `available`, for an admin.
 */
export function defaultDisbursementAmount(p: PaymentRecord, kind: Disbursement['kind']): string {
  const l = ledgerOf(p);
  const left = available(l);
  if (kind !== 'refund') return minDecimal(minDecimal(p.amount.amount, fundedAmount(l)), left);
  return l.payer ? minDecimal(contributionOf(l, l.payer), left) : left;
}

/**
 * The ledger invariants of one payment, as a list of broken rules (empty when it is sound): what
 * the tests assert after every outflow case, and what /debug can show.
 */
export function ledgerProblems(p: PaymentRecord): string[] {
  if (p.direction !== 'in') return [];
  const l = ledgerOf(p);
  const problems: string[] = [];
  const sum = addDecimals('0', ...l.credits.map((c) => c.amount));
  if (compareDecimals(sum, l.received) !== 0) problems.push(`received ${l.received} is not the sum of credits ${sum}`);
  const settled = addDecimals('0', ...l.disbursements.filter((d) => d.state === 'settled').map((d) => d.amount));
  if (compareDecimals(settled, l.disbursed) !== 0) problems.push(`disbursed ${l.disbursed} is not the sum of settled disbursements ${settled}`);
  const out = addDecimals(l.disbursed, l.inFlight?.amount ?? '0');
  if (compareDecimals(out, l.received) > 0) problems.push(`disbursed + in flight ${out} exceeds received ${l.received}`);
  if (l.disbursements.filter((d) => d.state === 'settled').length > 1) problems.push('more than one settled disbursement');
  const keys = new Set(l.credits.map((c) => c.key));
  if (keys.size !== l.credits.length) problems.push('a transfer is credited twice');
  if ((p.creditKeys ?? []).length !== keys.size || (p.creditKeys ?? []).some((k) => !keys.has(k))) problems.push('creditKeys differ from the credits');
  if (p.escrowState !== 'unfunded' && !l.credits.some((c) => c.kind === 'funding')) problems.push(`escrow ${p.escrowState} without a funding credit`);
  return problems;
}
