import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature on every event this service sends, in Stripe's form so receivers can use familiar
 * code (Stripe, "Check the webhook signatures"): the header
 *   `Escrow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`
 * with one `v1` per live secret of the endpoint (two during a rotation). The body is the exact
 * bytes sent; never re-serialise the JSON before checking.
 */
export const SIGNATURE_HEADER = 'Escrow-Signature';

/** How far a signature's timestamp may be from the receiver's clock, by default: five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** hex HMAC-SHA256 of `t.body` under `secret` (the secret's UTF-8 bytes are the key). */
function hmac(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value for `body` signed at `timestamp` (unix seconds) with each of `secrets`. */
export function signEvent(body: string | Buffer, secrets: readonly string[], timestamp: number): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmac(s, timestamp, body)}`)].join(',');
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing_header' | 'body_not_raw' | 'malformed_header' | 'timestamp_out_of_tolerance' | 'no_matching_signature' };

/**
 * For receivers: checks an `Escrow-Signature` header against the raw body.
 *
 * - `body`: the request body exactly as received (a Buffer or the raw string), not parsed JSON.
 * - `header`: the `Escrow-Signature` header value.
 * - `secret`: the endpoint's secret, or several (during a rotation, either may sign).
 * - `toleranceSeconds`: the largest accepted |now − t| (default 300): a captured delivery cannot
 *   be replayed after it. `nowSeconds` defaults to the local clock.
 *
 * Returns `{ ok: true, timestamp }` when any `v1` matches any secret (compared in constant time),
 * else `{ ok: false, reason }` (`body_not_raw` for parsed JSON; a tolerance that is not a finite
 * number ≥ 0 refuses every signature). Never throws on a hostile header.
 */
export function verifyEventSignature(opts: {
  body: string | Buffer;
  header: string | undefined | null;
  secret: string | readonly string[];
  toleranceSeconds?: number;
  nowSeconds?: number;
}): SignatureCheck {
  if (!opts.header) return { ok: false, reason: 'missing_header' };
  if (typeof opts.body !== 'string' && !Buffer.isBuffer(opts.body)) return { ok: false, reason: 'body_not_raw' };
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  // A tolerance or clock that is not a number (an unset setting read with Number()) must not turn the check off.
  if (!Number.isFinite(tolerance) || tolerance < 0 || !Number.isFinite(now)) return { ok: false, reason: 'timestamp_out_of_tolerance' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of opts.header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed_header' };
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: 'timestamp_out_of_tolerance' };
  const secrets = typeof opts.secret === 'string' ? [opts.secret] : opts.secret;
  for (const secret of secrets) {
    const expected = Buffer.from(hmac(secret, timestamp, opts.body), 'hex');
    if (signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected))) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'no_matching_signature' };
}
