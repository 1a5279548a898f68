import type { CallbackStream, CallbackVariant } from './callbacks.js';
import type { FakeInvoice, FeePolicy, InvoiceStatus } from './invoices.js';

/** Options and inputs of the fake SHKeeper, with their defaults. */

export interface FakeCrypto {
  name: string;
  displayName: string;
  /** Default true. Disabled: missing from /crypto; payment_request answers "unavailable". */
  enabled?: boolean;
  /** Default false. DISABLE_CRYPTO_WHEN_LAGS with an unsynced node. */
  lagging?: boolean;
}

export interface FakeShkeeperOptions {
  apiKey?: string;
  /** The UI login for Basic auth. */
  username?: string;
  password?: string;
  cryptos?: FakeCrypto[];
  /** Configured fiats (USD, EUR + EXTRA_CURRENCIES). */
  fiats?: string[];
  /** Fiat per crypto unit: `{ 'BNB-USDT': { USD: '1' } }`; merged over the defaults. */
  rates?: Record<string, Record<string, string>>;
  feePolicy?: FeePolicy;
  feePercent?: string;
  feeFixed?: string;
  llimit?: string;
  ulimit?: string;
  /** Confirmations before a callback is sent. Default 1. */
  confirmations?: number;
  recalcHours?: number;
  /** Deposit address for a new (invoice, crypto); undefined falls back to the queue, then random. */
  addressFor?: (crypto: string, invoiceId: number, externalId: string) => string | undefined;
  /** Pause between callback attempts. Default 50 ms (SHKeeper: ~60 s). */
  callbackRetryMs?: number;
  /** Attempts per invoice-callback stream before giving up. Default 20 (SHKeeper: unlimited). */
  callbackMaxAttempts?: number;
  /** Per attempt. Default 30 s, as SHKeeper. */
  callbackTimeoutMs?: number;
  /** `UNCONFIRMED_TX_NOTIFICATION`: send the §5.4 callback for 0-confirmation payments. Default true. */
  unconfirmedTxNotification?: boolean;
  /** `ENABLE_PAYOUT_CALLBACK`. Default false, as SHKeeper. */
  payoutCallbacks?: boolean;
  /** `MAX_RETRIES` for payout callbacks. Default 7. */
  payoutCallbackMaxAttempts?: number;
  now?: () => Date;
}

export interface PaymentInput {
  /** Which invoice: by external id (plus callbackUrl when several share it), SHKeeper id, or address. */
  externalId?: string;
  callbackUrl?: string;
  invoiceId?: number;
  address?: string;
  /** The paid crypto; default the invoice's (or the address's) crypto. Another token is valued at its own rate. */
  crypto?: string;
  /** Default: exactly the invoice's quoted amount (fee included). */
  amountCrypto?: string;
  txid?: string;
  /** Default: the wallet threshold. 0 → the "unconfirmed" path (§4 step 2). */
  confirmations?: number;
  callback?: CallbackVariant;
}

export interface PaymentResult {
  invoice: FakeInvoice;
  txid: string;
  crypto: string;
  addr: string;
  status: InvoiceStatus;
  balanceFiat: string;
  /** The callback stream started by this payment, if any. */
  stream?: CallbackStream;
}

export const DEFAULT_CRYPTOS: FakeCrypto[] = (
  [
    ['BNB-USDT', 'BEP20 USDT'],
    ['BNB-USDC', 'BEP20 USDC'],
    ['BNB', 'BNB'],
    ['USDT', 'TRC20 USDT'],
    ['USDC', 'TRC20 USDC'],
    ['TRX', 'Tron TRX'],
    ['ETH', 'Ethereum'],
    ['ETH-USDT', 'ERC20 USDT'],
    ['ETH-USDC', 'ERC20 USDC'],
    ['BTC', 'Bitcoin'],
  ] as const
).map(([name, displayName]) => ({ name, displayName }));
/** Fiat (USD) per unit; unlisted cryptos (stablecoins) are 1. EUR is USD × 0.92 unless configured. */
export const DEFAULT_USD_RATES: Record<string, string> = { BNB: '600', ETH: '3000', TRX: '0.12', BTC: '60000', MATIC: '0.5', XMR: '150' };
