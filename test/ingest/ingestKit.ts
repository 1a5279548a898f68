import { newObjectId } from '../../src/platform/ids.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { payment } from '../helpers/fixtures.js';
import type { ApiClient, TestWorld } from '../helpers/testWorld.js';

/** The marketplace's backend: a service credential (`role: "service"`). */
export const MARKETPLACE = 'marketplace-backend';
export const BUYER = 'buyer-1';
export const SELLER = 'seller-1';
export const WALLET = '0x1111111111111111111111111111111111111111';
/** A checksummed address with letters, sent in lower case. */
export const OTHER_WALLET = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

/** `Authorization` for a service credential (optionally with more roles). */
export function serviceBearer(t: TestWorld, roles?: string[]): string {
  return `Bearer ${t.tokens.sign(roles ? { sub: MARKETPLACE, roles } : { sub: MARKETPLACE, role: 'service' }, 600)}`;
}

/** Requests as the marketplace's service credential. */
export function service(t: TestWorld): ApiClient {
  return t.as({ authorization: serviceBearer(t) });
}

export function requestBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { buyerId: BUYER, title: 'Vintage lamp', buyerWalletAddress: null, status: 'open', ...over };
}

export function offerBody(purchaseRequestId: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { purchaseRequestId, sellerId: SELLER, amount: '25.50', currency: 'USDT', walletAddress: WALLET, status: 'pending', ...over };
}

/** A purchase request and one offer, created through the routes; returns their ids. */
export async function ingestMarketplace(t: TestWorld): Promise<{ requestId: string; offerId: string }> {
  const requestId = newObjectId();
  const offerId = newObjectId();
  const r = await service(t).put(`/purchase-requests/${requestId}`, requestBody());
  if (r.status !== 201) throw new Error(`request not created: ${r.status} ${r.text}`);
  const o = await service(t).put(`/seller-offers/${offerId}`, offerBody(requestId));
  if (o.status !== 201) throw new Error(`offer not created: ${o.status} ${o.text}`);
  return { requestId, offerId };
}

/** A payment of the request's offer, stored as given (status, escrow state, offer hold). */
export async function paymentOfRequest(t: TestWorld, requestId: string, offerId: string, over: Partial<PaymentRecord> = {}): Promise<PaymentRecord> {
  const p = payment({ purchaseRequestId: requestId, sellerOfferId: offerId, buyerId: BUYER, sellerId: SELLER, ...over });
  await t.store.payments.insertOne(p);
  return p;
}
