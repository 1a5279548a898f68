import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS } from '../../src/features/controller/paymentReports.js';
import type { PaymentRecord, PaymentStatus } from '../../src/core/store/records.js';
import { payment } from '../helpers/fixtures.js';
import { expectError, parseCsv, textParser } from '../helpers/controllerKit.js';
import { startTestWorld } from '../helpers/testWorld.js';

const STATUSES: PaymentStatus[] = ['pending', 'completed', 'failed', 'released'];

/** `n` payments of buyer-1 with distinct creation times, plus one of strangers. */
async function many(n: number) {
  const t = await startTestWorld();
  const base = Date.UTC(2025, 2, 1);
  const rows: PaymentRecord[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(base + i * 1000);
    const p = payment({
      status: STATUSES[i % STATUSES.length],
      amount: { amount: `${i + 1}.${String(i).padStart(3, '0')}`.replace(/\.?0+$/, '') || '1', currency: i % 5 === 0 ? 'BUSD' : 'USDT' },
      externalId: i % 7 === 0 ? `AMN_${i}, "quoted"` : null,
      blockchain: i % 3 === 0 ? null : { network: 'bsc', token: 'USDT' },
      metadata: { i },
      createdAt: at,
      updatedAt: at,
    });
    await t.store.payments.insertOne(p);
    rows.push(p);
  }
  await t.store.payments.insertOne(payment({ buyerId: 'x', sellerId: 'y' }));
  return { ...t, rows };
}

const csvCells = (p: PaymentRecord) => [
  p.id,
  p.createdAt.toISOString(),
  p.updatedAt.toISOString(),
  p.status,
  p.escrowState,
  p.provider,
  p.direction,
  p.purchaseRequestId,
  p.sellerOfferId ?? '',
  p.buyerId,
  p.sellerId ?? '',
  p.amount.amount,
  p.amount.currency,
  p.blockchain?.network ?? '',
  p.blockchain?.token ?? '',
  p.transactionHash ?? '',
  p.externalId ?? '',
];

const getCsv = (t: Awaited<ReturnType<typeof many>>, path: string, bearer: string) =>
  t.http().get(path).set('Authorization', bearer).buffer(true).parse(textParser);

