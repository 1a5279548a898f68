/**
 * Text a database can store exactly as sent. MongoDB stores strings as UTF-8 (BSON), so a lone
 * UTF-16 surrogate (half of a pair, which JSON's `\ud800` escape can produce) would be replaced by
 * U+FFFD there and kept as sent by the in-process store; and a key is a C string, so it cannot
 * hold NUL. Both are refused at the edge so every store keeps what the client sent.
 * Source: BSON spec (bsonspec.org: `string` is UTF-8, `e_name` is a `cstring`).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` is well-formed UTF-16 (no lone surrogate). */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** True when `key` can be a stored field name: well-formed, without NUL. */
export function isStorableKey(key: string): boolean {
  return !key.includes('\u0000') && isWellFormedText(key);
}
