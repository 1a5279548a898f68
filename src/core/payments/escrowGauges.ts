import { fromBaseUnits, MAX_DECIMALS, normalizeDecimal, toBaseUnits } from '../../platform/money.js';
import type { BalanceReaders } from '../../platform/metrics/metrics.js';
import type { Store } from '../store/store.js';
import { ledgerOf } from './escrowLedger.js';

/** The escrow's levels for `/metrics`, read from the store at each scrape. */
export function escrowBalanceReaders(store: Store): BalanceReaders {
  return { held: () => heldByCurrency(store), inDoubt: () => inDoubtByCurrency(store) };
}

/**
 * received − disbursed over every funded escrow, per currency, summed exactly in base units; a
 * float only at the very end, for the exposition format.
 */
async function heldByCurrency(store: Store): Promise<Map<string, number>> {
  const sums = new Map<string, bigint>();
  for await (const p of store.payments.stream({ direction: 'in', escrowState: 'funded' })) {
    const l = ledgerOf(p);
    const held = units(l.received) - units(l.disbursed);
    sums.set(p.amount.currency, (sums.get(p.amount.currency) ?? 0n) + held);
  }
  return new Map([...sums].map(([c, v]) => [c, toFloat(v)]));
}

async function inDoubtByCurrency(store: Store): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const p of store.payments.stream({ 'escrow.inFlight.state': 'in_doubt' })) {
    counts.set(p.amount.currency, (counts.get(p.amount.currency) ?? 0) + 1);
  }
  return counts;
}

const units = (amount: string) => toBaseUnits(normalizeDecimal(amount), MAX_DECIMALS);
const toFloat = (v: bigint) => (v < 0n ? -Number(fromBaseUnits(-v, MAX_DECIMALS)) : Number(fromBaseUnits(v, MAX_DECIMALS)));
