import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOLERANCE_SECONDS, signEvent, verifyEventSignature } from '../../src/core/events/eventSignature.js';

/**
 * The signature receivers check (README, "Events out"): `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * t + "." + body)>`, one v1 per live secret. The expected values are computed here with node:crypto,
 * independently of the module; hostile headers must be refused with a reason, never by a throw.
 */

const SECRET = 'whsec_test_secret';
const OLD_SECRET = 'whsec_previous_secret';
const BODY = '{"id":"65f0c0ffee0000000000abcd","object":"event","type":"escrow.funded","created":1700000000,"data":{}}';
const T = 1_700_000_000;

/** The reference signature, written out from the README's definition. */
const reference = (secret: string, t: number, body: string | Buffer) =>
  createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)]))
    .digest('hex');

const verify = (header: string | undefined | null, over: Partial<Parameters<typeof verifyEventSignature>[0]> = {}) =>
  verifyEventSignature({ body: BODY, header, secret: SECRET, nowSeconds: T, ...over });

describe('signEvent', () => {
  it('matches a test vector computed independently with node:crypto', () => {
    const expected = reference(SECRET, T, BODY);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
    expect(signEvent(BODY, [SECRET], T)).toBe(`t=${T},v1=${expected}`);
  });

  it('writes one v1 per secret, in the order given', () => {
    expect(signEvent(BODY, [SECRET, OLD_SECRET], T)).toBe(`t=${T},v1=${reference(SECRET, T, BODY)},v1=${reference(OLD_SECRET, T, BODY)}`);
  });

  it('signs a Buffer body and the same string identically (the bytes, not their type)', () => {
    const unicode = '{"note":"café ✓ 😀"}';
    expect(signEvent(Buffer.from(unicode, 'utf8'), [SECRET], T)).toBe(signEvent(unicode, [SECRET], T));
    expect(signEvent(unicode, [SECRET], T)).toBe(`t=${T},v1=${reference(SECRET, T, unicode)}`);
  });

  it('changes with every byte of the body, the timestamp and the secret', () => {
    const base = signEvent(BODY, [SECRET], T);
    expect(signEvent(`${BODY} `, [SECRET], T)).not.toBe(base);
    expect(signEvent(BODY, [`${SECRET}x`], T).split(',')[1]).not.toBe(base.split(',')[1]);
    expect(signEvent(BODY, [SECRET], T + 1).split(',')[1]).not.toBe(base.split(',')[1]);
  });
});

