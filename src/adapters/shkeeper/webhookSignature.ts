import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Proof that a delivery came from SHKeeper, checked on the raw bytes before anything is parsed.
 * - SHKeeper ≥ 2.5.16: `X-Shkeeper-Timestamp` + `X-Shkeeper-Signature` = hex HMAC-SHA256 of
 *   `timestamp + "." + rawBody`, rejected outside ±300 s.
 * - The payment API spec's form: `x-shkeeper-signature` = hex HMAC-SHA256 of the raw body alone.
 * - Older SHKeeper: only `X-Shkeeper-Api-Key`, the secret itself in plain text; accepted only
 *   when a setting allows it (and never for payout callbacks, which do not carry it).
 */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export type VerificationMethod = 'hmac_timestamp' | 'hmac_body' | 'legacy_api_key';
export type VerificationResult = { ok: true; method: VerificationMethod } | { ok: false; reason: string };

export interface SignatureOptions {
  secret: string;
  /** The API key, for the legacy header; undefined disables it. */
  legacyApiKey?: string;
  nowSeconds: number;
}

type Headers = Record<string, string | string[] | undefined>;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

export function hmacHex(secret: string, ...parts: (string | Buffer)[]): string {
  return hmac(secret, parts).toString('hex');
}

function hmac(secret: string, parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest();
}

/**
 * A signature (64 lowercase hex digits, checked by the caller) against the HMAC of `parts`, in
 * constant time. Both sides are 32 bytes, so nothing about the length is there to leak and the
 * digests are compared as they are (hashing them again, as `safeEqual` does for a secret of any
 * length, cost two more hash objects per delivery).
 */
function signatureMatches(signatureHex: string, secret: string, parts: (string | Buffer)[]): boolean {
  return timingSafeEqual(Buffer.from(signatureHex, 'hex'), hmac(secret, parts));
}

/** Constant-time comparison that does not leak the length either (both sides are hashed first). */
function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function verifyShkeeperSignature(headers: Headers, rawBody: Buffer, opts: SignatureOptions): VerificationResult {
  const signature = header(headers, 'x-shkeeper-signature')?.trim().toLowerCase();
  const timestamp = header(headers, 'x-shkeeper-timestamp')?.trim();

  if (signature !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed signature' };
    if (timestamp !== undefined) {
      if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
      if (Math.abs(opts.nowSeconds - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
        return { ok: false, reason: 'timestamp outside the allowed window' };
      }
      return signatureMatches(signature, opts.secret, [`${timestamp}.`, rawBody])
        ? { ok: true, method: 'hmac_timestamp' }
        : { ok: false, reason: 'signature mismatch' };
    }
    return signatureMatches(signature, opts.secret, [rawBody]) ? { ok: true, method: 'hmac_body' } : { ok: false, reason: 'signature mismatch' };
  }

  const apiKey = header(headers, 'x-shkeeper-api-key');
  if (apiKey !== undefined) {
    if (opts.legacyApiKey === undefined) return { ok: false, reason: 'unsigned delivery (legacy API-key header is not accepted)' };
    return safeEqual(apiKey, opts.legacyApiKey) ? { ok: true, method: 'legacy_api_key' } : { ok: false, reason: 'bad API key' };
  }
  return { ok: false, reason: 'missing signature' };
}
