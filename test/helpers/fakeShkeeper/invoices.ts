import { asPyDict, pyDate, pyDecimal, pyKey, pyStr, ShkError } from './common.js';
import { add, cmp, dec, div, fixed, max, min, mul, removeExponent, round, sub, ZERO, type Dec } from './decimal.js';

/**
 * Invoices as SHKeeper keeps them (spec §3, §4; S-models `Invoice.add`, `update_with_tx`,
 * `Transaction.add`). Amounts are exact decimals; they are printed only when a body is built.
 */

export type InvoiceStatus = 'UNPAID' | 'PARTIAL' | 'PAID' | 'OVERPAID';
export type FeePolicy = 'NO_FEE' | 'PERCENT_FEE' | 'FIXED_FEE' | 'PERCENT_OR_MINIMAL_FIXED_FEE';

export interface InvoiceSettings {
  fiats: string[];
  /** Fiat per 1 unit of crypto. */
  rate(crypto: string, fiat: string): Dec;
  fee: { policy: FeePolicy; percent: Dec; fixed: Dec };
  wallet: { llimit: Dec; ulimit: Dec; confirmations: number; recalcHours: number };
  precision(crypto: string): number;
  /** The deposit address for a new (invoice, crypto) pair. */
  newAddress(crypto: string, invoiceId: number, externalId: string): string;
  now(): Date;
}

export interface FakeTx {
  id: number;
  txid: string;
  crypto: string;
  addr: string;
  amountCrypto: Dec;
  amountFiat: Dec;
  confirmations: number;
  needMoreConfirmations: boolean;
  callbackConfirmed: boolean;
  createdAt: Date;
}

export interface FakeUnconfirmedTx {
  txid: string;
  crypto: string;
  addr: string;
  amountCrypto: Dec;
}

export interface FakeInvoice {
  id: number;
  externalId: string;
  callbackUrl: string;
  fiat: string;
  crypto: string;
  addr: string;
  /** Every address ever generated for this invoice, by crypto (SHKeeper's `InvoiceAddress`). */
  addresses: Map<string, string>;
  amountFiat: Dec;
  amountCrypto: Dec;
  exchangeRate: Dec;
  balanceFiat: Dec;
  balanceCrypto: Dec;
  status: InvoiceStatus;
  txs: FakeTx[];
  unconfirmed: FakeUnconfirmedTx[];
  createdAt: Date;
}

export class InvoiceBook {
  readonly invoices: FakeInvoice[] = [];
  private nextTxId = 1;

  constructor(private readonly s: InvoiceSettings) {}

  /** `POST /<crypto>/payment_request` after auth and the crypto check. */
  upsert(crypto: string, json: unknown): FakeInvoice {
    const req = asPyDict(json, 200, true);
    const externalId = pyStr(pyKey(req, 'external_id', 200, true));
    const callbackUrl = pyStr(pyKey(req, 'callback_url', 200, true));
    const fiat = pyStr(pyKey(req, 'fiat', 200, true));
    const amountFiat = pyDecimal(pyKey(req, 'amount', 200, true), 200, true).dec;
    if (!this.s.fiats.includes(fiat)) throw new ShkError(`Exchange rate src config for ${fiat}-${crypto} is not found`, 200, true);
    const { amountCrypto, rate } = this.convert(amountFiat, crypto, fiat);

    let inv = this.invoices.find((i) => i.externalId === externalId && i.callbackUrl === callbackUrl && i.fiat === fiat);
    if (!inv) {
      const id = this.invoices.length + 1;
      const addr = this.s.newAddress(crypto, id, externalId);
      inv = {
        id,
        externalId,
        callbackUrl,
        fiat,
        crypto,
        addr,
        addresses: new Map([[crypto, addr]]),
        amountFiat,
        amountCrypto,
        exchangeRate: rate,
        balanceFiat: ZERO,
        balanceCrypto: ZERO,
        status: 'UNPAID',
        txs: [],
        unconfirmed: [],
        createdAt: this.s.now(),
      };
      this.invoices.push(inv);
      return inv;
    }
    if (inv.crypto !== crypto) {
      inv.crypto = crypto;
      const known = inv.addresses.get(crypto);
      inv.addr = known ?? this.s.newAddress(crypto, inv.id, externalId);
      if (!known) inv.addresses.set(crypto, inv.addr);
    }
    // Re-quoted at the current rate; status and balance stay as they are (§3.3).
    Object.assign(inv, { amountFiat, amountCrypto, exchangeRate: rate });
    return inv;
  }