describe('verifyEventSignature', () => {
  const header = `t=${T},v1=${reference(SECRET, T, BODY)}`;

  it('accepts the reference header and returns its timestamp', () => {
    expect(verify(header)).toEqual({ ok: true, timestamp: T });
    expect(verify(signEvent(BODY, [SECRET], T))).toEqual({ ok: true, timestamp: T });
  });

  it('accepts a Buffer body and the same string alike, and refuses a re-serialised body', () => {
    expect(verify(header, { body: Buffer.from(BODY) })).toEqual({ ok: true, timestamp: T });
    const reserialised = JSON.stringify(JSON.parse(BODY), null, 2);
    expect(verify(header, { body: reserialised })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verify(header, { body: Buffer.from(reserialised) })).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('refuses a wrong secret and a body changed by one byte', () => {
    expect(verify(header, { secret: OLD_SECRET })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verify(header, { body: BODY.replace('abcd', 'abce') })).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  describe('tolerance', () => {
    it(`defaults to ${DEFAULT_TOLERANCE_SECONDS} s`, () => expect(DEFAULT_TOLERANCE_SECONDS).toBe(300));

    it.each([
      ['exactly 300 s after', T + 300, true],
      ['exactly 300 s before', T - 300, true],
      ['301 s after', T + 301, false],
      ['301 s before', T - 301, false],
      ['a day after', T + 86_400, false],
    ])('a receiver clock %s the timestamp: accepted=%s', (_what, now, ok) => {
      const check = verify(header, { nowSeconds: now });
      expect(check).toEqual(ok ? { ok: true, timestamp: T } : { ok: false, reason: 'timestamp_out_of_tolerance' });
    });

    it('takes a custom tolerance on both sides', () => {
      expect(verify(header, { nowSeconds: T + 10, toleranceSeconds: 10 }).ok).toBe(true);
      expect(verify(header, { nowSeconds: T - 11, toleranceSeconds: 10 })).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
      expect(verify(header, { nowSeconds: T, toleranceSeconds: 0 }).ok).toBe(true);
      expect(verify(header, { nowSeconds: T + 1, toleranceSeconds: 0 }).ok).toBe(false);
    });

    it('uses the local clock when nowSeconds is not given', () => {
      const now = Math.floor(Date.now() / 1000);
      expect(verifyEventSignature({ body: BODY, header: signEvent(BODY, [SECRET], now), secret: SECRET }).ok).toBe(true);
      expect(verifyEventSignature({ body: BODY, header: signEvent(BODY, [SECRET], now - 3_600), secret: SECRET })).toEqual({
        ok: false,
        reason: 'timestamp_out_of_tolerance',
      });
    });

    // Found here (fixed): a tolerance that is not a number (`Number()` of an unset variable) compared
    // false with everything, so a day-old capture was accepted.
    it('refuses an old signature even when the tolerance given is NaN', () => {
      expect(verify(header, { nowSeconds: T + 86_400, toleranceSeconds: Number.NaN }).ok).toBe(false);
    });
  });

  describe('rotation: several v1 and several secrets', () => {
    const both = signEvent(BODY, [SECRET, OLD_SECRET], T);

    it('accepts a header signed with both secrets under either secret alone, and under both', () => {
      expect(verify(both, { secret: SECRET }).ok).toBe(true);
      expect(verify(both, { secret: OLD_SECRET }).ok).toBe(true);
      expect(verify(both, { secret: [OLD_SECRET, SECRET] }).ok).toBe(true);
    });

    it('accepts a header signed with one secret when the receiver holds it among others', () => {
      const onlyOld = signEvent(BODY, [OLD_SECRET], T);
      expect(verify(onlyOld, { secret: [SECRET, OLD_SECRET] }).ok).toBe(true);
      expect(verify(onlyOld, { secret: [SECRET] })).toEqual({ ok: false, reason: 'no_matching_signature' });
      expect(verify(onlyOld, { secret: [] })).toEqual({ ok: false, reason: 'no_matching_signature' });
    });

    it('finds the matching v1 wherever it is among junk ones', () => {
      const junk = `v1=${'0'.repeat(64)}`;
      expect(verify(`${junk},t=${T},${junk},v1=${reference(SECRET, T, BODY)},${junk}`).ok).toBe(true);
    });

    it('ignores unknown schemes (v0, v2) and spaces around the parts', () => {
      const sig = reference(SECRET, T, BODY);
      expect(verify(` t=${T} , v0=${sig}, v1=${sig} ,v2=abc`).ok).toBe(true);
      expect(verify(`t=${T},v0=${sig}`)).toEqual({ ok: false, reason: 'malformed_header' });
    });
  });

  describe('malformed and hostile headers: refused with a reason, never a throw', () => {
    const sig = reference(SECRET, T, BODY);

    it.each([undefined, null, ''])('no header (%j) is missing_header', (h) => {
      expect(verify(h)).toEqual({ ok: false, reason: 'missing_header' });
    });

    it.each([
      ['no t', `v1=${sig}`],
      ['no v1', `t=${T}`],
      ['a non-numeric t', `t=abc,v1=${sig}`],
      ['a negative t', `t=-${T},v1=${sig}`],
      ['a fractional t', `t=${T}.5,v1=${sig}`],
      ['an exponent t', `t=1.7e9,v1=${sig}`],
      ['a t in milliseconds (13 digits)', `t=${T}000,v1=${sig}`],
      ['an empty t', `t=,v1=${sig}`],
      ['a short v1', `t=${T},v1=${sig.slice(0, 63)}`],
      ['a long v1', `t=${T},v1=${sig}0`],
      ['an uppercase v1', `t=${T},v1=${sig.toUpperCase()}`],
      ['a non-hex v1', `t=${T},v1=${'g'.repeat(64)}`],
      ['a base64 v1', `t=${T},v1=${Buffer.from(sig, 'hex').toString('base64')}`],
      ['an empty v1', `t=${T},v1=`],
      ['only commas', ',,,,'],
      ['only equals signs', '===='],
      ['keys without values', 't,v1'],
      ['a JSON header', JSON.stringify({ t: T, v1: sig })],
      ['a NUL byte in v1', `t=${T},v1=${sig.slice(0, 63)}\u0000`],
    ])('%s is malformed_header', (_what, h) => {
      expect(verify(h)).toEqual({ ok: false, reason: 'malformed_header' });
    });

    it('a duplicate t never lets a stale signature through: whichever t is read, its own signature must match', () => {
      const stale = T - 3_600;
      const staleSig = reference(SECRET, stale, BODY);
      for (const h of [`t=${stale},v1=${staleSig},t=${T}`, `t=${T},t=${stale},v1=${staleSig}`, `t=${stale},t=${T},v1=${staleSig}`]) {
        expect(verify(h).ok, h).toBe(false);
      }
      // A duplicate whose every t is the signed one is still that signature.
      expect(verify(`t=${T},t=${T},v1=${sig}`)).toEqual({ ok: true, timestamp: T });
    });

    it('a huge header is answered quickly, without a throw', () => {
      const many = `t=${T},${Array.from({ length: 20_000 }, () => `v1=${'a'.repeat(64)}`).join(',')}`;
      const long = `t=${T},v1=${'f'.repeat(1_000_000)}`;
      const garbage = 'x'.repeat(2_000_000);
      const t0 = performance.now();
      expect(verify(many)).toEqual({ ok: false, reason: 'no_matching_signature' });
      expect(verify(long)).toEqual({ ok: false, reason: 'malformed_header' });
      expect(verify(garbage)).toEqual({ ok: false, reason: 'malformed_header' });
      expect(verify(`${many},v1=${sig}`)).toEqual({ ok: true, timestamp: T });
      expect(performance.now() - t0).toBeLessThan(2_000);
    });

    it('never throws on arbitrary headers (the constant-time compare only sees 32-byte values)', () => {
      const pieces = ['t=', 'v1=', `${T}`, sig, sig.slice(0, 10), ',', '=', ' ', 'é', '\u0000', '0x', '-', 'ff', '😀', '%00', '\n'];
      let seed = 7;
      const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
      for (let i = 0; i < 2_000; i++) {
        const h = Array.from({ length: next() % 12 }, () => pieces[next() % pieces.length]).join('');
        const check = verify(h);
        expect(['missing_header', 'malformed_header', 'timestamp_out_of_tolerance', 'no_matching_signature', undefined]).toContain(
          check.ok ? undefined : check.reason,
        );
        if (check.ok) expect(check.timestamp).toBe(T);
      }
    });

    it('an empty-string secret and a one-byte body are handled like any other', () => {
      expect(verify(signEvent('x', [''], T), { body: 'x', secret: '' })).toEqual({ ok: true, timestamp: T });
      expect(verify(signEvent('x', [''], T), { body: 'x', secret: SECRET })).toEqual({ ok: false, reason: 'no_matching_signature' });
      expect(verify(signEvent('', [SECRET], T), { body: '' })).toEqual({ ok: true, timestamp: T });
    });
  });
});
