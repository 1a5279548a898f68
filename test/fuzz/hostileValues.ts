import fc from 'fast-check';

/**
 * Hostile values for one request position, and the documented rule of each kind of field (what a
 * legitimate value looks like). A generated value that the rule allows is "legal": the route may
 * accept it, so only "never a 500" is asserted for it. Every other value is hostile and must be
 * refused with a 4xx.
 */

export type Where = 'body' | 'query' | 'path';

export interface Kind {
  name: string;
  /** True when the documented rule of the field accepts the value. */
  legal: (v: unknown) => boolean;
}

const str = (re: RegExp) => (v: unknown) => typeof v === 'string' && re.test(v);
const plainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

const AMOUNT_TEXT = /^(0|[1-9]\d{0,11})(\.\d{1,18})?$/;
const positiveAmountText = (s: string) => AMOUNT_TEXT.test(s) && /[1-9]/.test(s);
const PAYMENT_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled', 'released', 'refunded'];

export const K = {
  objectId: { name: 'objectId', legal: str(/^[0-9a-f]{24}$/) },
  userId: { name: 'userId', legal: str(/^[A-Za-z0-9_.:@-]{1,128}$/) },
  /** README "Money": a positive decimal string, or a JSON number with ≤ 15 significant digits and no exponent; ≤ 18 decimals, < 10^12. */
  amount: {
    name: 'amount',
    legal: (v: unknown) => {
      if (typeof v === 'string') return positiveAmountText(v);
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return false;
      const s = String(v);
      return !/e/i.test(s) && s.replace('.', '').replace(/^0+/, '').length <= 15 && positiveAmountText(s);
    },
  },
  currency: { name: 'currency', legal: str(/^[A-Za-z][A-Za-z0-9]{1,9}$/) },
  usdt: { name: 'usdt', legal: str(/^usdt$/i) },
  bsc: { name: 'bsc', legal: str(/^(bsc|bnb|bep20)$/i) },
  network: { name: 'network', legal: str(/^[A-Za-z0-9_-]{2,32}$/) },
  token: { name: 'token', legal: str(/^[A-Za-z0-9_-]{2,64}$|^0x[0-9a-fA-F]{40}$/) },
  tokenSymbol: { name: 'tokenSymbol', legal: str(/^[A-Za-z0-9]{2,16}$/) },
  txHash: { name: 'txHash', legal: str(/^0x[0-9a-fA-F]{64}$/) },
  address: { name: 'address', legal: str(/^0x[0-9a-fA-F]{40}$/) },
  /** A 65-byte hex signature (the payer proof's EIP-712 signature). */
  signature: { name: 'signature', legal: str(/^0x[0-9a-fA-F]{130}$/) },
  bool: { name: 'bool', legal: (v: unknown) => typeof v === 'boolean' },
  metadata: { name: 'metadata', legal: (v: unknown) => plainObject(v) && metadataOk(v, 1) && Buffer.byteLength(JSON.stringify(v)) <= 16 * 1024 },
  /** A loosely checked object (`z.object` with optional string fields): anything but an object is refused. */
  looseObject: { name: 'looseObject', legal: (v: unknown) => plainObject(v) },
  decimalText: { name: 'decimalText', legal: str(/^\d+(\.\d+)?$/) },
  externalId: {
    name: 'externalId',
    legal: (v: unknown) => (typeof v === 'string' && v.length >= 1 && v.length <= 128) || (Number.isInteger(v) && (v as number) >= 0),
  },
  payoutId: { name: 'payoutId', legal: (v: unknown) => typeof v === 'string' || typeof v === 'number' },
  /** SHKeeper's invoice callback `transactions`: 1–1000 transaction objects. */
  transactions: { name: 'transactions', legal: (v: unknown) => Array.isArray(v) && v.length >= 1 && v.length <= 1000 && v.every(plainObject) },
  taskId: { name: 'taskId', legal: str(/^[A-Za-z0-9-]{1,100}$/) },
  format: { name: 'format', legal: str(/^(json|csv)$/) },
  statusList: {
    name: 'statusList',
    legal: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 200) return false;
      const parts = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return parts.length > 0 && parts.every((p) => [...PAYMENT_STATUSES, 'success'].includes(p));
    },
  },
  /** `{ amount, currency }`, nothing else. */
  money: {
    name: 'money',
    legal: (v: unknown): boolean => plainObject(v) && Object.keys(v).length === 2 && K.amount.legal(v.amount) && K.currency.legal(v.currency),
  },
  /** `{ network, token }`, nothing else. */
  blockchain: {
    name: 'blockchain',
    legal: (v: unknown): boolean => plainObject(v) && Object.keys(v).length === 2 && K.network.legal(v.network) && K.token.legal(v.token),
  },
  int: (min: number, max: number): Kind => ({ name: `int ${min}..${max}`, legal: (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max }),
  queryInt: (min: number, max: number): Kind => ({
    name: `queryInt ${min}..${max}`,
    legal: (v) => typeof v === 'string' && /^\d{1,9}$/.test(v) && Number(v) >= min && Number(v) <= max,
  }),
  oneOf: (...values: string[]): Kind => ({ name: `one of ${values.join('|')}`, legal: (v) => typeof v === 'string' && values.includes(v) }),
  freeString: (min: number, max: number): Kind => ({
    name: `string ${min}..${max}`,
    legal: (v) => typeof v === 'string' && v.length >= min && v.length <= max,
  }),
} as const;

