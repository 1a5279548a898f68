/**
 * Exact decimal arithmetic for the fake, standing in for Python's `Decimal`: values are rationals
 * of bigints, so nothing is lost until a value is printed, and printing rounds half-to-even as
 * Python's default context does.
 */
export interface Dec {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses what `Decimal(str)` accepts (plain or exponent notation); undefined otherwise. */
export function parseDec(text: string): Dec | undefined {
  const m = DECIMAL_RE.exec(text.trim());
  if (!m) return undefined;
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  let num = BigInt(int + frac || '0');
  let den = 10n ** BigInt(frac.length);
  const e = Number(exp);
  if (e > 0) num *= 10n ** BigInt(e);
  if (e < 0) den *= 10n ** BigInt(-e);
  return norm(sign === '-' ? -num : num, den);
}

export function dec(text: string | number): Dec {
  const d = parseDec(String(text));
  if (!d) throw new RangeError(`not a decimal: ${text}`);
  return d;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x === 0n ? 1n : x;
}

function norm(num: bigint, den: bigint): Dec {
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

export const ZERO: Dec = { num: 0n, den: 1n };
export const add = (a: Dec, b: Dec): Dec => norm(a.num * b.den + b.num * a.den, a.den * b.den);
export const sub = (a: Dec, b: Dec): Dec => norm(a.num * b.den - b.num * a.den, a.den * b.den);
export const mul = (a: Dec, b: Dec): Dec => norm(a.num * b.num, a.den * b.den);
export function div(a: Dec, b: Dec): Dec {
  if (b.num === 0n) throw new RangeError('division by zero');
  return norm(a.num * b.den, a.den * b.num);
}
export const cmp = (a: Dec, b: Dec): -1 | 0 | 1 => {
  const d = a.num * b.den - b.num * a.den;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};
export const max = (a: Dec, b: Dec): Dec => (cmp(a, b) >= 0 ? a : b);
export const min = (a: Dec, b: Dec): Dec => (cmp(a, b) <= 0 ? a : b);

/** Rounds half-to-even to `places` decimals (Python `round(Decimal, places)`). */
export function round(d: Dec, places: number): Dec {
  const scale = 10n ** BigInt(places);
  const scaled = d.num * scale;
  const neg = scaled < 0n;
  const abs = neg ? -scaled : scaled;
  let q = abs / d.den;
  const r = abs % d.den;
  if (r * 2n > d.den || (r * 2n === d.den && q % 2n === 1n)) q += 1n;
  return norm(neg ? -q : q, scale);
}

/** Prints with exactly `places` decimals, e.g. `fixed(1.5, 2)` → "1.50". */
export function fixed(d: Dec, places: number): string {
  const r = round(d, places);
  const scale = 10n ** BigInt(places);
  const units = (r.num * scale) / r.den;
  const neg = units < 0n;
  const digits = (neg ? -units : units).toString().padStart(places + 1, '0');
  const int = digits.slice(0, digits.length - places);
  const frac = digits.slice(digits.length - places);
  return `${neg ? '-' : ''}${int}${places > 0 ? `.${frac}` : ''}`;
}

/** SHKeeper's `remove_exponent`: `'%.10f' % d`, then trailing zeros and a trailing '.' stripped. */
export function removeExponent(d: Dec): string {
  const s = fixed(d, 10).replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** The number of decimals a decimal text carries ("2.50" → 2). */
export function scaleOf(text: string): number {
  const frac = /\.(\d*)/.exec(text)?.[1] ?? '';
  return frac.length;
}
