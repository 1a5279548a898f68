/**
 * Real-time events. Services emit through this interface only after the write they announce has
 * committed; the Socket.IO implementation turns targets into rooms.
 */
export interface PaymentEventPayloads {
  'payment-created': { paymentId: string; purchaseRequestId: string; status: string; provider: string };
  'payment-updated': { paymentId: string; purchaseRequestId: string; status: string; escrowState: string };
  'seller-offer-update': { sellerOfferId: string; purchaseRequestId: string; status: string };
  'purchase-request-update': { purchaseRequestId: string; status: string; type: string; paymentId?: string };
  'payout-created': { payoutId: string; status: string };
  'payout-updated': { payoutId: string; status: string };
  'payout-completed': { payoutId: string; status: string; transactionHash?: string };
}

export type PaymentEventName = keyof PaymentEventPayloads;

/**
 * Who an event is for. There is no "everyone": every signed-in client is a user, a seller or an
 * admin, and receives only what concerns it.
 */
export type EventTarget = { kind: 'admins' } | { kind: 'user'; id: string } | { kind: 'seller'; id: string } | { kind: 'request'; id: string };

/**
 * One event goes to one target or to a list of them in ONE call: a client in several of the
 * listed rooms (a buyer in `request:<id>` and `user:<id>`, an admin who joined a request) then
 * receives it once.
 */
export type EventTargets = EventTarget | readonly EventTarget[];

export interface PaymentEvents {
  emit<E extends PaymentEventName>(target: EventTargets, event: E, payload: PaymentEventPayloads[E]): void;
}

/** The admins' room: every admin's socket joins it on connect. */
export const ADMINS_ROOM = 'admins';

export const roomOf = (t: EventTarget) => (t.kind === 'admins' ? ADMINS_ROOM : `${t.kind}:${t.id}`);

/** The targets as a list (a single target becomes a list of one). */
export const targetList = (t: EventTargets): readonly EventTarget[] => (Array.isArray(t) ? t : [t as EventTarget]);

export const to = {
  admins: { kind: 'admins' } as EventTarget,
  user: (id: string): EventTarget => ({ kind: 'user', id }),
  seller: (id: string): EventTarget => ({ kind: 'seller', id }),
  request: (id: string): EventTarget => ({ kind: 'request', id }),
  /** A payment's or payout's own parties: its buyer and (when known) its seller. */
  parties: (p: { buyerId: string; sellerId: string | null }): EventTarget[] => [to.user(p.buyerId), ...(p.sellerId ? [to.seller(p.sellerId)] : [])],
};
