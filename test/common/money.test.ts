import { describe, expect, it } from 'vitest';
import {
  addDecimals,
  compareDecimals,
  decimalFromJsonNumber,
  fromBaseUnits,
  isAmountString,
  isDecimalString,
  isPositiveDecimal,
  MAX_DECIMALS,
  normalizeDecimal,
  plainDecimal,
  toBaseUnits,
} from '../../src/platform/money.js';

/** Money is where floats would silently lose cents; every awkward input has to be exact or refused. */

describe('decimal strings', () => {
  it('adds 0.1 and 0.2 to exactly 0.3', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(compareDecimals(addDecimals('0.1', '0.2'), '0.3')).toBe(0);
  });

  it('keeps all 18 decimals through a sum', () => {
    expect(addDecimals('0.000000000000000001', '0.000000000000000002')).toBe('0.000000000000000003');
    expect(addDecimals('999999999999999999.999999999999999999', '0.000000000000000001')).toBe('1000000000000000000');
    expect(addDecimals('123456789012345678901234567890.123456789012345678', '1')).toBe('123456789012345678901234567891.123456789012345678');
  });

  it('normalises trailing zeros so equal amounts are equal strings', () => {
    expect(normalizeDecimal('1.50')).toBe('1.5');
    expect(normalizeDecimal('2.0')).toBe('2');
    expect(normalizeDecimal('0.000')).toBe('0');
    expect(normalizeDecimal('100')).toBe('100');
    expect(normalizeDecimal('10.010')).toBe('10.01');
    expect(addDecimals('1.5', '2.50')).toBe('4');
    expect(compareDecimals('1.10', '1.1')).toBe(0);
    expect(compareDecimals('1.09', '1.1')).toBe(-1);
    expect(compareDecimals('2', '1.999999999999999999')).toBe(1);
  });

  it('refuses more than 18 decimals instead of rounding', () => {
    expect(MAX_DECIMALS).toBe(18);
    expect(isDecimalString('0.' + '0'.repeat(17) + '1')).toBe(true);
    expect(isDecimalString('0.' + '0'.repeat(18) + '1')).toBe(false);
    expect(() => normalizeDecimal('1.0000000000000000001')).toThrow(RangeError);
    expect(() => addDecimals('1', '0.0000000000000000001')).toThrow(RangeError);
  });

  it.each(['1e3', '1E-7', '-1', '-0.5', '+1', '.5', '1.', '01', '', ' 1', '1,5', 'NaN', 'Infinity', '0x10'])('refuses %j as an amount', (v) => {
    expect(isDecimalString(v)).toBe(false);
    expect(() => normalizeDecimal(v)).toThrow(RangeError);
    expect(isPositiveDecimal(v)).toBe(false);
  });

  it('knows zero is not a positive amount but the smallest unit is', () => {
    expect(isPositiveDecimal('0')).toBe(false);
    expect(isPositiveDecimal('0.000')).toBe(false);
    expect(isPositiveDecimal('0.000000000000000001')).toBe(true);
  });
});

describe('JSON numbers', () => {
  it('accepts what a float holds exactly and normalises it', () => {
    expect(decimalFromJsonNumber(25.5)).toBe('25.5');
    expect(decimalFromJsonNumber(0.1)).toBe('0.1');
    expect(decimalFromJsonNumber(0)).toBe('0');
    expect(decimalFromJsonNumber(100)).toBe('100');
    expect(decimalFromJsonNumber(0.000001)).toBe('0.000001');
    expect(decimalFromJsonNumber(123456789012.345)).toBe('123456789012.345');
    expect(decimalFromJsonNumber(0.123456789012345)).toBe('0.123456789012345');
  });

  it('refuses the float result of 0.1 + 0.2 and anything past 15 significant digits', () => {
    expect(decimalFromJsonNumber(0.1 + 0.2)).toBeUndefined();
    expect(decimalFromJsonNumber(1234567890123456)).toBeUndefined();
    expect(decimalFromJsonNumber(1234567890123.456)).toBeUndefined();
    expect(decimalFromJsonNumber(0.1234567890123456)).toBeUndefined();
    // What JSON.parse makes of a 16-digit integer a client sent: already off by one.
    expect(decimalFromJsonNumber(JSON.parse('9007199254740993') as number)).toBeUndefined();
  });

  it('refuses numbers JavaScript prints with an exponent', () => {
    expect(String(1e-7)).toBe('1e-7');
    expect(decimalFromJsonNumber(1e-7)).toBeUndefined();
    expect(decimalFromJsonNumber(1e21)).toBeUndefined();
  });

  it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('refuses %s', (n) => {
    expect(decimalFromJsonNumber(n)).toBeUndefined();
  });
});

describe('base units', () => {
  it.each([
    ['25.5', 6, 25_500_000n],
    ['0.000001', 6, 1n],
    ['1000000', 6, 1_000_000_000_000n],
    ['0', 6, 0n],
    ['1', 18, 10n ** 18n],
    ['0.000000000000000001', 18, 1n],
    ['123456789.123456789123456789', 18, 123456789123456789123456789n],
  ] as const)('%s with %i decimals is %s units, and converts back', (amount, decimals, units) => {
    expect(toBaseUnits(amount, decimals)).toBe(units);
    expect(fromBaseUnits(units, decimals)).toBe(amount);
  });

  it('gives back the normalised form', () => {
    expect(fromBaseUnits(1_500_000n, 6)).toBe('1.5');
    expect(fromBaseUnits(2n * 10n ** 18n, 18)).toBe('2');
  });

  it('refuses an amount finer than the token can hold instead of truncating it', () => {
    expect(() => toBaseUnits('1.0000001', 6)).toThrow(RangeError);
    expect(() => toBaseUnits('0.0000000000000000001', 18)).toThrow(RangeError);
  });

  it('does not count trailing zeros as precision', () => {
    expect(toBaseUnits('1.1000000', 6)).toBe(toBaseUnits('1.1', 6));
  });

  it('refuses a negative or malformed amount', () => {
    expect(() => toBaseUnits('-1.5', 6)).toThrow(RangeError);
    expect(() => toBaseUnits('1e3', 6)).toThrow(RangeError);
  });
});

describe('plainDecimal (Decimal128 output)', () => {
  it.each([
    ['1E+1', '10'],
    ['1E-7', '0.0000001'],
    ['3.0E-1', '0.3'],
    ['-0', '0'],
    ['123.4500', '123.45'],
    ['0.3', '0.3'],
    ['4.00', '4'],
    ['1E-18', '0.000000000000000001'],
    ['1.000000000000000000000000000000000E+33', '1000000000000000000000000000000000'],
    ['1234E-2', '12.34'],
    ['0E-18', '0'],
    ['-1.50E+2', '-150'],
    ['007.10', '7.1'],
  ])('%s → %s', (input, expected) => {
    expect(plainDecimal(input)).toBe(expected);
  });

  it.each(['NaN', 'Infinity', '', '1.2.3', 'abc'])('refuses %j', (input) => {
    expect(() => plainDecimal(input)).toThrow(RangeError);
  });
});

describe('amounts a client may send', () => {
  it('stop at 12 integer digits so that MongoDB Decimal128 sums stay exact', () => {
    expect(isAmountString('999999999999.999999999999999999')).toBe(true);
    expect(isAmountString('1000000000000')).toBe(false);
    expect(decimalFromJsonNumber(1e12)).toBeUndefined();
    // Sums are not inputs: they may be larger.
    expect(addDecimals('999999999999.5', '999999999999.5')).toBe('1999999999999');
  });
});
