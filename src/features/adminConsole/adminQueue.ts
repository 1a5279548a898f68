import type { Clock } from '../../platform/clock.js';
import { paymentView } from '../../core/payments/paymentView.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Filter, Store } from '../../core/store/store.js';
import { pageAfter } from '../shared/cursorPage.js';

/** Reasons a credit is money beyond the price (src/core/payments/escrowLedger.ts `planCredit`). */
const EXCESS_REASONS = ['overpaid', 'second_payment', 'late_payment', 'request_already_funded'];

/**
 * What an admin has to decide or look at, one list each (`GET /admin/queue?view=…`):
 * - `decisions`: funded escrows with nothing leaving them: release or refund;
 * - `in_flight`: a release, refund or payout prepared or submitted, not settled yet;
 * - `in_doubt`: a disbursement whose provider answer was lost (only evidence moves it);
 * - `attention`: payments the service flagged (a cancelled request with a funded escrow…);
 * - `excess`: escrows credited beyond their price (overpaid, paid twice, paid late);
 * - `short`: escrows funded below their price, within UNDERPAYMENT_TOLERANCE.
 */
export const QUEUE_VIEW_NAMES = ['decisions', 'in_flight', 'in_doubt', 'attention', 'excess', 'short'] as const;
export type QueueView = (typeof QUEUE_VIEW_NAMES)[number];

export const QUEUE_VIEWS: Record<QueueView, Filter> = {
  decisions: { escrowState: 'funded', direction: 'in', 'escrow.inFlight': null },
  in_flight: { 'escrow.inFlight.state': { $in: ['prepared', 'submitted'] } },
  in_doubt: { 'escrow.inFlight.state': 'in_doubt' },
  attention: { 'attention.reason': { $type: 'string' } },
  excess: { 'escrow.credits.reason': { $in: EXCESS_REASONS } },
  short: { 'escrow.shortfall': { $type: 'string' } },
};

/** One entry: the payment as the API shows it (parties, amount, the escrow's credits and disbursements), its age and its flags. */
export function queueItem(p: PaymentRecord, now: Date) {
  return {
    ...paymentView(p),
    ageSeconds: Math.max(0, Math.floor((now.getTime() - p.createdAt.getTime()) / 1000)),
    attention: (p.attention ?? []).map((f) => ({ reason: f.reason, source: f.source, actor: f.actor, at: f.at.toISOString() })),
  };
}

/** The admin's work queue: one view at a time, oldest first, cursor-paged (`starting_after`, `has_more`). */
export class AdminQueue {
  constructor(private readonly d: { store: Store; clock: Clock }) {}

  /** Throws 400 `cursor_not_found` for a `startingAfter` that is not in the view. */
  async list(view: QueueView, q: { limit: number; startingAfter?: string }) {
    const page = await pageAfter(this.d.store.payments, QUEUE_VIEWS[view], q.startingAfter, q.limit, 'oldest');
    const now = this.d.clock.now();
    return { view, items: page.items.map((p) => queueItem(p, now)), has_more: page.hasMore };
  }

  /** How many payments each view holds now (the console's badges). */
  async counts(): Promise<Record<QueueView, number>> {
    const entries = await Promise.all(QUEUE_VIEW_NAMES.map(async (v) => [v, await this.d.store.payments.count(QUEUE_VIEWS[v])] as const));
    return Object.fromEntries(entries) as Record<QueueView, number>;
  }
}