  /** `ExchangeRate.convert`: (amount + fee) / rate, rounded to the crypto's precision. */
  convert(amountFiat: Dec, crypto: string, fiat: string): { amountCrypto: Dec; rate: Dec } {
    const rate = this.s.rate(crypto, fiat);
    return { amountCrypto: round(div(add(amountFiat, this.fee(amountFiat)), rate), this.s.precision(crypto)), rate };
  }

  private fee(amount: Dec): Dec {
    const { policy, percent, fixed: fixedFee } = this.s.fee;
    const pct = mul(amount, div(percent, dec(100)));
    if (policy === 'NO_FEE') return ZERO;
    if (policy === 'PERCENT_FEE') return pct;
    if (policy === 'FIXED_FEE') return fixedFee;
    return max(pct, fixedFee);
  }

  /** `ExchangeRate.get_orig_amount`: the fiat value of a payment without the fee markup. */
  private withoutFee(amountWithFee: Dec): Dec {
    const { policy, percent, fixed: fixedFee } = this.s.fee;
    if (policy === 'NO_FEE') return amountWithFee;
    const noPercent = div(mul(amountWithFee, dec(100)), add(dec(100), percent));
    if (policy === 'PERCENT_FEE') return noPercent;
    if (policy === 'FIXED_FEE') return sub(amountWithFee, fixedFee);
    return min(noPercent, sub(amountWithFee, fixedFee));
  }

  byId(id: number): FakeInvoice | undefined {
    return this.invoices.find((i) => i.id === id);
  }

  /** The invoice a payment to `addr` in `crypto` is credited to (`Transaction.add`). */
  byAddress(crypto: string, addr: string): FakeInvoice | undefined {
    return this.invoices.find((i) => i.addresses.get(crypto) === addr) ?? this.invoices.find((i) => i.addr === addr);
  }

  /** A transaction with ≥ 1 confirmation: stored, and the balance and status updated at once (§4). */
  addTx(inv: FakeInvoice, t: { txid: string; crypto: string; addr: string; amount: Dec; confirmations: number }): FakeTx {
    if (inv.txs.some((x) => x.txid === t.txid && x.crypto === t.crypto)) {
      throw new Error(`fake SHKeeper: transaction ${t.crypto}/${t.txid} is already recorded on invoice ${inv.id}`);
    }
    if (this.s.wallet.recalcHours > 0 && inv.createdAt.getTime() + this.s.wallet.recalcHours * 3_600_000 < this.s.now().getTime()) {
      const q = this.convert(inv.amountFiat, inv.crypto, inv.fiat);
      inv.amountCrypto = q.amountCrypto;
      inv.exchangeRate = q.rate;
    }
    const rate = t.crypto === inv.crypto ? inv.exchangeRate : this.s.rate(t.crypto, inv.fiat);
    const tx: FakeTx = {
      id: this.nextTxId++,
      txid: t.txid,
      crypto: t.crypto,
      addr: t.addr,
      amountCrypto: t.amount,
      amountFiat: mul(t.amount, rate),
      confirmations: t.confirmations,
      needMoreConfirmations: t.confirmations < this.s.wallet.confirmations,
      callbackConfirmed: false,
      createdAt: this.s.now(),
    };
    inv.txs.push(tx);
    inv.unconfirmed = inv.unconfirmed.filter((u) => !(u.txid === t.txid && u.crypto === t.crypto));
    inv.balanceFiat = add(inv.balanceFiat, tx.amountFiat);
    if (tx.crypto === inv.crypto) inv.balanceCrypto = add(inv.balanceCrypto, tx.amountCrypto);
    const pct = (limit: Dec) => mul(inv.amountFiat, div(limit, dec(100)));
    if (cmp(inv.balanceFiat, pct(this.s.wallet.llimit)) < 0) inv.status = 'PARTIAL';
    else if (cmp(inv.balanceFiat, pct(this.s.wallet.ulimit)) < 0) inv.status = 'PAID';
    else inv.status = 'OVERPAID';
    return tx;
  }

