import { describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { TokenService } from '../../src/auth/tokens.js';

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

  it('re-verifies tokens without an expiry instead of keeping them', () => {
    const tokens = new TokenService(SECRET);
    const noExp = jwt.sign({ sub: 'u2', roles: ['admin'] }, SECRET, { algorithm: 'HS256' });
    expect(tokens.verify(noExp)).toEqual({ userId: 'u2', isAdmin: true });
    expect(tokens.verify(noExp)).toEqual({ userId: 'u2', isAdmin: true });
  });
});
