import { stringify } from 'csv-stringify';
import { Readable, type Transform } from 'node:stream';
import type { Store } from '../store/store.js';
import type { PaymentRecord } from '../store/records.js';
import { paymentView } from './paymentView.js';
import { partyFilter } from './paymentAccess.js';

/** Stats and exports of one user's payments (as buyer or seller). */

export async function paymentStats(store: Store, userId: string) {
  const totals = await store.paymentTotals(partyFilter(userId));
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