function metadataOk(v: unknown, depth: number): boolean {
  if (depth > 6) return false;
  if (Array.isArray(v)) return v.every((x) => metadataOk(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).every(
      ([k, x]) =>
        !k.startsWith('$') &&
        !k.includes('.') &&
        !['__proto__', 'constructor', 'prototype'].includes(k) &&
        k.length > 0 &&
        k.length <= 64 &&
        metadataOk(x, depth + 1),
    );
  }
  return typeof v !== 'number' || Number.isFinite(v);
}

// ── the hostile pool ──────────────────────────────────────────────────────────────────────────

/** RTL override and mark, zero-width space/joiner, BOM, lone surrogates, NUL, combining accent, line separator, a non-character, an emoji. */
export const ODD_UNICODE = ['\u202e', '\u200f', '\u200b', '\u200d', '\ufeff', '\ud800', '\udfff', '\u0000', '\u0301', '\u2028', '\uffff', '\u{1F642}'];

const NUMERIC_STRINGS = [
  '1e3',
  '1E-7',
  '-1e3',
  '1e400',
  '2.5e1',
  '-1',
  '-0',
  '0',
  '0.0',
  '00',
  '01',
  '+1',
  ' 1',
  '1 ',
  '0x10',
  '0b1',
  '1_000',
  '1,5',
  '.5',
  '5.',
  'Infinity',
  '-Infinity',
  'NaN',
  'nan',
  '99999999999999999999',
  '1000000000000',
  '1.0000000000000000001',
  '\uff12\uff15',
  '\u0662\u0665',
];
const WORDS = [
  '',
  ' ',
  'null',
  'undefined',
  'true',
  'false',
  '[]',
  '{}',
  '{"$gt":""}',
  '$where',
  '$ne',
  '$gt',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '<script>alert(1)</script>',
  "'; DROP TABLE payments; --",
  '../../etc/passwd',
  '\\',
  '"',
  '%00',
];
const HOSTILE_NUMBERS = [
  0,
  -0,
  -1,
  -1e9,
  -(2 ** 31),
  1.5,
  0.1,
  1e-7,
  Number.MIN_VALUE,
  1e21,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  2 ** 53 + 2,
  Number('123456789012345678'),
  1e12,
];
const OPERATOR_OBJECTS = (): unknown[] => [
  { $where: 'sleep(1000)' },
  { $gt: '' },
  { $ne: null },
  { $regex: '.*' },
  { $in: ['a', 'b'] },
  { $exists: true },
  { $expr: { $eq: [1, 1] } },
];
/** Built by JSON.parse so `__proto__` is an own key, exactly as express.json delivers it. */
const PROTO_OBJECTS = (): unknown[] => [
  JSON.parse('{"__proto__":{"isAdmin":true,"role":"admin"}}'),
  JSON.parse('{"constructor":{"prototype":{"isAdmin":true}}}'),
  JSON.parse('{"prototype":{"polluted":true}}'),
];

