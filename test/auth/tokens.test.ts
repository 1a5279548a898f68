import { describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { TokenService } from '../../src/platform/auth/tokens.js';

const SECRET = 'token-test-secret-0123456789abcdef';

describe('TokenService', () => {
  it('still refuses a token once it expires, even after it was verified (and remembered)', async () => {
    const tokens = new TokenService(SECRET);
    const token = tokens.sign({ sub: 'u1' }, 1);
    expect(tokens.verify(token)).toEqual({ userId: 'u1', isAdmin: false });
    expect(tokens.verify(token)).toEqual({ userId: 'u1', isAdmin: false });
    await new Promise((r) => setTimeout(r, 1_100));
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'token_expired' }));
  });

  it('never remembers a refused token: a bad signature is refused every time', () => {
    const tokens = new TokenService(SECRET);
    const forged = jwt.sign({ sub: 'u1', role: 'admin' }, 'another-secret-0123456789abcdef', { expiresIn: 60 });
    expect(() => tokens.verify(forged)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
    expect(() => tokens.verify(forged)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });

  it('refuses a token without exp (token_without_expiry), every time', () => {
    const tokens = new TokenService(SECRET);
    const noExp = jwt.sign({ sub: 'u2', roles: ['admin'] }, SECRET, { algorithm: 'HS256' });
    expect(() => tokens.verify(noExp)).toThrow(expect.objectContaining({ kind: 'unauthorized', code: 'token_without_expiry' }));
    expect(() => tokens.verify(noExp)).toThrow(expect.objectContaining({ code: 'token_without_expiry' }));
    const noIatNoExp = jwt.sign({ sub: 'u2' }, SECRET, { algorithm: 'HS256', noTimestamp: true });
    expect(() => tokens.verify(noIatNoExp)).toThrow(expect.objectContaining({ code: 'token_without_expiry' }));
  });

  it('refuses a lifetime (exp − iat) over the maximum, and accepts one at it', () => {
    const tokens = new TokenService(SECRET, { maxLifetimeSeconds: 3600 });
    const now = Math.floor(Date.now() / 1000);
    const tooLong = jwt.sign({ sub: 'u3', iat: now, exp: now + 3601 }, SECRET, { algorithm: 'HS256' });
    expect(() => tokens.verify(tooLong)).toThrow(expect.objectContaining({ kind: 'unauthorized', code: 'token_lifetime_too_long' }));
    // Issued long ago with a long lifetime: refused even though little of it is left.
    const oldLong = jwt.sign({ sub: 'u3', iat: now - 86_000, exp: now + 600 }, SECRET, { algorithm: 'HS256' });
    expect(() => tokens.verify(oldLong)).toThrow(expect.objectContaining({ code: 'token_lifetime_too_long' }));
    const atMax = jwt.sign({ sub: 'u3', iat: now, exp: now + 3600 }, SECRET, { algorithm: 'HS256' });
    expect(tokens.verify(atMax)).toEqual({ userId: 'u3', isAdmin: false });
  });

  it('without iat, measures exp − now; an iat in the future does not stretch the lifetime', () => {
    const tokens = new TokenService(SECRET, { maxLifetimeSeconds: 3600 });
    const now = Math.floor(Date.now() / 1000);
    const noIat = (exp: number) => jwt.sign({ sub: 'u4', exp }, SECRET, { algorithm: 'HS256', noTimestamp: true });
    expect(() => tokens.verify(noIat(now + 10 * 86_400))).toThrow(expect.objectContaining({ code: 'token_lifetime_too_long' }));
    expect(tokens.verify(noIat(now + 1800))).toEqual({ userId: 'u4', isAdmin: false });
    const futureIat = jwt.sign({ sub: 'u4', iat: now + 365 * 86_400, exp: now + 365 * 86_400 + 60 }, SECRET, { algorithm: 'HS256' });
    expect(() => tokens.verify(futureIat)).toThrow(expect.objectContaining({ code: 'token_lifetime_too_long' }));
  });

  it('defaults the maximum to 86400 seconds and never signs beyond it', () => {
    const tokens = new TokenService(SECRET);
    expect(tokens.maxLifetimeSeconds).toBe(86_400);
    expect(tokens.verify(tokens.sign({ sub: 'u5' }, 86_400))).toEqual({ userId: 'u5', isAdmin: false });
    expect(() => tokens.sign({ sub: 'u5' }, 86_401)).toThrow(RangeError);
    expect(() => tokens.sign({ sub: 'u5' }, 0)).toThrow(RangeError);
  });

  it('checks validity before lifetime: a forged token without exp is invalid_token, not a lifetime problem', () => {
    const tokens = new TokenService(SECRET);
    const forged = jwt.sign({ sub: 'u1' }, 'another-secret-0123456789abcdef', { algorithm: 'HS256' });
    expect(() => tokens.verify(forged)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});
