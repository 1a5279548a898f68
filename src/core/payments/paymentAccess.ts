import type { Principal } from '../../platform/auth/tokens.js';
import { fail } from '../../platform/errors.js';
import { isObjectId } from '../../platform/ids.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/**
 * The access rule, in one place. A payment is visible to its buyer, its seller and admins. To
 * anyone else it does not exist: they get the same 404 as for an unknown id, so probing ids
 * reveals nothing. Role checks that reveal no record (admin-only routes, another user's list)
 * answer 403.
 */
export const isPartyTo = (p: PaymentRecord, who: Principal) => who.userId === p.buyerId || who.userId === p.sellerId;

export async function visiblePayment(store: Store, who: Principal, id: string): Promise<PaymentRecord> {
  const p = isObjectId(id) ? await store.payments.findById(id) : null;
  if (!p || !(who.isAdmin || isPartyTo(p, who))) {
    throw fail('payment_not_found');
  }
  return p;
}

export function assertSelfOrAdmin(who: Principal, userId: string): void {
  if (!who.isAdmin && who.userId !== userId) {
    throw fail('forbidden_user');
  }
}

export const partyFilter = (userId: string) => ({ $or: [{ buyerId: userId }, { sellerId: userId }] });
