import { newObjectId } from '../../platform/ids.js';
import { addDecimals, compareDecimals, subtractDecimals } from '../../platform/money.js';
import type { Credit, PaymentRecord, PaymentStatus, PendingEvent } from '../store/records.js';
import type { Update } from '../store/store.js';
import { disbursementView } from '../payments/paymentView.js';

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

/** The event of a payment being created (`payment.created`, or `payout.created` for an outbound row). */
export function creationEvent(p: PaymentRecord, at: Date): PendingEvent {
  return { id: newObjectId(at), type: p.direction === 'in' ? 'payment.created' : 'payout.created', at, data: { payment: summary(p) } };
}

/**
 * The events of writing `update` over `before`, in the order they happened: the status move, each
 * credit beyond the price it adds, a disbursement becoming in doubt, each attention flag it
 * raises. Reads only `$set.status`, `$set.escrowState`, `$set.escrow`, `$set.transactionHash` and
 * `$push.attention`, the fields through which the coordinator writes what these events announce.
 * Each event's time is later than every earlier event of the payment (`lastEventAt`), by at least
 * a millisecond, whatever the clocks of the instances that wrote them: the delivery queue orders
 * one payment's events by it.
 */
export function eventsOfChange(before: PaymentRecord, update: Update, now: Date): PendingEvent[] {
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
    const funded = addDecimals('0', ...set.escrow.credits.filter((c) => c.kind === 'funding').map((c) => c.amount));
    for (const c of set.escrow.credits.filter((x) => !known.has(x.key))) {
      // Money beyond the price: a credit recorded as excess, or the part of an overpaying funding credit above the price.
      const excess =
        c.kind === 'excess'
          ? c.amount
          : c.reason === 'overpaid' && compareDecimals(funded, before.amount.amount) > 0
            ? subtractDecimals(funded, before.amount.amount)
            : null;
      if (excess) events.push({ type: 'escrow.excess_received', data: { payment, credit: creditView(c), excess } });
    }
    const d = set.escrow.inFlight;
    if (d?.state === 'in_doubt' && before.escrow.inFlight?.state !== 'in_doubt') {
      events.push({ type: 'disbursement.in_doubt', data: { payment, disbursement: disbursementView(d) } });
    }
  }
  const flag = update.$push?.attention as { reason: string } | undefined;
  if (flag) events.push({ type: 'payment.attention_required', data: { payment, reason: flag.reason } });
  const first = Math.max(now.getTime(), (before.lastEventAt?.getTime() ?? 0) + 1);
  return events.map((e, i) => {
    const at = new Date(first + i);
    return { id: newObjectId(at), type: e.type, at, data: e.data };
  });
}

/** `update` with `events` pushed onto the payment's outbox in the same write, and the last one's time kept. */
export function withEvents(update: Update, events: PendingEvent[]): Update {
  if (events.length === 0) return update;
  return {
    ...update,
    $set: { ...update.$set, lastEventAt: events.at(-1)!.at },
    $push: { ...update.$push, pendingEvents: { $each: events } },
  };
}