export const ONE_MB = 'x'.repeat(1 << 20);
/** Longest string placed in a URL: Node refuses request heads over 16 KB itself (431) before the app sees them. */
const URL_STRING_CAP = 8 * 1024;

export function deepObject(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
export function deepArray(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Any UTF-16 code unit, lone surrogates and NUL included. */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 24 });

/** The valid value with one odd character spliced in (or a digit swapped for a look-alike). */
function nearValid(valid: unknown): fc.Arbitrary<unknown> {
  const text = typeof valid === 'string' ? valid : typeof valid === 'number' ? String(valid) : 'valid';
  return fc.tuple(fc.constantFrom(...ODD_UNICODE), fc.nat({ max: text.length })).map(([c, at]) => text.slice(0, at) + c + text.slice(at));
}

/** Long strings: past every field limit but under the body limit, so field validation answers. */
const longStrings = (cap: number) =>
  fc
    .constantFrom(129, 257, 5_000, 90_000)
    .filter((n) => n <= cap)
    .map((n) => 'a'.repeat(n));

/** Hostile JSON values for a body field whose valid value is `valid`. */
export function hostileJson(valid: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom<unknown>(null, true, false, [], {}, [valid], { value: valid }),
    fc.constantFrom(...HOSTILE_NUMBERS),
    fc.integer({ min: -1_000_000_000, max: -1 }),
    fc.double({ noNaN: true, min: -1e300, max: 1e300 }).filter((d) => !Number.isInteger(d) || Math.abs(d) > 1e15),
    fc.constantFrom(...NUMERIC_STRINGS, ...WORDS),
    longStrings(Infinity),
    fc.constant(ONE_MB),
    fc.constantFrom(1, 50, 1_000).chain((d) => fc.constantFrom(deepObject(d), deepArray(d))),
    fc.constantFrom(...OPERATOR_OBJECTS(), ...PROTO_OBJECTS()),
    nearValid(valid),
    anyUnits,
  );
}

/** Hostile query values: strings (a URL carries nothing else) or repeated parameters (arrays). */
export function hostileQuery(valid: string): fc.Arbitrary<string | string[]> {
  const one: fc.Arbitrary<string> = fc.oneof(
    fc.constantFrom(...NUMERIC_STRINGS, ...WORDS, '[object Object]', 'a'.repeat(URL_STRING_CAP)),
    longStrings(URL_STRING_CAP),
    nearValid(valid) as fc.Arbitrary<string>,
    anyUnits,
  );
  return fc.oneof({ weight: 4, arbitrary: one }, { weight: 1, arbitrary: fc.tuple(fc.constant(valid), one).map(([a, b]) => [a, b]) });
}

/**
 * Hostile path segments. Empty, `.` and `..` segments are left out: they name another route (or
 * the parent path), not a value of this parameter. `raw` values are sent without encoding:
 * malformed percent-escapes and the UTF-8-encoded surrogate `%ED%A0%80`.
 */
export function hostilePath(valid: string): fc.Arbitrary<{ value: string; raw: boolean }> {
  const encoded: fc.Arbitrary<string> = fc.oneof(
    fc.constantFrom(...NUMERIC_STRINGS, ...WORDS, '[object Object]', 'a/b', '..%2f', 'a'.repeat(URL_STRING_CAP)),
    longStrings(URL_STRING_CAP),
    nearValid(valid) as fc.Arbitrary<string>,
    anyUnits,
  );
  return fc.oneof(
    { weight: 6, arbitrary: encoded.filter((s) => !['', '.', '..'].includes(s)).map((value) => ({ value, raw: false })) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%FF', '%C0%AF', '%ED%A0%80', `${valid}%`).map((value) => ({ value, raw: true })) },
  );
}

/** Percent-encodes a segment; a lone surrogate (which UTF-8 cannot carry) becomes the malformed `%ED%A0%80`. */
export function encodeSegment(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '%ED%A0%80';
    } else {
      out += encodeURIComponent(s[i]!);
    }
  }
  return out;
}

