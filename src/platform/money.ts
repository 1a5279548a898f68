import { formatUnits, parseUnits } from 'ethers';

/**
 * Money at the API is a decimal string; on chain it is bigint base units. Sums are done in
 * bigint at a fixed scale so that 0.1 + 0.2 is exactly 0.3. Nothing here ever touches a float
 * except `decimalFromJsonNumber`, which refuses numbers that a float cannot hold exactly.
 */

/** The largest number of fraction digits an amount may carry (ERC-20 tokens go up to 18). */
export const MAX_DECIMALS = 18;
/** Any non-negative decimal with at most 18 fraction digits: sums may grow past an input's size. */
const DECIMAL_RE = /^(0|[1-9]\d*)(\.\d{1,18})?$/;
/**
 * What a client may send: at most 12 integer digits. With 18 decimals that is 30 significant
 * digits, inside the 34 that MongoDB's Decimal128 sums exactly.
 */
const AMOUNT_RE = /^(0|[1-9]\d{0,11})(\.\d{1,18})?$/;

export function isDecimalString(v: string): boolean {
  return DECIMAL_RE.test(v);
}

export function isAmountString(v: string): boolean {
  return AMOUNT_RE.test(v);
}

/** Strips trailing zeros so equal amounts compare equal as strings: "1.50" → "1.5", "2.0" → "2". */
export function normalizeDecimal(v: string): string {
  if (!isDecimalString(v)) throw new RangeError(`not a decimal amount: ${v}`);
  if (!v.includes('.')) return v;
  const trimmed = v.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed;
}

/**
 * JSON numbers arrive as floats. `String(n)` gives the shortest decimal that round-trips, which
 * is what the client typed as long as it has ≤ 15 significant digits; beyond that, or with an
 * exponent, we cannot know what was meant, so we refuse and ask for a string.
 */
export function decimalFromJsonNumber(n: number): string | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  const s = String(n);
  if (/e/i.test(s)) return undefined;
  const digits = s.replace('.', '').replace(/^0+/, '');
  if (digits.length > 15) return undefined;
  return isAmountString(s) ? normalizeDecimal(s) : undefined;
}

export function toBaseUnits(amount: string, decimals: number): bigint {
  // parseUnits would take "-1.5" and yield negative units; an amount is never negative.
  if (!isDecimalString(amount)) throw new RangeError(`not a decimal amount: ${amount}`);
  // Trailing zeros carry no value: "1.1000000" fits a 6-decimal token as well as "1.1" does.
  const [, frac = ''] = amount.split('.');
  if (frac.replace(/0+$/, '').length > decimals) throw new RangeError(`${amount} has more than ${decimals} decimals`);
  return parseUnits(amount, decimals);
}

export function fromBaseUnits(units: bigint, decimals: number): string {
  return normalizeDecimal(formatUnits(units, decimals));
}

export function addDecimals(...values: string[]): string {
  let total = 0n;
  for (const v of values) total += toBaseUnits(normalizeDecimal(v), MAX_DECIMALS);
  return fromBaseUnits(total, MAX_DECIMALS);
}

export function compareDecimals(a: string, b: string): -1 | 0 | 1 {
  const x = toBaseUnits(normalizeDecimal(a), MAX_DECIMALS);
  const y = toBaseUnits(normalizeDecimal(b), MAX_DECIMALS);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a − b, refused when it would be negative (money held is never below zero). */
export function subtractDecimals(a: string, b: string): string {
  const x = toBaseUnits(normalizeDecimal(a), MAX_DECIMALS);
  const y = toBaseUnits(normalizeDecimal(b), MAX_DECIMALS);
  if (y > x) throw new RangeError(`${a} - ${b} is negative`);
  return fromBaseUnits(x - y, MAX_DECIMALS);
}

export function minDecimal(a: string, b: string): string {
  return compareDecimals(a, b) <= 0 ? a : b;
}

/**
 * `amount × (1 − fraction)`, rounded up at 18 decimals: the least that settles an amount due when
 * `fraction` (a decimal string in [0, 1)) of it may be missing. With fraction "0" it is the amount.
 */
export function lowerBound(amount: string, fraction: string): string {
  const scale = 10n ** BigInt(MAX_DECIMALS);
  const a = toBaseUnits(normalizeDecimal(amount), MAX_DECIMALS);
  const f = toBaseUnits(normalizeDecimal(fraction), MAX_DECIMALS);
  const product = a * (scale - f);
  const rounded = (product + scale - 1n) / scale;
  return fromBaseUnits(rounded, MAX_DECIMALS);
}

export function isPositiveDecimal(v: string): boolean {
  return isDecimalString(v) && toBaseUnits(v, MAX_DECIMALS) > 0n;
}

/**
 * MongoDB prints Decimal128 values in scientific notation outside a small range ("1E+1",
 * "1E-7"); this turns such a string into the plain normalised form the API uses.
 */
export function plainDecimal(v: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(v.trim());
  if (!m) throw new RangeError(`not a decimal: ${v}`);
  const [, sign = '', int = '', frac = '', expText = '0'] = m;
  const exp = Number(expText);
  let digits = int + frac;
  let point = int.length + exp;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  } else if (point > digits.length) {
    digits = digits + '0'.repeat(point - digits.length);
  }
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const fraction = digits.slice(point).replace(/0+$/, '');
  const out = fraction ? `${whole}.${fraction}` : whole;
  return sign && out !== '0' ? `-${out}` : out;
}
