import { describe, expect, it } from 'vitest';
import { normaliseInvoiceCallback } from '../../src/adapters/shkeeper/webhookPayload.js';

const TX = `0x${'ab'.repeat(32)}`;
const paid = {
  external_id: 'inv-1',
  crypto: 'BNB-USDT',
  addr: '0x3333333333333333333333333333333333333333',
  fiat: 'USD',
  balance_fiat: '10',
  balance_crypto: '10',
  paid: true,
  status: 'PAID',
  transactions: [{ txid: TX.toUpperCase().replace('0X', '0x'), crypto: 'BNB-USDT', amount_crypto: '10', trigger: true }],
};
const unconfirmed = { external_id: 7, crypto: 'BNB-USDT', addr: paid.addr, amount: '10', status: 'unconfirmed', txid: TX };

/** SHKeeper's two callback shapes (../shared/spec/shkeeper-api.md §5.3, §5.4), told apart by `status`. */
describe('normaliseInvoiceCallback', () => {
  it('reads a paid callback as a paid action keyed by its trigger transaction, the txid in its one spelling', () => {
    const r = normaliseInvoiceCallback(paid);
    expect(r.ok && r.event.action).toEqual({ kind: 'paid', status: 'PAID' });
    expect(r.ok && r.event.dedupeKey).toBe(`inv-1:${TX}:BNB-USDT`);
  });

  it('reads an unconfirmed callback as an unconfirmed action with a key of its own', () => {
    const r = normaliseInvoiceCallback(unconfirmed);
    expect(r.ok && r.event.action).toEqual({ kind: 'unconfirmed', status: 'unconfirmed' });
    expect(r.ok && r.event.dedupeKey).toBe(`7:${TX}:BNB-USDT:unconfirmed`);
  });

  it('reports a body claiming to be unconfirmed against the unconfirmed shape', () => {
    const { txid: _omitted, ...noTxid } = unconfirmed;
    const r = normaliseInvoiceCallback(noTxid);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^txid:/);
  });

  it('reports any other status against the invoice shape, naming the statuses allowed', () => {
    const r = normaliseInvoiceCallback({ ...paid, status: 'REFUNDED' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^status:.*PAID/);
    expect(normaliseInvoiceCallback(null).ok).toBe(false);
    expect(normaliseInvoiceCallback([paid]).ok).toBe(false);
  });
});
