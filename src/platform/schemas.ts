import { getAddress } from 'ethers';
import { z } from 'zod';
import { decimalFromJsonNumber, isAmountString, isPositiveDecimal, normalizeDecimal } from './money.js';
import { isObjectId } from './ids.js';
import { isStorableKey } from './text.js';

/** Building blocks for the per-endpoint schemas. Each one rejects rather than coerces. */

export const objectIdSchema = z.string().refine(isObjectId, 'must be a 24-character hex id');

export const userId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:@-]+$/, 'may contain letters, digits and _ . : @ - only');

export const currencyCode = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]{1,9}$/, 'must be a currency code such as USDT')
  .transform((v) => v.toUpperCase());

/**
 * A positive amount, given as a decimal string ("12.50") or a JSON number that a float holds
 * exactly (≤ 15 significant digits, no exponent). Output: the normalised decimal string.
 */
export const decimalAmount = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = typeof v === 'number' ? decimalFromJsonNumber(v) : isAmountString(v) ? v : undefined;
  if (s === undefined || !isPositiveDecimal(s)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must be a positive decimal amount below 10^12 with at most 18 decimals, given as a string ("12.5") ' +
        'or a plain JSON number with at most 15 significant digits',
    });
    return z.NEVER;
  }
  return normalizeDecimal(s);
});

export const evmAddressSchema = z.string().transform((v, ctx) => {
  try {
    return getAddress(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an EVM address (0x + 40 hex)' });
    return z.NEVER;
  }
});

export const txHashSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte transaction hash')
  .transform((v) => v.toLowerCase());

// `_bsontype` makes the MongoDB driver read a plain object as a BSON value (Code, ObjectId…).
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype', '_bsontype']);
const MAX_DEPTH = 6;
const MAX_METADATA_BYTES = 16 * 1024;

function checkJson(value: unknown, depth: number, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (depth > MAX_DEPTH) {
    ctx.addIssue({ code: 'custom', message: `nested deeper than ${MAX_DEPTH} levels`, path });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(v, depth + 1, [...path, i], ctx));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('$') || k.includes('.') || FORBIDDEN_KEYS.has(k) || k.length === 0 || k.length > 64 || !isStorableKey(k)) {
        ctx.addIssue({ code: 'custom', message: `key "${k.slice(0, 64)}" is not allowed`, path });
        return;
      }
      checkJson(v, depth + 1, [...path, k], ctx);
    }
  } else if (typeof value === 'number' && !Number.isFinite(value)) {
    ctx.addIssue({ code: 'custom', message: 'numbers must be finite', path });
  }
}

/** Free-form client metadata: plain JSON, bounded in size and depth, no keys a query could read as operators. */
export const metadataSchema = z
  // Checked as sent: a record schema would copy the object and silently drop a `__proto__` key.
  .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object')
  .superRefine((value, ctx) => {
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
      ctx.addIssue({ code: 'custom', message: 'must be a plain object' });
      return;
    }
    if (Buffer.byteLength(JSON.stringify(value)) > MAX_METADATA_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must serialise to at most ${MAX_METADATA_BYTES} bytes` });
      return;
    }
    checkJson(value, 1, [], ctx);
  });

export const networkSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{2,32}$/, 'must be a network name such as bsc')
  .transform((v) => v.toLowerCase());

export const tokenSchema = z.string().regex(/^[A-Za-z0-9_-]{2,64}$|^0x[0-9a-fA-F]{40}$/, 'must be a token symbol or contract address');

/** Query-string integers: digits only, so "1e3", "-1" and " 5" are refused instead of coerced. */
export const queryInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? fallback);

/** A route's `:id` parameter; its format is checked by the route, which passes non-ids on. */
export const idParams = z.object({ id: z.string() });
