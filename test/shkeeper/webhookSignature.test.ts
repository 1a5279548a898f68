import { describe, expect, it } from 'vitest';
import { hmacHex, verifyShkeeperSignature } from '../../src/adapters/shkeeper/webhookSignature.js';

// Vectors from shkeeper-api.md §5.2, computed there with Python's hmac.
const VECTOR_1 = { key: 'test-api-key', ts: '1700000000', body: '{"a":1}', sig: '4bb210136fbf30d46eb3ffe6741b001ae479414b583d91c9a74a10ca3677ccdf' };

describe('SHKeeper webhook signatures', () => {
  const now = Number(VECTOR_1.ts);
  const opts = { secret: VECTOR_1.key, nowSeconds: now };
  const body = Buffer.from(VECTOR_1.body);

  it('accepts the timestamped HMAC of the spec vector, with upper-case hex too', () => {
    expect(verifyShkeeperSignature({ 'x-shkeeper-timestamp': VECTOR_1.ts, 'x-shkeeper-signature': VECTOR_1.sig }, body, opts)).toEqual({
      ok: true,
      method: 'hmac_timestamp',
    });
    expect(verifyShkeeperSignature({ 'x-shkeeper-timestamp': VECTOR_1.ts, 'x-shkeeper-signature': VECTOR_1.sig.toUpperCase() }, body, opts).ok).toBe(true);
  });

  it('refuses a changed body, a changed timestamp and a stale one', () => {
    const h = { 'x-shkeeper-timestamp': VECTOR_1.ts, 'x-shkeeper-signature': VECTOR_1.sig };
    expect(verifyShkeeperSignature(h, Buffer.from('{"a":2}'), opts)).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyShkeeperSignature({ ...h, 'x-shkeeper-timestamp': String(now + 1) }, body, opts).ok).toBe(false);
    expect(verifyShkeeperSignature(h, body, { ...opts, nowSeconds: now + 301 })).toEqual({ ok: false, reason: 'timestamp outside the allowed window' });
    expect(verifyShkeeperSignature(h, body, { ...opts, nowSeconds: now - 301 }).ok).toBe(false);
    expect(verifyShkeeperSignature(h, body, { ...opts, nowSeconds: now + 300 }).ok).toBe(true);
  });

  it('accepts the body-only HMAC form of the payment API spec', () => {
    const sig = hmacHex(VECTOR_1.key, body);
    expect(verifyShkeeperSignature({ 'x-shkeeper-signature': sig }, body, opts)).toEqual({ ok: true, method: 'hmac_body' });
    expect(verifyShkeeperSignature({ 'x-shkeeper-signature': sig }, Buffer.from('{"a":1} '), opts).ok).toBe(false);
  });

  it('accepts the legacy API-key header only when enabled, and compares it exactly', () => {
    expect(verifyShkeeperSignature({ 'x-shkeeper-api-key': 'test-api-key' }, body, opts).ok).toBe(false);
    expect(verifyShkeeperSignature({ 'x-shkeeper-api-key': 'test-api-key' }, body, { ...opts, legacyApiKey: 'test-api-key' })).toEqual({
      ok: true,
      method: 'legacy_api_key',
    });
    expect(verifyShkeeperSignature({ 'x-shkeeper-api-key': 'test-api-ke' }, body, { ...opts, legacyApiKey: 'test-api-key' }).ok).toBe(false);
  });

  it('refuses a delivery with no proof, or a malformed one', () => {
    expect(verifyShkeeperSignature({}, body, opts)).toEqual({ ok: false, reason: 'missing signature' });
    expect(verifyShkeeperSignature({ 'x-shkeeper-signature': 'abc' }, body, opts).ok).toBe(false);
    expect(verifyShkeeperSignature({ 'x-shkeeper-signature': VECTOR_1.sig, 'x-shkeeper-timestamp': '17e8' }, body, opts).ok).toBe(false);
  });
});