// ── fixed examples: every named hostile category, tried at every position before the random runs ──

const splice = (valid: unknown, c: string) => {
  const text = typeof valid === 'string' ? valid : typeof valid === 'number' ? String(valid) : 'valid';
  return text.slice(0, 1) + c + text.slice(1);
};
const NAMED_STRINGS = ['1e3', '1E-7', '-1e3', 'NaN', 'Infinity', '-1', '', ' ', '$where', '__proto__', 'constructor', 'prototype', 'toString'];

export function jsonExamples(valid: unknown): unknown[] {
  return [
    ...NAMED_STRINGS,
    -1,
    -1e9,
    1e308,
    -1e308,
    2 ** 53 + 2,
    1.5,
    1e-7,
    null,
    true,
    [],
    {},
    [valid],
    { value: valid },
    deepObject(1_000),
    deepArray(1_000),
    ...OPERATOR_OBJECTS().slice(0, 3),
    ...PROTO_OBJECTS().slice(0, 2),
    ONE_MB,
    'a'.repeat(5_000),
    ...['\u202e', '\u200b', '\ud800', '\u0000'].map((c) => splice(valid, c)),
  ];
}

export function queryExamples(valid: string): (string | string[])[] {
  return [
    ...NAMED_STRINGS,
    '99999999999',
    '[object Object]',
    'a'.repeat(URL_STRING_CAP),
    [valid, valid],
    [valid, '$ne'],
    ...['\u202e', '\u200b', '\ud800', '\u0000'].map((c) => splice(valid, c)),
  ];
}

export function pathExamples(valid: string): { value: string; raw: boolean }[] {
  return [
    ...[
      ...NAMED_STRINGS.filter((s) => s !== ''),
      '99999999999',
      'a/b',
      'a'.repeat(URL_STRING_CAP),
      ...['\u202e', '\u200b', '\ud800', '\u0000'].map((c) => splice(valid, c)),
    ].map((value) => ({ value, raw: false })),
    ...['%', '%zz', '%ED%A0%80', `${valid}%`].map((value) => ({ value, raw: true })),
  ];
}

export function bodyExamples(valid: Record<string, unknown>, strict: boolean): unknown[] {
  const poisoned = strict ? ['$where', '__proto__', 'constructor'].map((k) => poison(valid, k)) : [];
  return [[], [valid], 'a string', 42, null, deepObject(1_000), deepArray(1_000), ...OPERATOR_OBJECTS().slice(0, 3), ...PROTO_OBJECTS(), ...poisoned];
}

/** The valid object with one extra key in front; parsed from text so `__proto__` is an own key, as express.json would deliver it. */
function poison(valid: Record<string, unknown>, key: string): unknown {
  const rest = JSON.stringify(valid).slice(1, -1);
  return JSON.parse(`{${JSON.stringify(key)}:{"$ne":null}${rest ? `,${rest}` : ''}}`) as unknown;
}

/** Whole-body replacements: not an object, an array, or the valid object with one poisoned key. */
export function hostileBody(valid: Record<string, unknown>, strict: boolean): fc.Arbitrary<unknown> {
  const extraKeys = fc.constantFrom('$where', '$gt', '$ne', '__proto__', 'constructor', 'prototype', 'isAdmin', '\u202eamount', '');
  const poisoned = extraKeys.map((k) => poison(valid, k));
  return fc.oneof(
    fc.constantFrom<unknown>([], [valid], 'a string', 42, null, true),
    fc.constantFrom(deepObject(1_000), deepArray(1_000)),
    fc.constantFrom(...OPERATOR_OBJECTS(), ...PROTO_OBJECTS()),
    ...(strict ? [poisoned] : []),
  );
}