  /** The §5.3 payment callback for `trigger`, built from the invoice as it is now (§5.6). */
  callbackPayload(inv: FakeInvoice, trigger: FakeTx): Record<string, unknown> {
    const overpaid = sub(inv.balanceFiat, mul(inv.amountFiat, div(this.s.wallet.ulimit, dec(100))));
    return {
      external_id: inv.externalId,
      crypto: inv.crypto,
      addr: inv.addr,
      fiat: inv.fiat,
      balance_fiat: removeExponent(inv.balanceFiat),
      balance_crypto: removeExponent(inv.balanceCrypto),
      paid: inv.status === 'PAID' || inv.status === 'OVERPAID',
      status: inv.status,
      transactions: inv.txs.map((t) => {
        const withoutFee = this.withoutFee(t.amountFiat);
        return {
          txid: t.txid,
          date: pyDate(t.createdAt),
          amount_crypto: removeExponent(t.amountCrypto),
          amount_fiat: removeExponent(t.amountFiat),
          amount_fiat_without_fee: removeExponent(withoutFee),
          fee_fiat: removeExponent(sub(t.amountFiat, withoutFee)),
          trigger: t.id === trigger.id,
          crypto: t.crypto,
        };
      }),
      fee_percent: removeExponent(this.s.fee.percent),
      fee_fixed: removeExponent(this.s.fee.fixed),
      fee_policy: this.s.fee.policy,
      overpaid_fiat: cmp(overpaid, ZERO) > 0 ? fixed(overpaid, 2) : '0.00',
    };
  }

  /** The §5.4 "unconfirmed" variant. */
  unconfirmedPayload(inv: FakeInvoice, u: FakeUnconfirmedTx): Record<string, unknown> {
    return {
      status: 'unconfirmed',
      external_id: inv.externalId,
      crypto: u.crypto,
      addr: u.addr,
      txid: u.txid,
      amount: removeExponent(round(u.amountCrypto, this.s.precision(u.crypto))),
    };
  }

  /** `Invoice.for_response` plus `status` (§3.1). */
  forResponse(inv: FakeInvoice, displayName: string): Record<string, unknown> {
    return {
      status: 'success',
      id: inv.id,
      exchange_rate: removeExponent(inv.exchangeRate),
      amount: removeExponent(inv.amountCrypto),
      wallet: inv.addr,
      recalculate_after: this.s.wallet.recalcHours,
      display_name: displayName,
    };
  }

  /** `Invoice.to_json` for `GET /invoices/<external_id>` (§7). */
  toJson(inv: FakeInvoice): Record<string, unknown> {
    return {
      txs: [
        ...inv.txs.map((t) => ({ amount: removeExponent(t.amountCrypto), crypto: t.crypto, addr: t.addr, txid: t.txid, status: 'CONFIRMED' })),
        ...inv.unconfirmed.map((u) => ({ amount: removeExponent(u.amountCrypto), crypto: u.crypto, addr: u.addr, txid: u.txid, status: 'UNCONFIRMED' })),
      ],
      external_id: inv.externalId,
      balance_fiat: removeExponent(inv.balanceFiat),
      fiat: inv.fiat,
      amount_fiat: removeExponent(inv.amountFiat),
      status: inv.status,
    };
  }
}
