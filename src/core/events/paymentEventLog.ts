import { newObjectId } from '../../platform/ids.js';
import type { Credit, Disbursement, PaymentRecord, PaymentStatus, PendingEvent } from '../store/records.js';
import type { Update } from '../store/store.js';

/**
 * The events a marketplace's backend is told of (signed webhooks, `GET /events`). Each is derived
 * here, in one place, from a change the coordinator is about to write, and written in the same
 * atomic update as that change (the payment's `pendingEvents`): no change without its event, no
 * event without its change.
 */
export const EVENT_TYPES = [
  'payment.created',
  'payment.processing',
  'escrow.funded',
  'escrow.excess_received',
  'escrow.released',
  'escrow.refunded',
  'payment.failed',
  'payment.cancelled',
  'payout.created',
  'payout.completed',
  'payout.failed',
  'disbursement.in_doubt',
  'payment.attention_required',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The event announcing a move to `to`, by direction; none for a move nobody outside needs (a reorg back to pending). */
const STATUS_EVENTS: Record<'in' | 'out', Partial<Record<PaymentStatus, EventType>>> = {
  in: {
    processing: 'payment.processing',
    completed: 'escrow.funded',
    released: 'escrow.released',
    refunded: 'escrow.refunded',
    failed: 'payment.failed',
    cancelled: 'payment.cancelled',
  },
  out: { completed: 'payout.completed', failed: 'payout.failed', cancelled: 'payout.failed' },
};

/**
 * What every event says of its payment: the state after the change. Amounts are decimal strings
 * in the payment's currency.
 */
function summary(p: PaymentRecord) {
  return {
    id: p.id,
    direction: p.direction,
    provider: p.provider,
    status: p.status,
    escrowState: p.escrowState,
    amount: { amount: p.amount.amount, currency: p.amount.currency },
    purchaseRequestId: p.purchaseRequestId,
    sellerOfferId: p.sellerOfferId,
    buyerId: p.buyerId,
    sellerId: p.sellerId,
    blockchain: p.blockchain,
    transactionHash: p.transactionHash,
    escrowPaymentId: p.escrowPaymentId ?? null,
    received: p.escrow?.received ?? null,
    metadata: p.metadata,
  };
}

const creditView = (c: Credit) => ({ txHash: c.txHash, amount: c.amount, network: c.network, token: c.token, from: c.from, kind: c.kind, reason: c.reason });
const disbursementView = (d: Disbursement) => ({
  id: d.id,
  kind: d.kind,
  method: d.method,
  recipient: d.recipient,
  amount: d.amount,
  state: d.state,
  evidence: d.evidence,
  payoutId: d.payoutId,
});

/** The event of a payment being created (`payment.created`, or `payout.created` for an outbound row). */
export function creationEvent(p: PaymentRecord, at: Date): PendingEvent {
  return { id: newObjectId(at), type: p.direction === 'in' ? 'payment.created' : 'payout.created', at, data: { payment: summary(p) } };
}

/**
 * The events of writing `update` over `before`, in the order they happened: the status move, each
 * excess credit it adds, a disbursement becoming in doubt, each attention flag it raises. Reads
 * only `$set.status`, `$set.escrowState`, `$set.escrow`, `$set.transactionHash` and `$push.attention`,
 * the fields through which the coordinator writes what these events announce.
 */
export function eventsOfChange(before: PaymentRecord, update: Update, at: Date): PendingEvent[] {
  const set = (update.$set ?? {}) as Partial<PaymentRecord>;
  const after: PaymentRecord = {
    ...before,
    status: set.status ?? before.status,
    escrowState: set.escrowState ?? before.escrowState,
    escrow: set.escrow !== undefined ? set.escrow : before.escrow,
    transactionHash: set.transactionHash !== undefined ? set.transactionHash : before.transactionHash,
  };
  const payment = summary(after);
  const events: Array<{ type: EventType; data: Record<string, unknown> }> = [];
  const moved = after.status !== before.status ? STATUS_EVENTS[before.direction][after.status] : undefined;
  if (moved) {
    const settled = after.escrow?.disbursements.at(-1);
    const disbursed = (moved === 'escrow.released' || moved === 'escrow.refunded') && settled ? { disbursement: disbursementView(settled) } : {};
    events.push({ type: moved, data: { payment, previousStatus: before.status, ...disbursed } });
  }
  if (set.escrow && before.escrow) {
    const known = new Set(before.escrow.credits.map((c) => c.key));
    for (const c of set.escrow.credits) {
      if (c.kind === 'excess' && !known.has(c.key)) events.push({ type: 'escrow.excess_received', data: { payment, credit: creditView(c) } });
    }
    const d = set.escrow.inFlight;
    if (d?.state === 'in_doubt' && before.escrow.inFlight?.state !== 'in_doubt') {
      events.push({ type: 'disbursement.in_doubt', data: { payment, disbursement: disbursementView(d) } });
    }
  }
  const flag = update.$push?.attention as { reason: string } | undefined;
  if (flag) events.push({ type: 'payment.attention_required', data: { payment, reason: flag.reason } });
  return events.map((e) => ({ id: newObjectId(at), type: e.type, at, data: e.data }));
}

/** `update` with `events` pushed onto the payment's outbox in the same write. */
export function withEvents(update: Update, events: PendingEvent[]): Update {
  if (events.length === 0) return update;
  return { ...update, $push: { ...update.$push, pendingEvents: { $each: events } } };
}