describe('GET /api/payment/export and /export/:userId', () => {
  it('exports a few hundred rows as CSV that parse back to the same rows, oldest first', async () => {
    const t = await many(300);
    const res = await getCsv(t, '/api/payment/export?format=csv', t.bearer('buyer-1'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="payments-buyer-1-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const [header, ...rows] = parseCsv(res.body as string);
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(300);
    expect(rows).toEqual(t.rows.map(csvCells));
  });

  it('exports the same rows as a JSON array of payment views, by default', async () => {
    const t = await many(300);
    const res = await t.http().get('/api/payment/export').set('Authorization', t.bearer('buyer-1'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json; charset=utf-8/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="payments-buyer-1-\d{4}-\d{2}-\d{2}\.json"$/);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body).toHaveLength(300);
    const byId = new Map(t.rows.map((p) => [p.id, p]));
    expect(res.body.map((r: { id: string }) => r.id)).toEqual(t.rows.map((p) => p.id));
    for (const r of res.body as Record<string, unknown>[]) {
      const p = byId.get(r.id as string)!;
      expect(r).toMatchObject({ status: p.status, amount: p.amount, blockchain: p.blockchain, externalId: p.externalId, metadata: p.metadata });
      expect(r).not.toHaveProperty('history');
    }
  });

  it('filters an export by status', async () => {
    const t = await many(20);
    const json = await t.http().get('/api/payment/export?format=json&status=failed,released').set('Authorization', t.bearer('buyer-1'));
    expect(json.body.map((r: { status: string }) => r.status)).toEqual(
      t.rows.filter((p) => p.status === 'failed' || p.status === 'released').map((p) => p.status),
    );
    const csv = await getCsv(t, '/api/payment/export?format=csv&status=pending', t.bearer('buyer-1'));
    expect(parseCsv(csv.body as string).slice(1)).toEqual(t.rows.filter((p) => p.status === 'pending').map(csvCells));
  });

  it('exports an empty list as [] and as a CSV with only the header row', async () => {
    const t = await many(3);
    const json = await t.http().get('/api/payment/export').set('Authorization', t.bearer('nobody'));
    expect(json.status).toBe(200);
    expect(json.body).toEqual([]);
    const csv = await getCsv(t, '/api/payment/export?format=csv', t.bearer('nobody'));
    expect(parseCsv(csv.body as string)).toEqual([[...CSV_COLUMNS]]);
  });

  it('neutralises cells that a spreadsheet would run as formulas', async () => {
    const t = await startTestWorld();
    const evil = payment({ buyerId: '=HYPERLINK("http://x")', sellerId: '+SUM(A1)', externalId: '-2+3', status: 'completed' });
    const evil2 = payment({ buyerId: '=HYPERLINK("http://x")', sellerId: '@cmd', externalId: '\t=1', createdAt: new Date(Date.now() + 1000) });
    await t.store.payments.insertOne(evil);
    await t.store.payments.insertOne(evil2);
    const res = await t.http().get('/api/payment/export?format=csv').set('Authorization', t.bearer('=HYPERLINK("http://x")')).buffer(true).parse(textParser);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/filename="payments-_HYPERLINK__http___x__-[\d-]+\.csv"$/);
    const rows = parseCsv(res.body as string).slice(1);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    expect(rows.map((r) => [r[col('buyerId')], r[col('sellerId')], r[col('externalId')]])).toEqual([
      [`'=HYPERLINK("http://x")`, `'+SUM(A1)`, `'-2+3`],
      [`'=HYPERLINK("http://x")`, `'@cmd`, `'\t=1`],
    ]);
    // The JSON export carries the values as they are: JSON is not run by spreadsheets.
    const json = await t.http().get('/api/payment/export').set('Authorization', t.bearer('=HYPERLINK("http://x")'));
    expect(json.body.map((r: { sellerId: string }) => r.sellerId)).toEqual(['+SUM(A1)', '@cmd']);
  });

  it("lets the user export via /export/<self> and an admin export anyone's payments", async () => {
    const t = await many(5);
    const self = await t.http().get('/api/payment/export/buyer-1').set('Authorization', t.bearer('buyer-1'));
    expect(self.status).toBe(200);
    expect(self.body).toHaveLength(5);
    const admin = await getCsv(t, '/api/payment/export/seller-1?format=csv', t.bearer('ops', { admin: true }));
    expect(admin.status).toBe(200);
    expect(admin.headers['content-disposition']).toContain('payments-seller-1-');
    expect(parseCsv(admin.body as string)).toHaveLength(6);
  });

  it("refuses another user's export with 403, counterparties included", async () => {
    const t = await many(2);
    expectError(await t.http().get('/api/payment/export/buyer-1').set('Authorization', t.bearer('seller-1')), 403, 'forbidden_user');
    const res = await t.http().get('/api/payment/export/buyer-1?format=csv').set('Authorization', t.bearer('stranger'));
    expectError(res, 403, 'forbidden_user');
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('refuses an unknown format, a bad status or a malformed user id with 400', async () => {
    const t = await many(2);
    for (const q of ['format=xml', 'format=CSV', 'format=', 'status=nope']) {
      const res = await t.http().get(`/api/payment/export?${q}`).set('Authorization', t.bearer('buyer-1'));
      expectError(res, 400, 'validation_error');
      expect(res.headers['content-disposition']).toBeUndefined();
    }
    const bad = await t
      .http()
      .get(`/api/payment/export/${encodeURIComponent('a/b')}`)
      .set('Authorization', t.bearer('ops', { admin: true }));
    expectError(bad, 400, 'validation_error');
  });
});
