import { expect } from 'vitest';
import type { Response } from 'supertest';
import type { EscrowState, HistoryEntry, PaymentRecord, PaymentStatus, PurchaseRequestRecord, SellerOfferRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { payment, seedMarketplace, snapshot } from './fixtures.js';
import type { RecordingEvents } from './recordingEvents.js';
import { startTestWorld, type TestWorldOptions } from './testWorld.js';

/** Shared set-up and assertions for the controller and configuration tests. */

export const TX_A = `0x${'a'.repeat(64)}`;
export const TX_B = `0x${'b'.repeat(64)}`;
export const UNKNOWN_ID = 'ffffffffffffffffffffffff';

/** A valid POST / body for the seeded marketplace. */
export function createBody(request: PurchaseRequestRecord, offer: SellerOfferRecord, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    purchaseRequestId: request.id,
    sellerOfferId: offer.id,
    buyerId: request.buyerId,
    sellerId: offer.sellerId,
    amount: { amount: offer.amount, currency: offer.currency },
    ...over,
  };
}

/** The statuses `PUT /:id` may set. */
export const PUT_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const satisfies readonly PaymentStatus[];
/** Settled states: only the chain-verified release/refund confirm reaches them, never `PUT /:id`. */
export const SETTLED_STATUSES = ['released', 'refunded'] as const satisfies readonly PaymentStatus[];
/** Where a transaction hash may still be attached. */
export const OPEN_STATUSES = ['pending', 'processing'] as const satisfies readonly PaymentStatus[];

/** The escrow state an inbound payment in this status has. */
export const ESCROW_OF: Record<PaymentStatus, EscrowState> = {
  pending: 'unfunded',
  processing: 'unfunded',
  completed: 'funded',
  failed: 'unfunded',
  cancelled: 'unfunded',
  released: 'released',
  refunded: 'refunded',
};

/** The way an inbound payment reaches each status, from its creation. */
const PATH_TO: Record<PaymentStatus, PaymentStatus[]> = {
  pending: ['pending'],
  processing: ['pending', 'processing'],
  completed: ['pending', 'completed'],
  failed: ['pending', 'failed'],
  cancelled: ['pending', 'cancelled'],
  released: ['pending', 'completed', 'released'],
  refunded: ['pending', 'completed', 'refunded'],
};

/**
 * Fields of a fixture payment already in `status`, with the matching escrow state and a history
 * that leads there. This is how tests get released/refunded payments: no API call can set them.
 */
export function inState(status: PaymentStatus): Pick<PaymentRecord, 'status' | 'escrowState' | 'history'> {
  const at = new Date(Date.now() - 60_000);
  const path = PATH_TO[status];
  const history: HistoryEntry[] = path.map((to, i) => ({
    fromStatus: i === 0 ? null : path[i - 1]!,
    toStatus: to,
    fromEscrow: i === 0 ? null : ESCROW_OF[path[i - 1]!],
    toEscrow: ESCROW_OF[to],
    source: 'fixture',
    actor: 'system',
    at,
    reason: null,
  }));
  return { status, escrowState: ESCROW_OF[status], history };
}

/** An app with a marketplace and one payment between buyer-1 and seller-1, inserted directly. */
export async function appWithPayment(over: Partial<PaymentRecord> = {}, opts: TestWorldOptions & { listen?: false } = {}) {
  const t = await startTestWorld(opts);
  const market = await seedMarketplace(t.store);
  const p = payment({ purchaseRequestId: market.request.id, sellerOfferId: market.offer.id, ...over });
  await t.store.payments.insertOne(p);
  return { ...t, ...market, payment: p };
}

/** Asserts the error envelope, status and code. */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({
    status,
    body: { success: false, error: { code, message: expect.any(String) } },
  });
  expect(Object.keys(res.body).sort()).toEqual(['error', 'success']);
}

/**
 * Runs a request that must be refused, and asserts that it changed nothing in the store and
 * announced nothing.
 */
export async function expectRefused(
  t: { store: Store; events: RecordingEvents },
  send: () => Promise<Response>,
  status: number,
  code: string,
): Promise<Response> {
  const before = await snapshot(t.store);
  const emitted = t.events.emitted.length;
  const res = await send();
  expectError(res, status, code);
  expect(await snapshot(t.store)).toEqual(before);
  expect(t.events.emitted.slice(emitted)).toEqual([]);
  return res;
}

/** A minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF or LF line ends). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** supertest parser that keeps a body as text whatever its content type (for attachments). */
export function textParser(res: Response, cb: (err: Error | null, body: unknown) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  let data = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (data += chunk));
  stream.on('end', () => cb(null, data));
}
