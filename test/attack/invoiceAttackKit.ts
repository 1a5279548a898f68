import type { ListeningWorld } from '../helpers/testWorld.js';
import { intentFor, invoiceCallback, seed } from '../shkeeper/payinTestKit.js';

/** What the SHKeeper attack suites share: a pending invoice, a txid by number, and its PAID callback. */
export type Intent = Awaited<ReturnType<typeof intentFor>>;

/** A pending SHKeeper invoice of seller-1's 25.5 USDT offer. */
export async function pending(h: ListeningWorld): Promise<Intent> {
  return intentFor(h, await seed(h));
}

/** A distinct, well-formed EVM transaction hash for each `n` (0–255). */
export const tx = (n: number) => `0x${n.toString(16).padStart(2, '0').repeat(32)}`;

/** A PAID callback for `intent` for its whole price (25.5 by default), in one transfer `txid`. */
export const paid = (intent: Intent, txid = tx(1), amount = '25.5') =>
  invoiceCallback(intent, { balance_crypto: amount, status: 'PAID', paid: true }, { txid, amount_crypto: amount });
