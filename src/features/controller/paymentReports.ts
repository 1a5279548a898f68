import { stringify } from 'csv-stringify';
import { Readable, type Transform } from 'node:stream';
import { fromBaseUnits, MAX_DECIMALS, normalizeDecimal, toBaseUnits } from '../../platform/money.js';
import type { Filter, Store } from '../../core/store/store.js';
import type { PaymentRecord, PaymentStatus } from '../../core/store/records.js';
import { paymentView } from '../../core/payments/paymentView.js';
import { partyFilter } from '../../core/payments/paymentAccess.js';

/** Stats and exports of one user's payments (as buyer or seller). */

export interface PaymentTotal {
  status: PaymentStatus;
  currency: string;
  count: number;
  /** Exact decimal sum, as a plain decimal string (`"0.3"`, never `"3E-1"`). */
  total: string;
}

/**
 * Count and exact sum of `amount.amount` per status and currency over the payments `filter`
 * selects, sorted by status then currency. Summed here, in bigint base units of 18 decimals (the
 * shared money code), never by the database: MongoDB's `$toDecimal` keeps 34 significant digits,
 * so the same records would total differently in the two stores.
 */
export async function paymentTotals(store: Store, filter: Filter): Promise<PaymentTotal[]> {
  const groups = new Map<string, { status: PaymentStatus; currency: string; count: number; units: bigint }>();
  for await (const p of store.payments.stream(filter)) {
    const key = `${p.status}\u0000${p.amount.currency}`;
    const units = toBaseUnits(normalizeDecimal(p.amount.amount), MAX_DECIMALS);
    const g = groups.get(key);
    if (g) {
      g.count++;
      g.units += units;
    } else {
      groups.set(key, { status: p.status, currency: p.amount.currency, count: 1, units });
    }
  }
  return [...groups.values()]
    .map(({ units, ...g }) => ({ ...g, total: fromBaseUnits(units, MAX_DECIMALS) }))
    .sort((a, b) => a.status.localeCompare(b.status) || a.currency.localeCompare(b.currency));
}

export async function paymentStats(store: Store, userId: string) {
  const totals = await paymentTotals(store, partyFilter(userId));
  return {
    userId,
    count: totals.reduce((n, t) => n + t.count, 0),
    byStatus: totals,
  };
}

export const CSV_COLUMNS = [
  'id',
  'createdAt',
  'updatedAt',
  'status',
  'escrowState',
  'provider',
  'direction',
  'purchaseRequestId',
  'sellerOfferId',
  'buyerId',
  'sellerId',
  'amount',
  'currency',
  'network',
  'token',
  'transactionHash',
  'externalId',
] as const;

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab/CR that precedes one) as a
 * formula; a leading apostrophe makes it text.
 */
export function neutraliseCell(v: string): string {
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

function csvRow(p: PaymentRecord): string[] {
  const row: Record<(typeof CSV_COLUMNS)[number], string | null> = {
    id: p.id,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    status: p.status,
    escrowState: p.escrowState,
    provider: p.provider,
    direction: p.direction,
    purchaseRequestId: p.purchaseRequestId,
    sellerOfferId: p.sellerOfferId,
    buyerId: p.buyerId,
    sellerId: p.sellerId,
    amount: p.amount.amount,
    currency: p.amount.currency,
    network: p.blockchain?.network ?? null,
    token: p.blockchain?.token ?? null,
    transactionHash: p.transactionHash,
    externalId: p.externalId,
  };
  return CSV_COLUMNS.map((c) => neutraliseCell(row[c] ?? ''));
}

function exportFilter(userId: string, status?: string[]) {
  return status ? { ...partyFilter(userId), status: { $in: status } } : partyFilter(userId);
}

/**
 * CSV as a chain of streams for `pipeline`: rows are read from the store one at a time, so memory
 * stays flat, and an error anywhere aborts the response.
 */
export function paymentsCsv(store: Store, userId: string, status?: string[]): [Readable, Transform] {
  const rows = store.payments.stream(exportFilter(userId, status), { sort: { createdAt: 1, id: 1 } });
  async function* source() {
    for await (const p of rows) yield csvRow(p);
  }
  return [Readable.from(source()), stringify({ header: true, columns: [...CSV_COLUMNS] })];
}

/** A JSON array as a stream, one payment at a time. */
export function paymentsJson(store: Store, userId: string, status?: string[]): Readable {
  const rows = store.payments.stream(exportFilter(userId, status), { sort: { createdAt: 1, id: 1 } });
  async function* source() {
    yield '[';
    let first = true;
    for await (const p of rows) {
      yield (first ? '' : ',') + JSON.stringify(paymentView(p));
      first = false;
    }
    yield ']';
  }
  return Readable.from(source());
}
