import { createHmac } from 'node:crypto';

/** A signed delivery: the raw body and the headers SHKeeper sends with it. */
export interface SignedDelivery {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * An invoice callback as SHKeeper ≥ 2.5.16 sends it (compact JSON, sorted keys, signed
 * HMAC-SHA256(secret, ts + "." + body); ../shared/spec/shkeeper-api.md §5.1), paying 10 USDT in
 * BNB-USDT at `address` with the 2 % fee on top: the figures every bench fixture invoice uses.
 */
export function signedInvoiceCallback(secret: string, invoice: { address: string; externalId: string }, txid: string): SignedDelivery {
  const payload = {
    addr: invoice.address,
    balance_crypto: '10.2',
    balance_fiat: '10.2',
    crypto: 'BNB-USDT',
    external_id: invoice.externalId,
    fee_fixed: '0',
    fee_percent: '2',
    fee_policy: 'PERCENT_FEE',
    fiat: 'USD',
    overpaid_fiat: '0.00',
    paid: true,
    status: 'PAID',
    transactions: [
      {
        amount_crypto: '10.2',
        amount_fiat: '10.2',
        amount_fiat_without_fee: '10',
        crypto: 'BNB-USDT',
        date: '2026-01-01 00:00:00',
        fee_fiat: '0.2',
        trigger: true,
        txid,
      },
    ],
  };
  const body = Buffer.from(JSON.stringify(payload));
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sig } };
}
