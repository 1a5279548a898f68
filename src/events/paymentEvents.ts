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

export type EventTarget =
  | { kind: 'global' }
  | { kind: 'user'; id: string }
  | { kind: 'seller'; id: string }
  | { kind: 'request'; id: string };

export interface PaymentEvents {
  emit<E extends PaymentEventName>(target: EventTarget, event: E, payload: PaymentEventPayloads[E]): void;
}

export const roomOf = (t: Exclude<EventTarget, { kind: 'global' }>) => `${t.kind}:${t.id}`;

export const to = {
  global: { kind: 'global' } as EventTarget,
  user: (id: string): EventTarget => ({ kind: 'user', id }),
  seller: (id: string): EventTarget => ({ kind: 'seller', id }),
  request: (id: string): EventTarget => ({ kind: 'request', id }),
};
