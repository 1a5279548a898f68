import { randomBytes } from 'node:crypto';
import { getAddress } from 'ethers';
import { parseDec, type Dec } from './decimal.js';

/** An error SHKeeper reports in a body: `{"status":"error","message":…}` with the given HTTP code. */
export class ShkError extends Error {
  constructor(
    message: string,
    readonly httpStatus = 200,
    /** Caught exceptions also carry a Python `traceback` in the body. */
    readonly withTraceback = false,
  ) {
    super(message);
  }

  body(): Record<string, string> {
    return {
      status: 'error',
      message: this.message,
      ...(this.withTraceback ? { traceback: `Traceback (most recent call last):\n  File "shkeeper/api_v1.py", line 1, in fake\n${this.message}\n` } : {}),
    };
  }
}

export type PyDict = Record<string, unknown>;

/** `req[key]` in Python: a KeyError prints as the quoted key, e.g. `'callback_url'`. */
export function pyKey(req: PyDict, key: string, httpStatus: number, withTraceback: boolean): unknown {
  if (!(key in req) || req[key] === undefined) throw new ShkError(`'${key}'`, httpStatus, withTraceback);
  return req[key];
}

/** What subscripting a JSON value that is not an object raises in Python. */
export function asPyDict(value: unknown, httpStatus: number, withTraceback: boolean): PyDict {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as PyDict;
  const type = Array.isArray(value) ? 'list' : value === null ? 'NoneType' : typeof value === 'string' ? 'str' : typeof value === 'number' ? 'int' : 'bool';
  const message =
    type === 'list'
      ? 'list indices must be integers or slices, not str'
      : type === 'str'
        ? 'string indices must be integers'
        : `'${type}' object is not subscriptable`;
  throw new ShkError(message, httpStatus, withTraceback);
}

/** `Decimal(value)`: a JSON number or a decimal text; anything else is Python's ConversionSyntax. */
export function pyDecimal(value: unknown, httpStatus: number, withTraceback: boolean): { dec: Dec; text: string } {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : undefined;
  const d = text === undefined ? undefined : parseDec(text);
  if (!d || text === undefined) {
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ShkError(`conversion from ${value === null ? 'NoneType' : typeof value} to Decimal is not supported`, httpStatus, withTraceback);
    }
    throw new ShkError("[<class 'decimal.ConversionSyntax'>]", httpStatus, withTraceback);
  }
  return { dec: d, text: text.trim() };
}

export const pyStr = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Python `str(datetime)` of a UTC time, without microseconds: `2024-06-25 15:45:38`. */
export const pyDate = (d: Date): string => d.toISOString().slice(0, 19).replace('T', ' ');

const TRON_CRYPTOS = new Set(['TRX', 'USDT', 'USDC']);
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A fresh deposit address that looks like the chain's: `T…` for Tron, checksummed 0x… otherwise. */
export function randomAddress(crypto: string): string {
  if (TRON_CRYPTOS.has(crypto)) {
    return 'T' + [...randomBytes(33)].map((b) => BASE58[b % BASE58.length]).join('');
  }
  return getAddress('0x' + randomBytes(20).toString('hex'));
}

export const randomTxid = (): string => '0x' + randomBytes(32).toString('hex');
